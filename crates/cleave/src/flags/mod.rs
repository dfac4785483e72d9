//! [`CloneFlags`]: every flag of the kernel's uapi in one 64-bit set, what each one does,
//! parsing from the ways people write them, and the kernel's rules on a request ([`rules`]).
//!
//! Everything here is pure: no file, no system call. The facts about the running system that
//! some rules depend on come in as a [`rules::Context`], which [`crate::host`] reads.
mod context;
mod parse;
pub mod rules;
mod set_tid;
mod signal;

pub use parse::{parse_flags, FlagExpr, ParseError};
pub use set_tid::{check_set_tid, PID_MAX_LIMIT};
pub use signal::{parse_exit_signal, signal_from_name, signal_name, UnknownSignal};

bitflags::bitflags! {
    /// The `flags` of clone3(2) / clone(2), as the kernel defines them (64 bits).
    ///
    /// The exit signal is not part of this set: legacy clone() keeps it in the low byte
    /// (CSIGNAL), clone3 in its own field; cleave always carries it separately.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct CloneFlags: u64 {
        /// New time namespace (lies inside CSIGNAL: clone3 or unshare only).
        #[doc(alias = "CLONE_NEWTIME")]
        const NEWTIME = 0x80;
        /// Share the address space.
        #[doc(alias = "CLONE_VM")]
        const VM = 0x100;
        /// Share root, cwd and umask.
        #[doc(alias = "CLONE_FS")]
        const FS = 0x200;
        /// Share the file descriptor table.
        #[doc(alias = "CLONE_FILES")]
        const FILES = 0x400;
        /// Share the signal handler table.
        #[doc(alias = "CLONE_SIGHAND")]
        const SIGHAND = 0x800;
        /// Return a pidfd for the child.
        #[doc(alias = "CLONE_PIDFD")]
        const PIDFD = 0x1000;
        /// Trace the child too if the caller is traced.
        #[doc(alias = "CLONE_PTRACE")]
        const PTRACE = 0x2000;
        /// Suspend the caller until the child execs or exits.
        #[doc(alias = "CLONE_VFORK")]
        const VFORK = 0x4000;
        /// The child's parent is the caller's parent.
        #[doc(alias = "CLONE_PARENT")]
        const PARENT = 0x8000;
        /// Same thread group as the caller.
        #[doc(alias = "CLONE_THREAD")]
        const THREAD = 0x10000;
        /// New mount namespace.
        #[doc(alias = "CLONE_NEWNS")]
        const NEWNS = 0x20000;
        /// Share System V semaphore undo values.
        #[doc(alias = "CLONE_SYSVSEM")]
        const SYSVSEM = 0x40000;
        /// Set the thread pointer (TLS) of the child.
        #[doc(alias = "CLONE_SETTLS")]
        const SETTLS = 0x80000;
        /// Store the child's TID in the parent's memory before clone returns.
        #[doc(alias = "CLONE_PARENT_SETTID")]
        const PARENT_SETTID = 0x100000;
        /// Zero the child's TID word and wake a futex there when it exits.
        #[doc(alias = "CLONE_CHILD_CLEARTID")]
        const CHILD_CLEARTID = 0x200000;
        /// Ignored by clone() since 2.6.2; rejected by clone3.
        #[doc(alias = "CLONE_DETACHED")]
        const DETACHED = 0x400000;
        /// A tracer cannot force CLONE_PTRACE on the child.
        #[doc(alias = "CLONE_UNTRACED")]
        const UNTRACED = 0x800000;
        /// Store the child's TID in the child's memory.
        #[doc(alias = "CLONE_CHILD_SETTID")]
        const CHILD_SETTID = 0x1000000;
        /// New cgroup namespace.
        #[doc(alias = "CLONE_NEWCGROUP")]
        const NEWCGROUP = 0x2000000;
        /// New UTS namespace (hostname, domainname).
        #[doc(alias = "CLONE_NEWUTS")]
        const NEWUTS = 0x4000000;
        /// New IPC namespace.
        #[doc(alias = "CLONE_NEWIPC")]
        const NEWIPC = 0x8000000;
        /// New user namespace.
        #[doc(alias = "CLONE_NEWUSER")]
        const NEWUSER = 0x10000000;
        /// New PID namespace.
        #[doc(alias = "CLONE_NEWPID")]
        const NEWPID = 0x20000000;
        /// New network namespace.
        #[doc(alias = "CLONE_NEWNET")]
        const NEWNET = 0x40000000;
        /// Share the I/O context.
        #[doc(alias = "CLONE_IO")]
        const IO = 0x80000000;
        /// Reset handled signals to SIG_DFL in the child (clone3 only).
        #[doc(alias = "CLONE_CLEAR_SIGHAND")]
        const CLEAR_SIGHAND = 1 << 32;
        /// Start the child in the cgroup given by a cgroup2 directory fd (clone3 only).
        #[doc(alias = "CLONE_INTO_CGROUP")]
        const INTO_CGROUP = 1 << 33;
    }
}

impl CloneFlags {
    /// Every namespace flag.
    pub const ALL_NAMESPACES: CloneFlags = CloneFlags::NEWNS
        .union(CloneFlags::NEWUTS)
        .union(CloneFlags::NEWIPC)
        .union(CloneFlags::NEWUSER)
        .union(CloneFlags::NEWPID)
        .union(CloneFlags::NEWNET)
        .union(CloneFlags::NEWCGROUP)
        .union(CloneFlags::NEWTIME);

    /// Flags legacy clone() cannot express (they live above 32 bits or inside CSIGNAL).
    pub const CLONE3_ONLY: CloneFlags = CloneFlags::NEWTIME
        .union(CloneFlags::CLEAR_SIGHAND)
        .union(CloneFlags::INTO_CGROUP);

    /// `fork()`: SIGCHLD and no flag (TLPI 28.2.1).
    pub const PRESET_FORK: CloneFlags = CloneFlags::empty();
    /// `vfork()`: CLONE_VM | CLONE_VFORK, SIGCHLD (TLPI 28.2.1).
    pub const PRESET_VFORK: CloneFlags = CloneFlags::VM.union(CloneFlags::VFORK);
    /// LinuxThreads' thread: VM | FILES | FS | SIGHAND (TLPI 28.2.1).
    pub const PRESET_LINUXTHREADS: CloneFlags = CloneFlags::VM
        .union(CloneFlags::FILES)
        .union(CloneFlags::FS)
        .union(CloneFlags::SIGHAND);
    /// NPTL's thread: LinuxThreads' set plus THREAD, SETTLS, PARENT_SETTID, CHILD_CLEARTID,
    /// SYSVSEM (TLPI 28.2.1); `0x3d0f00`.
    pub const PRESET_NPTL: CloneFlags = CloneFlags::PRESET_LINUXTHREADS
        .union(CloneFlags::THREAD)
        .union(CloneFlags::SETTLS)
        .union(CloneFlags::PARENT_SETTID)
        .union(CloneFlags::CHILD_CLEARTID)
        .union(CloneFlags::SYSVSEM);

    /// The kernel name of each flag in this set, in bit order (`CLONE_VM`, ...).
    pub fn kernel_names(self) -> Vec<&'static str> {
        FLAG_INFO
            .iter()
            .filter(|i| self.contains(i.flag))
            .map(|i| i.name)
            .collect()
    }

    /// `CLONE_VM|CLONE_FS` style text; `0` for the empty set.
    pub fn to_kernel_string(self) -> String {
        let names = self.kernel_names();
        if names.is_empty() {
            "0".to_string()
        } else {
            names.join("|")
        }
    }
}

impl std::fmt::Display for CloneFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_kernel_string())
    }
}

/// What a flag does to the relation between creator and child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagKind {
    /// Shares a resource with the creator instead of copying it.
    Share,
    /// Gives the child a namespace of its own.
    Isolate,
    /// Changes how the child is created, reported or related.
    Control,
    /// Obsolete: accepted by the kernel's ABI but ignored or rejected.
    Obsolete,
}

/// One row of the flag reference.
#[derive(Clone, Copy, Debug)]
pub struct FlagInfo {
    /// The flag.
    pub flag: CloneFlags,
    /// Kernel name (`CLONE_VM`).
    pub name: &'static str,
    /// Short name accepted by the parser (`vm`).
    pub short: &'static str,
    /// Share, isolate or control.
    pub kind: FlagKind,
    /// First kernel that has it, as (major, minor).
    pub since: (u32, u32),
    /// What it does, in one sentence.
    pub effect: &'static str,
}

macro_rules! info {
    ($flag:ident, $short:literal, $kind:ident, $maj:literal, $min:literal, $effect:literal) => {
        FlagInfo {
            flag: CloneFlags::$flag,
            name: concat!("CLONE_", stringify!($flag)),
            short: $short,
            kind: FlagKind::$kind,
            since: ($maj, $min),
            effect: $effect,
        }
    };
}

/// Every flag, in bit order, with what it does and since when.
pub const FLAG_INFO: &[FlagInfo] = &[
    info!(NEWTIME, "newtime", Isolate, 5, 6, "new time namespace: the child gets its own CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets (clone3 since 6.3)"),
    info!(VM, "vm", Share, 2, 0, "shares the address space: a write by either task is seen by the other; without it the child gets a copy-on-write copy"),
    info!(FS, "fs", Share, 2, 0, "shares root directory, working directory and umask: chdir, chroot or umask in either task affects both"),
    info!(FILES, "files", Share, 2, 0, "shares the file descriptor table: open, close and dup in either task affect both"),
    info!(SIGHAND, "sighand", Share, 2, 0, "shares the signal disposition table (masks and pending signals stay separate); needs CLONE_VM"),
    info!(PIDFD, "pidfd", Control, 5, 2, "returns a pidfd (close-on-exec) referring to the child, usable with poll, waitid(P_PIDFD), pidfd_send_signal and setns"),
    info!(PTRACE, "ptrace", Control, 2, 2, "if the caller is being traced, the child is traced by the same tracer"),
    info!(VFORK, "vfork", Control, 2, 2, "suspends the caller until the child calls execve or exits"),
    info!(PARENT, "parent", Control, 2, 4, "the child's parent is the caller's parent, which is signalled at its exit and reaps it"),
    info!(THREAD, "thread", Share, 2, 4, "puts the child in the caller's thread group: same PID (TGID), own TID; needs CLONE_SIGHAND"),
    info!(NEWNS, "newns", Isolate, 2, 4, "new mount namespace: a copy of the caller's mounts; later mounts and unmounts stay private"),
    info!(SYSVSEM, "sysvsem", Share, 2, 5, "shares the System V semaphore undo (semadj) list"),
    info!(SETTLS, "settls", Control, 2, 5, "sets the child's thread pointer (TLS register) to the given value"),
    info!(PARENT_SETTID, "parent_settid", Control, 2, 5, "stores the child's TID in the caller's memory before clone returns (race-free TID capture)"),
    info!(CHILD_CLEARTID, "child_cleartid", Control, 2, 5, "zeroes the child's TID word and wakes a futex on it when the child exits (how pthread_join waits)"),
    info!(DETACHED, "detached", Obsolete, 2, 5, "historical: ignored by clone() since 2.6.2, rejected by clone3 with EINVAL"),
    info!(UNTRACED, "untraced", Control, 2, 5, "a tracer cannot force CLONE_PTRACE on the child"),
    info!(CHILD_SETTID, "child_settid", Control, 2, 5, "stores the child's TID in the child's own memory before it runs"),
    info!(NEWCGROUP, "newcgroup", Isolate, 4, 6, "new cgroup namespace: the child's current cgroup becomes its cgroup root"),
    info!(NEWUTS, "newuts", Isolate, 2, 6, "new UTS namespace: hostname and NIS domain name can be changed without affecting the host"),
    info!(NEWIPC, "newipc", Isolate, 2, 6, "new IPC namespace: System V IPC objects and POSIX message queues of its own"),
    info!(NEWUSER, "newuser", Isolate, 3, 8, "new user namespace: own uid/gid mapping, full capabilities inside and none outside; created first, so it makes the other namespaces possible unprivileged"),
    info!(NEWPID, "newpid", Isolate, 2, 6, "new PID namespace: the child is PID 1 there, reaps orphans, and its exit kills the namespace"),
    info!(NEWNET, "newnet", Isolate, 2, 6, "new network namespace: only a loopback device (down), own routes, firewall and sockets"),
    info!(IO, "io", Share, 2, 6, "shares the I/O context (the I/O scheduler treats both as one)"),
    info!(CLEAR_SIGHAND, "clear_sighand", Control, 5, 5, "resets every handled signal to SIG_DFL in the child (ignored ones stay ignored); clone3 only"),
    info!(INTO_CGROUP, "into_cgroup", Control, 5, 7, "starts the child directly in a given cgroup2 directory; clone3 only"),
];

/// The reference row of a single flag.
pub fn flag_info(flag: CloneFlags) -> Option<&'static FlagInfo> {
    FLAG_INFO.iter().find(|i| i.flag == flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_every_flag_once_in_bit_order() {
        let mut all = CloneFlags::empty();
        let mut last = 0u64;
        for i in FLAG_INFO {
            assert_eq!(i.flag.bits().count_ones(), 1, "{}", i.name);
            assert!(i.flag.bits() > last, "{} out of order", i.name);
            last = i.flag.bits();
            assert!(!all.intersects(i.flag));
            all |= i.flag;
            assert_eq!(i.name, format!("CLONE_{}", i.short.to_ascii_uppercase()));
        }
        assert_eq!(all, CloneFlags::all());
    }

    #[test]
    fn constants_match_uapi() {
        assert_eq!(CloneFlags::VM.bits(), libc::CLONE_VM as u64);
        assert_eq!(CloneFlags::NEWUSER.bits(), libc::CLONE_NEWUSER as u64);
        assert_eq!(CloneFlags::IO.bits(), 0x8000_0000);
        assert_eq!(CloneFlags::NEWTIME.bits(), 0x80);
        assert_eq!(CloneFlags::PRESET_NPTL.bits(), 0x3d0f00);
    }
}
