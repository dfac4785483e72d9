//! [`SandboxSpec`]: everything a sandbox is, as plain data that a command line or an OCI
//! config fills in. Nothing here acts; [`super::prepare`] checks it and lowers it into steps.
use crate::caps::Rlimit;
use crate::cgroup::Limits;
use crate::flags::CloneFlags;
use crate::idmap::IdMapping;
use crate::mount::Filesystem;
use crate::ns::Namespace;
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;

/// A sandbox: the program, how it is cloned, its namespaces, ids, filesystem, security,
/// limits and lifetime. `Default` is a plain child sharing everything with the caller.
#[derive(Clone, Debug, Default)]
pub struct SandboxSpec {
    /// The program and what it starts with.
    pub process: Process,
    /// Clone flags other than namespaces, and how the child is created.
    pub clone: CloneOptions,
    /// Namespaces made new or joined.
    pub namespaces: Namespaces,
    /// Ids in a new user namespace.
    pub ids: Ids,
    /// Host and domain names in a new UTS namespace.
    pub uts: Uts,
    /// Clock offsets in a new time namespace.
    pub time: TimeOffsets,
    /// The filesystem: a new root, mount operations in order, propagation, working dir.
    pub filesystem: Filesystem,
    /// Mount a /proc of the new PID namespace before the other mount operations.
    pub mount_proc: bool,
    /// With a new PID namespace, run the program itself as PID 1 instead of behind cleave's
    /// init (it must then reap orphans and handle signals itself).
    pub as_pid1: bool,
    /// Capabilities, no_new_privs, session, keyring, seccomp, resource limits.
    pub security: Security,
    /// Cgroup limits: a cgroup made for the sandbox, removed after it.
    pub limits: Limits,
    /// A cgroup2 directory delegated to the caller, under which the sandbox's cgroup is
    /// made (limits without root).
    pub cgroup_parent: Option<PathBuf>,
    /// The signal the sandbox gets when the caller dies (PR_SET_PDEATHSIG).
    pub parent_death_signal: Option<i32>,
}

/// The program.
#[derive(Clone, Debug, Default)]
pub struct Process {
    /// Searched in PATH (the program's environment's) when it has no `/`.
    pub program: OsString,
    /// Arguments after `argv[0]`.
    pub args: Vec<OsString>,
    /// `argv[0]`, when not the program as given.
    pub argv0: Option<OsString>,
    /// The environment.
    pub env: Environment,
    /// Fds kept open in the program besides 0-2 (every other one is closed).
    pub preserve_fds: Vec<RawFd>,
    /// The signal mask the program starts with (bit N-1 for signal N); default the
    /// caller's.
    pub signal_mask: Option<u64>,
    /// The program's umask (0 to 0o777); default the caller's. Set last, so that what
    /// cleave creates for the sandbox keeps the modes it was given.
    pub umask: Option<u32>,
    /// A terminal (a pty's slave, see [`crate::supervise::console_socket`]) that becomes
    /// the program's stdin, stdout, stderr and controlling terminal, in a session of its
    /// own. The fd stays the caller's: each spawn uses duplicates of it.
    pub terminal: Option<RawFd>,
    /// The start barrier: an fd (a pipe, FIFO or socket) the program's process reads one
    /// byte from once everything else is set up, just before its seccomp filters and exec.
    /// Spawning returns once the child waits there; a byte, or end-of-file, lets it go on
    /// (an OCI runtime's `create` and `start`). A failure after the barrier (exec) shows
    /// only in the exit status: 126 or 127.
    pub start_barrier: Option<RawFd>,
}

/// The program's environment: the caller's (unless `clear`), with `remove` taken out and
/// `set` put in, in that order.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// Start from nothing.
    pub clear: bool,
    /// Variables taken out.
    pub remove: Vec<OsString>,
    /// Variables set.
    pub set: Vec<(OsString, OsString)>,
}

/// How the child is created, beyond namespaces.
#[derive(Clone, Debug, Default)]
pub struct CloneOptions {
    /// Clone flags other than the namespace ones: what is shared with the caller (VM, FS,
    /// FILES, SIGHAND, SYSVSEM, IO...), PARENT, VFORK, PIDFD, PTRACE, UNTRACED...
    pub flags: CloneFlags,
    /// The exit signal (`Some(0)` for none); default SIGCHLD.
    pub exit_signal: Option<i32>,
    /// PIDs for the child, innermost PID namespace first (clone3 `set_tid`).
    pub set_tid: Vec<i32>,
    /// Start the child in this cgroup2 directory (CLONE_INTO_CGROUP).
    pub into_cgroup: Option<PathBuf>,
    /// cgroup v1 directories the child moves itself into, first thing (a v1 hierarchy
    /// cannot be entered at clone): after them, a new cgroup namespace is rooted there too.
    pub v1_cgroups: Vec<PathBuf>,
    /// Pass the flags to the kernel untouched: no rule checks, no additions.
    pub unchecked: bool,
}

/// Namespaces: new ones, and existing ones joined by path (`/proc/PID/ns/TYPE` or a file
/// such a namespace is bind-mounted on).
#[derive(Clone, Debug, Default)]
pub struct Namespaces {
    /// The namespaces made new (CLONE_NEW* flags).
    pub new: CloneFlags,
    /// Namespaces joined with setns(2) before anything else happens in the child.
    pub join: Vec<(Namespace, PathBuf)>,
    /// A user namespace switched to once the filesystem is set up, before the init and
    /// the program start (bubblewrap's `--userns2`): it must be a descendant of the one
    /// the sandbox was set up in (joined or new), and the program runs in it with the
    /// capabilities the spec gives, the bounding set and parent-death signal set again.
    pub switch_user: Option<PathBuf>,
}

/// Ids in a new user namespace.
#[derive(Clone, Debug, Default)]
pub struct Ids {
    /// How ids map (default: the caller is root inside).
    pub mapping: IdMapping,
    /// Keep setgroups(2) allowed (`Some(true)`) or deny it.
    pub setgroups: Option<bool>,
    /// The uid the program runs as inside (default: the caller's, as mapped).
    pub uid: Option<u32>,
    /// The gid the program runs as inside.
    pub gid: Option<u32>,
    /// The program's supplementary groups (setgroups(2)), as ids inside. Setting them
    /// needs setgroups to be allowed: root without a new user namespace, or a map written
    /// by a privileged writer with `setgroups` kept. When the program keeps CAP_SYS_ADMIN
    /// and its mounts are locked in a nested user namespace, they still count for access
    /// but show as the overflow gid there.
    pub groups: Vec<u32>,
}

/// Names in the sandbox's UTS namespace: a new one, or one it joins (whose other members see
/// them too).
#[derive(Clone, Debug, Default)]
pub struct Uts {
    /// The hostname.
    pub hostname: Option<OsString>,
    /// The NIS domain name.
    pub domainname: Option<OsString>,
}

/// Offsets of a new time namespace, in seconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimeOffsets {
    /// CLOCK_MONOTONIC.
    pub monotonic: Option<i64>,
    /// CLOCK_BOOTTIME.
    pub boottime: Option<i64>,
}

impl TimeOffsets {
    /// Whether any offset is set (which asks for a new time namespace).
    pub fn is_set(&self) -> bool {
        self.monotonic.is_some() || self.boottime.is_some()
    }
}

/// What the program may do.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// The capabilities the program keeps; `None` leaves them as the kernel gives them.
    pub capabilities: Option<Capabilities>,
    /// Set no_new_privs: no exec gains privileges (setuid bits, file capabilities).
    pub no_new_privs: bool,
    /// Run the program in a new session (setsid): it cannot reach the caller's terminal
    /// with TIOCSTI.
    pub new_session: bool,
    /// Give the program a new, empty session keyring.
    pub new_session_keyring: bool,
    /// Refuse TIOCSTI, TIOCLINUX and TIOCSETD with a seccomp filter (for a program that
    /// can reach the caller's terminal: the one it keeps, or an fd of it in a new session,
    /// whose line discipline TIOCSETD would change without any privilege).
    pub block_tty_injection: bool,
    /// Resource limits (setrlimit), in order.
    pub rlimits: Vec<Rlimit>,
    /// Keep the program from making user namespaces: the sandbox's own user namespace
    /// allows one below it (its `user.max_user_namespaces` set to 1, user_namespaces(7)),
    /// and the program runs in that one, nested, so that any further one is refused with
    /// ENOSPC however the program sets its own limit. Needs a new user namespace.
    pub disable_user_namespaces: bool,
    /// Fail unless the program cannot make a user namespace (bubblewrap's
    /// `--assert-userns-disabled`): the child tries, once everything else but the
    /// capability sets, seccomp and exec is done, and the sandbox fails if it could.
    pub assert_user_namespaces_disabled: bool,
    /// The caller's seccomp filters, each a classic BPF program (the bytes of its
    /// `struct sock_filter` array, 8 per instruction, native byte order), installed in
    /// order; the kernel runs every one on each system call and takes the strictest
    /// verdict. With `no_new_privs` they go in last, just before exec; without it the
    /// kernel wants CAP_SYS_ADMIN, so they go in before any capability is dropped, and
    /// what the child does after them (setgroups, setresuid, capset, prctl, umask, read,
    /// close, execve) must be allowed by them.
    pub seccomp_filters: Vec<Vec<u8>>,
}

/// The program's five capability sets, as masks of `1 << CAP_*` (capabilities(7)). A set
/// never gains what the process does not hold: each is narrowed to what the kernel allows
/// when it is set (effective within permitted, ambient within permitted and inheritable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The bounding set: every capability outside it leaves for good.
    pub bounding: u64,
    /// The effective set.
    pub effective: u64,
    /// The permitted set.
    pub permitted: u64,
    /// The inheritable set.
    pub inheritable: u64,
    /// The ambient set: kept across the exec of a program without file capabilities, by a
    /// program that runs as a non-root uid.
    pub ambient: u64,
}

impl Capabilities {
    /// `keep` in the bounding, effective, permitted and inheritable sets, and `ambient`
    /// (narrowed to `keep`) in the ambient set.
    pub fn keep(keep: u64, ambient: u64) -> Capabilities {
        Capabilities {
            bounding: keep,
            effective: keep,
            permitted: keep,
            inheritable: keep,
            ambient: ambient & keep,
        }
    }

    /// Whether the program may hold `cap` (a `CAP_*` number) after exec: it is in the
    /// bounding and permitted sets.
    pub fn may_hold(&self, cap: u32) -> bool {
        let bit = 1u64 << cap;
        self.bounding & self.permitted & bit != 0
    }
}
