//! The three builders: [`Command`] (a program), [`Fork`] (a Rust closure in a process of its
//! own) and [`Task`] (a thread-like body sharing the address space). Setters record intent
//! and never fail; `spawn()` validates against the kernel's rules, then clones.
mod command;
mod fork;
mod report;
mod stdio;
mod task;

pub(crate) use command::AfterClone;
pub use command::{set_program_default_signals, Addition, AdditionReason, Command};
pub use fork::Fork;
pub use stdio::Stdio;
pub use task::{Task, TaskHandle};

use crate::child::Reaper;
use crate::error::{Error, RangeError, RequestProblem, Result};
use crate::flags::rules::{self, Interface, Request};
use crate::flags::{check_set_tid, CloneFlags};
use crate::host;
use crate::raw::{self, CloneArgs};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// What every builder records about the clone itself.
#[derive(Debug, Default)]
pub(crate) struct CloneSpec {
    pub flags: CloneFlags,
    pub exit_signal: Option<i32>,
    pub set_tid: Vec<i32>,
    pub cgroup: Option<OwnedFd>,
    pub tls: u64,
    pub unchecked: bool,
}

impl CloneSpec {
    /// SIGCHLD, unless the child is a thread or a CLONE_PARENT child (clone3 refuses a
    /// signal for those; the kernel decides what the parent is told).
    pub fn exit_signal_for(&self, flags: CloneFlags) -> i32 {
        self.exit_signal.unwrap_or(
            if flags.intersects(CloneFlags::THREAD | CloneFlags::PARENT) {
                0
            } else {
                libc::SIGCHLD
            },
        )
    }

    /// `flags` plus CLONE_PIDFD where cleave adds it (see [`pidfd_by_default`]); unchanged
    /// when `unchecked`.
    pub fn with_default_pidfd(&self, flags: CloneFlags) -> CloneFlags {
        if !self.unchecked && pidfd_by_default(flags, raw::clone3_unavailable()) {
            flags | CloneFlags::PIDFD
        } else {
            flags
        }
    }

    /// Replaces the flags; CLONE_INTO_CGROUP stays while a cgroup is given (into_cgroup
    /// may come before or after).
    pub fn set_flags(&mut self, flags: CloneFlags) {
        self.flags = flags;
        if self.cgroup.is_some() {
            self.flags |= CloneFlags::INTO_CGROUP;
        }
    }

    pub fn set_into_cgroup(&mut self, dir: impl AsFd) -> std::io::Result<()> {
        self.cgroup = Some(dir.as_fd().try_clone_to_owned()?);
        self.flags |= CloneFlags::INTO_CGROUP;
        Ok(())
    }

    /// The set_tid PIDs are ones the kernel can give (checked even when `unchecked`: they
    /// are values, not flags).
    pub fn check_set_tid(&self, flags: CloneFlags) -> Result<(), RangeError> {
        if self.set_tid.is_empty() {
            return Ok(());
        }
        check_set_tid(
            &self.set_tid,
            flags.contains(CloneFlags::NEWPID),
            host::pid_max(),
        )
    }

    /// Checks the request against every rule unless `unchecked` (which hands it to the
    /// kernel untouched).
    pub fn validate(&self, flags: CloneFlags, exit_signal: i32) -> Result<()> {
        self.validate_reading(flags, exit_signal, true)
    }

    /// [`CloneSpec::validate`] but for the rules only a refused clone can break: that the
    /// caller's children are born in another PID namespace (after unshare(CLONE_NEWPID) or
    /// setns), which refuses CLONE_NEWPID and CLONE_THREAD (C9, C10), takes two lookups
    /// under /proc/self/ns that every sandbox would pay for; the kernel answers EINVAL
    /// then, and [`CloneSpec::explain_einval`] names the rule.
    pub fn validate_lazily(&self, flags: CloneFlags, exit_signal: i32) -> Result<()> {
        self.validate_reading(flags, exit_signal, false)
    }

    /// The error for a clone that the kernel refused with EINVAL after
    /// [`CloneSpec::validate_lazily`] passed: the broken rules, read now, if any.
    pub fn explain_einval(&self, flags: CloneFlags, exit_signal: i32) -> Option<Error> {
        self.validate(flags, exit_signal).err()
    }

    fn validate_reading(&self, flags: CloneFlags, exit_signal: i32, pid_ns: bool) -> Result<()> {
        self.check_set_tid(flags)?;
        if self.unchecked {
            return Ok(());
        }
        let request = Request {
            flags,
            exit_signal,
            interface: raw::preferred_interface(),
            set_tid_len: self.set_tid.len(),
        };
        if raw::clone3_unavailable() && flags.intersects(CloneFlags::CLONE3_ONLY) {
            return Err(Error::NeedsClone3 {
                what: (flags & CloneFlags::CLONE3_ONLY).to_string(),
            });
        }
        if flags.contains(CloneFlags::INTO_CGROUP) && self.cgroup.is_none() {
            return Err(RequestProblem::IntoCgroupWithoutCgroup.into());
        }
        let mut needs = rules::Needs::of(&request);
        needs.pid_ns_for_children &= pid_ns;
        let violations = rules::check(&request, &host::context_for(needs));
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidRequest { flags, violations })
        }
    }

    /// The clone_args for `flags`; pointers are filled in by the caller.
    pub fn args(&self, flags: CloneFlags, exit_signal: i32) -> CloneArgs {
        CloneArgs {
            flags: flags.bits(),
            exit_signal: exit_signal as u64,
            tls: self.tls,
            set_tid: if self.set_tid.is_empty() {
                0
            } else {
                self.set_tid.as_ptr() as u64
            },
            set_tid_size: self.set_tid.len() as u64,
            cgroup: self.cgroup.as_ref().map_or(0, |f| f.as_raw_fd() as u64),
            ..CloneArgs::default()
        }
    }
}

/// Whether cleave asks for a pidfd (CLONE_PIDFD) for a child made with `flags`: always,
/// unless this kernel cannot give one with them. A pidfd waits and signals without the race
/// of a recycled PID, and it is the only way to await the end of a child this process does
/// not reap (CLONE_PARENT, CLONE_THREAD). The kernel refuses it:
/// * before Linux 5.4 here (5.2 has CLONE_PIDFD, but waitid(P_PIDFD) came in 5.4);
/// * with CLONE_THREAD before Linux 6.9;
/// * through legacy clone() (`legacy`: clone3 is unavailable) with CLONE_PARENT_SETTID, whose
///   pointer carries the pidfd there, or with CLONE_DETACHED.
pub(crate) fn pidfd_by_default(flags: CloneFlags, legacy: bool) -> bool {
    let kernel = crate::host::kernel_version();
    let legacy_conflict =
        legacy && flags.intersects(CloneFlags::PARENT_SETTID | CloneFlags::DETACHED);
    kernel >= (5, 4) && !legacy_conflict && !(flags.contains(CloneFlags::THREAD) && kernel < (6, 9))
}

/// Who reaps a child made with `flags`.
pub(crate) fn reaper_for(flags: CloneFlags) -> Reaper {
    if flags.contains(CloneFlags::THREAD) {
        Reaper::ThreadGroup
    } else if flags.contains(CloneFlags::PARENT) {
        Reaper::CallersParent
    } else {
        Reaper::Caller
    }
}

pub(crate) fn clone_error(flags: CloneFlags, interface: Interface, errno: i32) -> Error {
    Error::Clone {
        flags,
        interface,
        source: std::io::Error::from_raw_os_error(errno),
    }
}

/// Takes ownership of the fd the kernel wrote for CLONE_PIDFD.
pub(crate) fn owned_pidfd(flags: CloneFlags, raw: i32) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    (flags.contains(CloneFlags::PIDFD) && raw >= 0).then(|| {
        #[allow(unsafe_code)]
        // SAFETY: the kernel created this fd for us with CLONE_PIDFD and nobody else owns it.
        unsafe {
            OwnedFd::from_raw_fd(raw)
        }
    })
}
