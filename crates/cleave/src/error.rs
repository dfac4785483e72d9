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
    /// Creating, configuring, freezing, killing or removing a cgroup failed.
    #[error("cgroup: {what} ({})", errno_text(.source))]
    Cgroup {
        /// What was being done, naming the file ("failed to write \"1\" to /sys/fs/cgroup/...").
        what: String,
        /// Why.
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
            | Error::Cgroup { source, .. } => source.raw_os_error(),
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

/// `text` as quoted in a one-line message: control characters (a newline, a terminal escape)
/// and Unicode line or paragraph separators are shown escaped (`\n`, `\u{1b}`), so that
/// whatever a caller passed in, an error stays one line and prints nothing but text.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod one_line_tests {
    use super::one_line;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(one_line("user,pid"), "user,pid");
        assert_eq!(one_line("a\nb\r\t\u{1b}[2J"), "a\\nb\\r\\t\\u{1b}[2J");
        assert_eq!(one_line("\u{85}\u{2028}é"), "\\u{85}\\u{2028}é");
    }
}
