//! The library's one error type: what went wrong, where it came from ([`Origin`]), and what
//! is wrong with a value ([`Problem`] and the typed problems of [`problem`]); the advice for
//! the common errnos is in `hint`, the quoting of values in `text`.
use crate::flags::rules::{Interface, Violation};
use crate::flags::{CloneFlags, ParseError};
use crate::ns::Namespace;
use std::fmt;
use std::io;
use std::path::PathBuf;

mod hint;
pub mod problem;
mod text;

pub use problem::{
    CapabilityProblem, CgroupProblem, IdKind, IdMapProblem, LimitProblem, MapFault, RangeError,
    RequestProblem, RlimitFault, RlimitProblem, TargetProblem,
};
pub(crate) use text::errno_text;
pub use text::{one_line, quote_prefix, QUOTED_PREFIX};

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
    /// A value outside what the kernel accepts; nothing was created.
    #[error(transparent)]
    OutOfRange(#[from] RangeError),
    /// The id maps of a new user namespace cannot be used as given; nothing was created.
    #[error(transparent)]
    IdMapping(#[from] IdMapProblem),
    /// A cgroup limit the controllers would refuse or clamp; nothing was created.
    #[error(transparent)]
    Limit(#[from] LimitProblem),
    /// A cgroup set that cannot be made as asked (its name, its parent); nothing was created.
    #[error(transparent)]
    CgroupRequest(#[from] CgroupProblem),
    /// An unknown capability name.
    #[error(transparent)]
    Capability(#[from] CapabilityProblem),
    /// A resource limit that cannot be read.
    #[error(transparent)]
    Rlimit(#[from] RlimitProblem),
    /// A process id that cannot name a process to enter or inspect.
    #[error(transparent)]
    Target(#[from] TargetProblem),
    /// A spawn request that cannot be carried out as asked; nothing was created.
    #[error(transparent)]
    Request(#[from] RequestProblem),
    /// A checkpoint or restore through CRIU that cannot be done, or that CRIU failed.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointProblem),
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
    #[error(transparent)]
    Limit(#[from] LimitProblem),
    /// Supplementary groups were asked for where setgroups(2) is refused.
    #[error("setgroups(2) is refused here: supplementary groups need root without a new user namespace, or a group map written by root or newgidmap with setgroups allowed")]
    SetgroupsRefused,
    /// The fd given as a terminal is not one.
    #[error("descriptor {0} is not a terminal: give a pty's slave")]
    NotATerminal(i32),
    /// A preset was asked to share a namespace it cannot do without.
    #[error("a preset cannot share the caller's {} namespace: {}", .0.name(), preset_needs(*.0))]
    PresetNeeds(Namespace),
}

/// Why a preset needs a new namespace of this type.
fn preset_needs(ns: Namespace) -> &'static str {
    match ns {
        Namespace::Mount => {
            "its read-only host, /proc, /dev and /tmp are mounts of a new mount namespace"
        }
        Namespace::User => "without root, a new user namespace is what allows the others",
        _ => "it is one of its guarantees",
    }
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
    /// A mode change names a symlink, which it does not follow.
    #[error("{0} is a symbolic link, which a mode change does not follow (a link in a new root can point at a file bound in from the host): name what it points to")]
    ModeOfLink(PathBuf),
    /// A propagation change on a path no earlier operation mounted.
    #[error("{0}: nothing is mounted there: a propagation type is set on a mount point the operations before made")]
    NotMountPoint(PathBuf),
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
    /// A directory of the new root was found changed (a symlink in its place) when it was
    /// listed, after the checks: the rootfs is being changed while the sandbox is set up.
    #[error("{path}: {}: the new root changed while the sandbox was being set up (a symlink where a directory was); nothing was mounted", errno_text(&io::Error::from_raw_os_error(*.errno)))]
    RootfsChanged {
        /// The directory, on the host.
        path: PathBuf,
        /// Why it could not be opened as a directory of the root.
        errno: i32,
    },
    /// No such mount propagation (private, slave, shared or unchanged).
    #[error("unknown mode `{}`: choose private, slave, shared or unchanged", one_line(.0))]
    UnknownPropagation(String),
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
    /// A filesystem's option list has an empty item or options where none are taken.
    #[error("options `{}`: give comma-separated key=value pairs or flags, with no empty item (none for a cgroup mount)", one_line(.0))]
    BadOption(String),
    /// An fd given as a source is not open in the caller.
    #[error("fd {fd}: {}; give an fd open in this process (e.g. 3<FILE in the shell)", errno_text(&io::Error::from_raw_os_error(*.errno)))]
    Fd {
        /// The fd.
        fd: i32,
        /// Why.
        errno: i32,
    },
    /// An overlay with fewer sources than it needs.
    #[error("an overlay needs at least {needed} source director{} below it, and {got} {} given", if *.needed == 1 { "y" } else { "ies" }, if *.got == 1 { "is" } else { "are" })]
    OverlaySources {
        /// How many it needs (2 read-only, else 1).
        needed: usize,
        /// How many were given.
        got: usize,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
