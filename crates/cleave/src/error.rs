//! The library's one error type, with advice for the common errnos.
use crate::flags::rules::{errno_name, Interface, Violation};
use crate::flags::{CloneFlags, ParseError};
use crate::ns::Namespace;
use std::fmt;
use std::io;
use std::path::PathBuf;

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
        /// The part of the sandbox specification the step came from, when it came from one.
        origin: Option<Origin>,
        /// Why.
        source: io::Error,
    },
    /// A sandbox specification asks for something impossible; nothing was created.
    #[error("{origin}: {problem}")]
    Invalid {
        /// Where in the specification.
        origin: Origin,
        /// What is wrong.
        problem: Problem,
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
    /// This process cannot collect the child's exit status: another process reaps it.
    #[error("{} cannot be waited for by this process: {}", waited(*.pid), .reaper.why_not_here())]
    NotWaitable {
        /// The child; `None` when the request was refused before a child was created.
        pid: Option<i32>,
        /// Who reaps it instead.
        reaper: crate::child::Reaper,
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
    /// Awaiting the end of a child this process does not reap needs a pidfd, and this one
    /// has none (the kernel could not give one with its flags).
    #[error("the end of process {pid} cannot be awaited: it has no pidfd (CLONE_PIDFD was not possible with its flags)")]
    NoPidfd {
        /// The child.
        pid: i32,
    },
    /// A program was asked to run in a CLONE_THREAD child: its exec would end every other
    /// thread of this process and turn the process into the program. Refused unless
    /// allowed with [`crate::Command::allow_thread_exec`].
    #[error("CLONE_THREAD makes the program's exec replace this whole process, the calling thread included: refused unless explicitly allowed (Command::allow_thread_exec)")]
    ThreadExec,
    /// A handle for a running process could not be made ([`crate::Child::adopt`]).
    #[error("cannot adopt process {pid} ({})", errno_text(.source))]
    Adopt {
        /// The process.
        pid: i32,
        /// Why (ESRCH: no such process; ENOSYS: no pidfd_open before Linux 5.3).
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
    /// Opening a pseudo-terminal or handing it over a console socket failed.
    #[error("console: failed to {what} ({})", errno_text(.source))]
    Console {
        /// What was being done ("connect to the console socket /run/x.sock").
        what: String,
        /// Why.
        source: io::Error,
    },
}

fn waited(pid: Option<i32>) -> String {
    match pid {
        Some(pid) => format!("process {pid}"),
        None => "a child created with these flags".into(),
    }
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
            | Error::Adopt { source, .. }
            | Error::ContainerState { source, .. }
            | Error::Console { source, .. } => source.raw_os_error(),
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
            Error::ChildSetup { step, origin, .. } => setup_hint(step, origin.as_ref(), errno),
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

fn setup_hint(step: &str, origin: Option<&Origin>, errno: i32) -> Option<String> {
    Some(match errno {
        libc::EPERM if step.contains("procfs") => "a procfs can be mounted only for a PID namespace owned by the sandbox's user namespace: ask for a new PID namespace too (and, on a host whose /proc has parts hidden by overmounts, the kernel refuses it anyway)".into(),
        libc::EPERM | libc::EACCES if step.contains("uid_map") || step.contains("gid_map") => "the kernel refused the id map: an unprivileged caller may map only its own ids (ranges need newuidmap and /etc/subuid)".into(),
        libc::EROFS => "the destination is on a read-only filesystem: mount a tmpfs over its parent first".into(),
        libc::ENOENT if origin == Some(&Origin::WorkingDirectory) => "the directory does not exist inside the sandbox (paths are inside the new root)".into(),
        _ => return None,
    })
}

/// Where in a sandbox specification ([`crate::sandbox::SandboxSpec`]) a value came from.
/// Each front end names it in its own words: an option of the command line, a JSON path of
/// an OCI config.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// `filesystem.ops[i]`.
    Mount(usize),
    /// `filesystem.rootfs`.
    Rootfs,
    /// `filesystem.propagation`.
    Propagation,
    /// `filesystem.chdir`, or the caller's working directory looked up inside.
    WorkingDirectory,
    /// `ids.mapping` (user ids).
    UserMap,
    /// `ids.mapping` (group ids).
    GroupMap,
    /// `ids.uid`.
    Uid,
    /// `ids.gid`.
    Gid,
    /// `uts.hostname`.
    Hostname,
    /// `uts.domainname`.
    Domainname,
    /// `namespaces`: the namespaces asked for.
    Namespaces,
    /// `namespaces.join`: the namespace of this type joined by path.
    Join(Namespace),
    /// `time`: the time namespace's offsets.
    TimeOffsets,
    /// `security.rlimits[i]`.
    Rlimit(usize),
    /// `security.capabilities`.
    Capabilities,
    /// `limits`.
    Limits,
    /// `mount_proc`.
    MountProc,
    /// `as_pid1`.
    AsPid1,
    /// `clone.share`: what the child shares with the caller.
    Sharing,
    /// `process`: the program, its arguments and environment.
    Process,
    /// `ids.groups`: the supplementary groups.
    Groups,
    /// `process.umask`.
    Umask,
    /// `process.terminal`.
    Terminal,
    /// `process.start_barrier`.
    StartBarrier,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Mount(i) => write!(f, "mount {}", i + 1),
            Origin::Rootfs => f.write_str("the new root"),
            Origin::Propagation => f.write_str("mount propagation"),
            Origin::WorkingDirectory => f.write_str("the working directory"),
            Origin::UserMap => f.write_str("the user id map"),
            Origin::GroupMap => f.write_str("the group id map"),
            Origin::Uid => f.write_str("the uid inside"),
            Origin::Gid => f.write_str("the gid inside"),
            Origin::Hostname => f.write_str("the hostname"),
            Origin::Domainname => f.write_str("the domain name"),
            Origin::Namespaces => f.write_str("the namespaces"),
            Origin::Join(ns) => write!(f, "the {} namespace to join", ns.name()),
            Origin::TimeOffsets => f.write_str("the clock offsets"),
            Origin::Rlimit(i) => write!(f, "resource limit {}", i + 1),
            Origin::Capabilities => f.write_str("the capabilities"),
            Origin::Limits => f.write_str("the cgroup limits"),
            Origin::MountProc => f.write_str("the /proc of the new PID namespace"),
            Origin::AsPid1 => f.write_str("the program as PID 1"),
            Origin::Sharing => f.write_str("what is shared with the caller"),
            Origin::Process => f.write_str("the program"),
            Origin::Groups => f.write_str("the supplementary groups"),
            Origin::Umask => f.write_str("the umask"),
            Origin::Terminal => f.write_str("the terminal"),
            Origin::StartBarrier => f.write_str("the start barrier"),
        }
    }
}

/// What is wrong with a part of a sandbox specification, in words that name no option of
/// any front end.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// It needs a namespace of this type that the specification does not ask for.
    #[error("needs a new {} namespace", .0.name())]
    NeedsNamespace(Namespace),
    /// Both a new namespace of this type and one to join were asked for.
    #[error("a {} namespace cannot be both new and joined", .0.name())]
    NewAndJoined(Namespace),
    /// The path to join is not a namespace of the type it was given for.
    #[error("{path} is not a {} namespace ({why})", .ns.name())]
    NotANamespace {
        /// The namespace type asked for.
        ns: Namespace,
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    /// An id the program is to run as has no mapping in the new user namespace.
    #[error("{0} is not mapped in the new user namespace: map it, or pick a mapped id")]
    NotMapped(u32),
    /// A PID namespace's init closes the fds it does not need, which a shared fd table
    /// would close in the caller too.
    #[error("a shared fd table cannot go with the init of a new PID namespace, which closes the fds it does not need: run the program as PID 1, or do not share the fd table")]
    FdTableSharedWithInit,
    /// A filesystem problem.
    #[error(transparent)]
    Mount(#[from] MountProblem),
    /// A value out of the range the kernel accepts.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// A limit the cgroup controllers would refuse or clamp.
    #[error("{0}")]
    Limit(String),
    /// Supplementary groups were asked for where setgroups(2) is refused.
    #[error("setgroups(2) is refused here: supplementary groups need root without a new user namespace, or a group map written by root or newgidmap with setgroups allowed")]
    SetgroupsRefused,
    /// The fd given as a terminal is not one.
    #[error("descriptor {0} is not a terminal: give a pty's slave")]
    NotATerminal(i32),
}

/// What is wrong with a filesystem operation of a sandbox specification.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MountProblem {
    /// Mount operations were asked for without a new mount namespace.
    #[error("mount operations and a new root need a new mount namespace")]
    NeedsMountNamespace,
    /// A destination is not absolute.
    #[error("the destination {0} must be an absolute path inside the sandbox")]
    NotAbsolute(PathBuf),
    /// A destination has a `..` component.
    #[error("`..` is not allowed in the destination {0}: write the path without it")]
    DotDot(PathBuf),
    /// Resolving a destination through its symlinks leaves the new root.
    #[error("{dst}: {via}, which leaves the new root {root}: point it inside the root")]
    LeavesRoot {
        /// The destination.
        dst: PathBuf,
        /// The symlink or component that leaves.
        via: String,
        /// The new root.
        root: PathBuf,
    },
    /// Too many symlinks on the way.
    #[error("{0}: too many levels of symbolic links")]
    TooManyLinks(PathBuf),
    /// A path on the way is not a directory.
    #[error("{dst}: {path} is not a directory")]
    NotADirectory {
        /// The destination.
        dst: PathBuf,
        /// The part that is not a directory.
        path: PathBuf,
    },
    /// A missing path cannot be created where it would be.
    #[error("{dst}: {path} does not exist, and {}", if *.in_pseudo_fs { "it would be inside a procfs or devpts" } else { "nothing is created on the host's filesystem without a new root: create it first, put it under a tmpfs, or use a new root" })]
    CannotCreate {
        /// The destination.
        dst: PathBuf,
        /// The missing part.
        path: PathBuf,
        /// It would be inside a procfs or devpts (else: on the host's filesystem).
        in_pseudo_fs: bool,
    },
    /// Something other than the requested entry already exists.
    #[error("{0}: something else already exists there")]
    Occupied(PathBuf),
    /// The path does not exist in the sandbox.
    #[error("{0}: no such path in the sandbox")]
    Missing(PathBuf),
    /// A bind source cannot be used.
    #[error("the source {path}: {}", errno_text(&io::Error::from_raw_os_error(*.errno)))]
    Source {
        /// The source.
        path: PathBuf,
        /// Why.
        errno: i32,
    },
    /// A directory onto something that is not one.
    #[error("{src} is a directory and {dst} is not: bind a directory onto a directory")]
    DirectoryOntoFile {
        /// The source.
        src: PathBuf,
        /// The destination.
        dst: PathBuf,
    },
    /// A file onto a directory.
    #[error("{src} is a file and {dst} is a directory: give the file's own path as the destination, e.g. {suggestion}")]
    FileOntoDirectory {
        /// The source.
        src: PathBuf,
        /// The destination.
        dst: PathBuf,
        /// The path meant, probably.
        suggestion: PathBuf,
    },
    /// The new root cannot be used.
    #[error("{path}: {}; give an existing directory (scripts/mkrootfs.sh DIR builds one)", errno_text(&io::Error::from_raw_os_error(*.errno)))]
    Rootfs {
        /// The path given.
        path: PathBuf,
        /// Why.
        errno: i32,
    },
    /// The old root is shared, which pivot_root refuses.
    #[error("a new root needs the old root not to be shared (pivot_root refuses it): use private (the default) or slave propagation")]
    SharedRoot,
    /// A device number the kernel cannot hold (major 0-4095, minor 0-1048575).
    #[error("{dst}: device {major}:{minor} is out of range: the major is at most 4095 and the minor at most 1048575")]
    DeviceNumber {
        /// The destination.
        dst: PathBuf,
        /// Major.
        major: u32,
        /// Minor.
        minor: u32,
    },
    /// Permission bits beyond 0o7777.
    #[error("{dst}: mode {mode:o} has bits other than permissions: give at most 7777 (octal)")]
    DeviceMode {
        /// The destination.
        dst: PathBuf,
        /// The mode given.
        mode: u32,
    },
    /// Where device nodes cannot be created (a user namespace), the host's node at the
    /// same path is bound instead; it must exist and be the device asked for.
    #[error("{path}: a user namespace cannot create device nodes, so the host's node there is bound instead, but {}", match .found { Some((k, ma, mi)) => format!("it is {k} device {ma}:{mi}, not {} device {}:{}", .want.0, .want.1, .want.2), None => "it is not a device node".into() })]
    HostDevice {
        /// The path (the same on the host and inside).
        path: PathBuf,
        /// The kind ("character" or "block"), major and minor asked for.
        want: (&'static str, u32, u32),
        /// What the host has there, if a device.
        found: Option<(&'static str, u32, u32)>,
    },
}

fn cgroup_hint(errno: i32) -> Option<String> {
    Some(match errno {
        libc::EACCES | libc::EPERM | libc::EROFS => "creating cgroups needs root or a delegated cgroup: give a cgroup parent: a cgroup2 directory you own (e.g. the one of `systemd-run --user -p Delegate=yes --scope ...`); cgroup v1 controllers cannot be delegated".into(),
        libc::EBUSY => "the cgroup still holds processes: a cgroup2 parent with processes cannot enable controllers for its children (no internal processes rule) — move them into a leaf cgroup first; or a process did not exit yet".into(),
        libc::ENOENT => "the controller or file is missing: check /proc/cgroups and the parent's cgroup.controllers and cgroup.subtree_control".into(),
        _ => return None,
    })
}

fn clone_hint(flags: CloneFlags, errno: i32) -> Option<String> {
    let namespaces = CloneFlags::ALL_NAMESPACES.difference(CloneFlags::NEWUSER);
    Some(match errno {
        libc::EPERM if flags.contains(CloneFlags::NEWUSER) => "user namespaces are refused: check /proc/sys/user/max_user_namespaces and /proc/sys/kernel/unprivileged_userns_clone (or an AppArmor userns policy), and that the caller is not chrooted and its uid/gid are mapped".into(),
        libc::EPERM if flags.intersects(namespaces) => "unprivileged: ask for a new user namespace too (CLONE_NEWUSER), which grants the capabilities the other namespaces need".into(),
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
            e.named("HOSTNAME"),
            format!("HOSTNAME \"{}…\": too long", "a".repeat(20))
        );
        assert!(Error::from(e)
            .to_string()
            .starts_with("invalid argument: hostname \"aaaa"));
    }
}

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
