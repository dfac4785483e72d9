//! The library's one error type, with advice for the common errnos.
use crate::flags::rules::{errno_name, Interface, Violation};
use crate::flags::{CloneFlags, ParseError};
use std::io;

/// Everything that can go wrong while creating or managing a child.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request breaks kernel rules; nothing was attempted.
    #[error("invalid clone request {flags}: {}", list(.violations))]
    InvalidRequest {
        /// The flags asked for.
        flags: CloneFlags,
        /// Every broken rule, in the kernel's check order.
        violations: Vec<Violation>,
    },
    /// A flag expression could not be read.
    #[error(transparent)]
    ParseFlags(#[from] ParseError),
    /// An argument the library cannot pass on (say why in `what`).
    #[error("invalid argument: {what}")]
    InvalidArgument {
        /// What was wrong and how to fix it.
        what: String,
    },
    /// The kernel refused the clone.
    #[error("{} failed for flags {flags} ({})", interface_name(*.interface), errno_text(.source))]
    Clone {
        /// The flags passed.
        flags: CloneFlags,
        /// clone3 or legacy clone.
        interface: Interface,
        /// The kernel's errno.
        source: io::Error,
    },
    /// A feature needs clone3, and clone3 is unavailable (ENOSYS, e.g. a seccomp policy).
    #[error("{what} needs clone3, which this system refuses (ENOSYS)")]
    NeedsClone3 {
        /// The feature.
        what: String,
    },
    /// The program could not be executed.
    #[error("failed to execute `{program}` ({})", errno_text(.source))]
    Exec {
        /// The program as given.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// A setup step in the child failed before exec.
    #[error("child setup failed: {step} ({})", errno_text(.source))]
    ChildSetup {
        /// The step, described.
        step: String,
        /// Why.
        source: io::Error,
    },
    /// A parent-side preparation failed (stack, report channel, fd duplication).
    #[error("failed to {what} ({})", errno_text(.source))]
    Prepare {
        /// What the parent was doing.
        what: String,
        /// Why.
        source: io::Error,
    },
    /// Waiting for a child failed.
    #[error("failed to wait for process {pid} ({})", errno_text(.source))]
    Wait {
        /// The child.
        pid: i32,
        /// Why.
        source: io::Error,
    },
    /// The child cannot be waited for by this process.
    #[error("process {pid} cannot be waited for here: {why}")]
    NotWaitable {
        /// The child.
        pid: i32,
        /// Why.
        why: &'static str,
    },
    /// Sending a signal failed.
    #[error("failed to send signal {signal} to process {pid} ({})", errno_text(.source))]
    Signal {
        /// The child.
        pid: i32,
        /// The signal.
        signal: i32,
        /// Why.
        source: io::Error,
    },
    /// Writing a new user namespace's id maps failed.
    #[error("id map: {what}")]
    IdMap {
        /// What was written, where, and by whom.
        what: String,
        /// Why.
        source: io::Error,
    },
    /// A safe fork-like spawn was asked from a multi-threaded process.
    #[error("refusing a fork-like child from a multi-threaded process: another thread may hold a lock the child needs")]
    MultiThreaded,
    /// Reading what two processes share failed (the process is gone, or /proc refused).
    #[error("failed to inspect process {pid}: {what} ({})", errno_text(.source))]
    Inspect {
        /// The process.
        pid: i32,
        /// What was being read.
        what: String,
        /// Why.
        source: io::Error,
    },
    /// Joining a running process's namespaces, cgroup, root or cwd failed.
    #[error("failed to {what} ({})", errno_text(.source))]
    Enter {
        /// The step, described ("join the namespaces of process 42 (uts, net)").
        what: String,
        /// Why.
        source: io::Error,
    },
    /// The program cannot be given a running process's security context (capabilities,
    /// ids, groups, no_new_privs, seccomp filters), so it is not started.
    #[error("cannot give the program the security context of process {pid}: {what} ({})", errno_text(.source))]
    EnterContext {
        /// The process whose context was asked for.
        pid: i32,
        /// What could not be taken, and why.
        what: String,
        /// The errno behind it.
        source: io::Error,
    },
    /// Creating, configuring, freezing, killing or removing a cgroup failed.
    #[error("cgroup: {what} ({})", errno_text(.source))]
    Cgroup {
        /// What was being done, naming the file ("failed to write \"1\" to /sys/fs/cgroup/...").
        what: String,
        /// Why.
        source: io::Error,
    },
    /// A cgroup path that cannot name a set's directories; nothing was created.
    #[error("cgroup path {path:?}: {why}")]
    CgroupPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        why: crate::cgroup::CgroupPathError,
    },
    /// A container id that cannot name a state directory; nothing was touched.
    #[error("container id {}: {why}", quote_prefix(.id.as_bytes()))]
    ContainerId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        why: crate::container::IdError,
    },
    /// A container's state on disk could not be created, locked, read, written or removed.
    #[error("container {id}: failed to {op} {} ({})", .path.display(), errno_text(.source))]
    ContainerState {
        /// The container.
        id: String,
        /// What was being done.
        op: crate::container::StateOp,
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why (`ENOENT` when there is no such container, `EEXIST` when the id is taken).
        source: io::Error,
    },
}

fn list(v: &[Violation]) -> String {
    v.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn interface_name(i: Interface) -> &'static str {
    match i {
        Interface::Clone3 => "clone3",
        Interface::Legacy => "clone",
    }
}

/// `EPERM: Operation not permitted`.
pub(crate) fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let full = io::Error::from_raw_os_error(n).to_string();
            let plain = full.split(" (os error").next().unwrap_or(&full).to_string();
            format!("{}: {}", errno_name(n), plain)
        }
        None => e.to_string(),
    }
}

impl Error {
    /// The errno behind the error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::InvalidRequest { violations, .. } => violations.first().map(|v| v.errno),
            Error::Clone { source, .. }
            | Error::Exec { source, .. }
            | Error::ChildSetup { source, .. }
            | Error::Prepare { source, .. }
            | Error::IdMap { source, .. }
            | Error::Wait { source, .. }
            | Error::Signal { source, .. }
            | Error::Inspect { source, .. }
            | Error::Enter { source, .. }
            | Error::EnterContext { source, .. }
            | Error::Cgroup { source, .. }
            | Error::ContainerState { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// Advice for the common causes, or `None`.
    pub fn hint(&self) -> Option<String> {
        let errno = self.errno()?;
        match self {
            Error::Clone { flags, .. } | Error::InvalidRequest { flags, .. } => {
                clone_hint(*flags, errno)
            }
            Error::Exec { program, .. } => match errno {
                libc::ENOENT if program.contains('/') => {
                    Some(format!("check that `{program}` exists (inside the new root, if one was set)"))
                }
                libc::ENOENT => Some(format!(
                    "`{program}` is not in PATH; give a path such as /usr/bin/{program}"
                )),
                libc::EACCES => Some(
                    "the file is not executable, a directory on its path is not searchable, or its filesystem is mounted noexec".into(),
                ),
                libc::ENOEXEC => Some("the file is not an executable this kernel can run; scripts need a #! line".into()),
                _ => None,
            },
            Error::ChildSetup { step, .. } => setup_hint(step, errno),
            Error::Enter { .. } | Error::Inspect { .. } => enter_hint(errno),
            Error::Cgroup { .. } => cgroup_hint(errno),
            Error::EnterContext { .. } => match errno {
                libc::EPERM | libc::EACCES => Some("copying another process's seccomp filters needs CAP_SYS_ADMIN and ptrace access to it, and taking its supplementary groups needs CAP_SETGID: run as root, or start the program with the caller's own privileges instead".into()),
                _ => None,
            },
            _ => None,
        }
    }
}

fn setup_hint(step: &str, errno: i32) -> Option<String> {
    Some(match errno {
        libc::EPERM if step.contains("procfs") || step.starts_with("--proc") => "a procfs can be mounted only for a PID namespace owned by the sandbox's user namespace: add pid to --new (and, on a host whose /proc has parts hidden by overmounts, the kernel refuses it anyway)".into(),
        libc::EPERM | libc::EACCES if step.contains("uid_map") || step.contains("gid_map") => "the kernel refused the id map: an unprivileged caller may map only its own ids (use --map-auto for ranges from /etc/subuid)".into(),
        libc::EROFS => "the destination is on a read-only filesystem: mount a --tmpfs over its parent first".into(),
        libc::ENOENT if step.starts_with("--chdir") => "the directory does not exist inside the sandbox (paths are inside the new root)".into(),
        _ => return None,
    })
}

fn cgroup_hint(errno: i32) -> Option<String> {
    Some(match errno {
        libc::EACCES | libc::EPERM | libc::EROFS => "creating cgroups needs root or a delegated cgroup: pass --cgroup-parent DIR, a cgroup2 directory you own (e.g. the one of `systemd-run --user -p Delegate=yes --scope ...`); cgroup v1 controllers cannot be delegated".into(),
        libc::EBUSY => "the cgroup still holds processes: a cgroup2 parent with processes cannot enable controllers for its children (no internal processes rule) — move them into a leaf cgroup first; or a process did not exit yet".into(),
        libc::ENOENT => "the controller or file is missing: check /proc/cgroups and the parent's cgroup.controllers and cgroup.subtree_control".into(),
        _ => return None,
    })
}

fn clone_hint(flags: CloneFlags, errno: i32) -> Option<String> {
    let namespaces = CloneFlags::ALL_NAMESPACES.difference(CloneFlags::NEWUSER);
    Some(match errno {
        libc::EPERM if flags.contains(CloneFlags::NEWUSER) => "user namespaces are refused: check /proc/sys/user/max_user_namespaces and /proc/sys/kernel/unprivileged_userns_clone (or an AppArmor userns policy), and that the caller is not chrooted and its uid/gid are mapped".into(),
        libc::EPERM if flags.intersects(namespaces) => "unprivileged: add user to --new (CLONE_NEWUSER), which grants the capabilities the other namespaces need".into(),
        libc::EPERM => "the caller lacks a needed capability (set_tid needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE)".into(),
        libc::ENOSPC | libc::EUSERS => "a namespace limit was reached: see /proc/sys/user/max_*_namespaces and the nesting depth (32 levels)".into(),
        libc::EINVAL => format!("run `cleave explain '{flags}'` to see which rule this kernel enforces"),
        libc::EEXIST => "a PID in set_tid is already in use in its namespace".into(),
        libc::ENOMEM => "out of memory, or the target PID namespace's init has exited".into(),
        libc::EBADF if flags.contains(CloneFlags::INTO_CGROUP) => "the cgroup must be a directory of a cgroup2 hierarchy (not cgroup v1)".into(),
        libc::EBUSY if flags.contains(CloneFlags::INTO_CGROUP) => "the target cgroup enables domain controllers in cgroup.subtree_control (no internal processes rule)".into(),
        libc::EACCES if flags.contains(CloneFlags::INTO_CGROUP) => "no permission to write the target cgroup's cgroup.procs (cgroup delegation)".into(),
        libc::EAGAIN => "too many processes: RLIMIT_NPROC or a pids cgroup limit was reached".into(),
        _ => return None,
    })
}

fn enter_hint(errno: i32) -> Option<String> {
    Some(match errno {
        libc::EPERM | libc::EACCES => "joining another user's namespaces needs root or CAP_SYS_ADMIN in them (and reading another user's /proc entries needs ptrace access: run as root or the same user)".into(),
        libc::ESRCH | libc::ENOENT => "the process has exited: check the PID with `ps`".into(),
        _ => return None,
    })
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A value outside what the kernel accepts, found before anything was created. Its words
/// are the kernel's, never a front end's: a front end names the value its own way with
/// [`RangeError::named`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value}: {why}")]
pub struct RangeError {
    /// What the value is ("hostname", "CLOCK_MONOTONIC offset", "set_tid PID").
    pub what: &'static str,
    /// The value as given; long text is cut to a short quoted prefix.
    pub value: String,
    /// What is wrong with it, and the valid range.
    pub why: String,
}

impl RangeError {
    pub(crate) fn new(what: &'static str, value: impl ToString, why: impl Into<String>) -> Self {
        RangeError {
            what,
            value: value.to_string(),
            why: why.into(),
        }
    }

    /// The message with `name` (say, a command-line option) in place of [`RangeError::what`].
    pub fn named(&self, name: &str) -> String {
        format!("{name} {}: {}", self.value, self.why)
    }
}

impl From<RangeError> for Error {
    fn from(e: RangeError) -> Error {
        Error::InvalidArgument {
            what: e.to_string(),
        }
    }
}

/// The most characters of a text value an error message quotes.
pub const QUOTED_PREFIX: usize = 20;

/// `bytes` as a quoted string for a message: at most [`QUOTED_PREFIX`] characters, then `…`
/// when there was more.
pub fn quote_prefix(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTED_PREFIX).collect();
    if chars.next().is_some() {
        format!("{:?}", format!("{head}…"))
    } else {
        format!("{head:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_prefixes_are_short() {
        assert_eq!(quote_prefix(b"box"), "\"box\"");
        let long = vec![b'a'; 70_000];
        assert_eq!(quote_prefix(&long), format!("\"{}…\"", "a".repeat(20)));
        assert_eq!(quote_prefix(b"a\0b"), "\"a\\0b\"");
        let e = RangeError::new("hostname", quote_prefix(&long), "too long");
        assert_eq!(
            e.named("--hostname"),
            format!("--hostname \"{}…\": too long", "a".repeat(20))
        );
        assert!(Error::from(e)
            .to_string()
            .starts_with("invalid argument: hostname \"aaaa"));
    }
}
