//! [`Running`]: a started sandbox, and what cleave removes once it has ended.
use crate::cgroup::CgroupSet;
use crate::child::{Child, ExitStatus};
use crate::error::{Error, Result};
use crate::flags::CloneFlags;
use crate::spawn::Addition;

/// A running sandbox.
#[derive(Debug)]
pub struct Running {
    child: Child,
    cgroup: Option<CgroupSet>,
    flags: CloneFlags,
    additions: Vec<Addition>,
    unshared: CloneFlags,
    cleanup_error: Option<Error>,
}

impl Running {
    pub(crate) fn new(
        child: Child,
        cgroup: Option<CgroupSet>,
        flags: CloneFlags,
        additions: Vec<Addition>,
        unshared: CloneFlags,
    ) -> Running {
        Running {
            child,
            cgroup,
            flags,
            additions,
            unshared,
            cleanup_error: None,
        }
    }

    /// The process cleave started (the init, when the sandbox has one), as the caller sees it.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its PID in the caller's PID namespace.
    pub fn id(&self) -> i32 {
        self.child.id()
    }

    /// The flags the child was created with, cleave's additions included.
    pub fn flags(&self) -> CloneFlags {
        self.flags
    }

    /// What cleave added to the flags the sandbox asked for, and why (see
    /// [`Command::additions`](crate::Command::additions)).
    pub fn additions(&self) -> &[Addition] {
        &self.additions
    }

    /// The namespaces the child unshares itself after clone (a time namespace, whose
    /// offsets must be written before anything enters it), which [`Running::flags`] leaves
    /// out.
    pub fn unshared(&self) -> CloneFlags {
        self.unshared
    }

    /// The sandbox's cgroups, when it has limits: freeze, thaw, kill.
    pub fn cgroup(&self) -> Option<&CgroupSet> {
        self.cgroup.as_ref()
    }

    /// Waits for the sandbox to end, then removes what cleave made for it (its cgroups,
    /// after killing anything the program left running in them).
    pub fn wait(&mut self) -> Result<ExitStatus> {
        let status = self.child.wait()?;
        if let Some(set) = self.cgroup.take() {
            // The program's status stands even if cleaning up fails: the failure is kept
            // for cleanup_error().
            self.cleanup_error = set.remove().err();
        }
        Ok(status)
    }

    /// What went wrong removing the sandbox's cgroups after [`Running::wait`], if anything.
    pub fn cleanup_error(&self) -> Option<&Error> {
        self.cleanup_error.as_ref()
    }
}
