//! The data a child executes: built by the parent before clone, only read by the child.
use core::ffi::c_char;

/// What a failing child reports (16 bytes, written in one `write`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// A [`Stage`] as u32; 0 means "no report".
    pub stage: u32,
    /// Index of the failing [`Op`] for [`Stage::Op`], of the stdio slot for [`Stage::Stdio`].
    pub index: u32,
    /// The errno the kernel returned.
    pub errno: i32,
    /// [`Notes`] bits: things the child did instead of what was asked, without failing. A
    /// record with `stage` 0 carries only notes.
    pub notes: u32,
}

/// Bits of [`Report::notes`].
pub struct Notes;

impl Notes {
    /// The working directory asked for does not exist in the sandbox: the program starts
    /// in "/".
    pub const CWD_FALLBACK: u32 = 1;
}

impl Report {
    /// Size of the record on the wire.
    pub const SIZE: usize = 16;

    /// The record as bytes for `write` (no panic path: it runs in the child).
    pub fn to_bytes(self) -> [u8; 16] {
        let [a0, a1, a2, a3] = self.stage.to_ne_bytes();
        let [b0, b1, b2, b3] = self.index.to_ne_bytes();
        let [c0, c1, c2, c3] = self.errno.to_ne_bytes();
        let [d0, d1, d2, d3] = self.notes.to_ne_bytes();
        [
            a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3,
        ]
    }

    /// Parses a record read from the report channel.
    pub fn from_bytes(bytes: &[u8; 16]) -> Report {
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[i..i + 4]);
            w
        };
        Report {
            stage: u32::from_ne_bytes(word(0)),
            index: u32::from_ne_bytes(word(4)),
            errno: i32::from_ne_bytes(word(8)),
            notes: u32::from_ne_bytes(word(12)),
        }
    }
}

/// Where in the child's setup a failure happened.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the parent's go-ahead (the parent went away).
    Sync = 1,
    /// One of the plan's [`Op`]s; `index` says which.
    Op = 2,
    /// Arranging stdin/stdout/stderr; `index` is the target fd.
    Stdio = 3,
    /// Closing inherited fds.
    Fds = 4,
    /// Restoring signal dispositions and the mask.
    Signals = 5,
    /// `execve` of every candidate path failed.
    Exec = 6,
}

impl Stage {
    /// Decodes the `stage` field of a [`Report`].
    pub fn from_u32(v: u32) -> Option<Stage> {
        Some(match v {
            1 => Stage::Sync,
            2 => Stage::Op,
            3 => Stage::Stdio,
            4 => Stage::Fds,
            5 => Stage::Signals,
            6 => Stage::Exec,
            _ => return None,
        })
    }
}

/// The kind of one setup step. Arguments live in [`Op`]'s fields as documented per kind;
/// strings are NUL-terminated and built by the parent. Unless noted, an op fails with the
/// errno of its system call.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `sethostname(a, n1)`.
    SetHostname = 2,
    /// `setdomainname(a, n1)`.
    SetDomainname = 3,
    /// `chdir(a)`.
    Chdir = 8,
    /// `mount(a, b, c, n1, d)`: source (may be null), target, fstype (may be null), flags,
    /// data (may be null). Used only to change the propagation of "/".
    Mount = 10,
    /// The directory in slot n1 becomes "/": `fchdir`, `pivot_root(".", ".")`, the old root
    /// stacked on top is detached, `chdir("/")`. Nothing of the old root stays reachable.
    PivotRoot = 15,
    /// Opens file `a` for writing and writes the n1 bytes at `b` in one `write`.
    WriteFile = 16,
    /// Writes the n2 bytes at `a` to fd n1 (e.g. "0" to an open cgroup.procs).
    WriteFd = 17,
    /// `unshare(n1)`.
    Unshare = 18,
    /// Brings interface `lo` up (a fresh network namespace starts with it down).
    LoopbackUp = 19,
    /// `prlimit64(0, n1, {n2, n3}, NULL)`.
    SetRlimit = 20,
    /// `setsid()`.
    Setsid = 21,
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    NoNewPrivs = 22,
    /// `prctl(PR_SET_PDEATHSIG, n1)`; then, when n2 is not 0, fails with ESRCH unless
    /// `getppid()` is still n2 (the parent died before the request took effect).
    ParentDeathSignal = 23,
    /// `prctl(PR_SET_KEEPCAPS, n1)`.
    KeepCaps = 24,
    /// Identity: when n3 is 1 `setgroups(0, NULL)`, then `setresgid(n2)`, `setresuid(n1)`.
    SetIds = 25,
    /// Drops every capability not in mask n1 from the bounding set.
    DropBounding = 26,
    /// `capset`: effective = permitted = inheritable = mask n1.
    SetCaps = 27,
    /// Clears the ambient set, then raises every capability of mask n1 in it.
    Ambient = 28,
    /// Forks: this process becomes a minimal init (PID 1 of a new PID namespace) that reaps
    /// every child, forwards signals to the program and exits with its status; the new child
    /// runs the remaining steps and the program. n1: the top of a stack for the program
    /// child, which is then made with CLONE_VM | CLONE_VFORK (0: a plain fork).
    ForkInit = 29,
    /// `slot n1 = openat(AT_FDCWD, a, n2)`: a source or the rootfs, opened before the
    /// first change to the tree.
    OpenPath = 30,
    /// Fails with ESTALE unless the fd in slot n1 is device n2, inode n3 (what the parent
    /// checked is what the child got).
    CheckIdentity = 31,
    /// A recursive copy of the directory in slot n1 attached on itself; its root goes to
    /// slot n2 (the sandbox's root from then on).
    BindRoot = 32,
    /// A copy of the mount at the source in slot n1 (recursive when n5 is 1), attributes n3
    /// set and n4 cleared, attached at `a` under the root in slot n2.
    Bind = 33,
    /// A new filesystem of type `a` configured by `b` (NUL-terminated key, value pairs
    /// ended by an empty key; an empty value sets a flag) with mount attributes n2, attached
    /// at `c` under the root in slot n1; the mount fd stays in slot n3 unless it is
    /// `u64::MAX`.
    FsMount = 34,
    /// Directory `b` (mode n2) in directory `a` under the root in slot n1; an existing
    /// entry is fine.
    MkdirAt = 35,
    /// Empty regular file `b` (mode n2) in directory `a` under the root in slot n1; an
    /// existing entry is fine.
    CreateFileAt = 36,
    /// Symlink `b` -> `c` in directory `a` under the root in slot n1; an existing entry is
    /// fine.
    SymlinkAt = 37,
    /// `mount_setattr` of the mount at `a` under the root in slot n1: set n2, clear n3,
    /// recursively when n4 is 1.
    SetAttrAt = 38,
    /// Hides `a` under the root in slot n1: a directory under an empty read-only tmpfs,
    /// anything else under a read-only copy of the empty device in slot n2. With
    /// [`crate::fs::OPTIONAL`] in n3 a missing path is fine.
    MaskAt = 39,
    /// Makes `a` under the root in slot n1, and everything below it, read-only, nosuid,
    /// nodev and noexec. With [`crate::fs::OPTIONAL`] in n3 a missing path is fine.
    ReadOnlyAt = 60,
    /// Closes every fd in the slot table.
    CloseSlots = 61,
    /// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a new anonymous session keyring, so the
    /// caller's keys are out of reach.
    NewSessionKeyring = 63,
    /// `chdir(a)`; when `a` does not exist (or is not a searchable directory) there,
    /// `chdir("/")` instead and note [`Notes::CWD_FALLBACK`].
    ChdirOrRoot = 64,
    /// Locks every mount of the mount namespace: the process becomes dumpable again (so
    /// that /proc/self is its own), then `unshare(CLONE_NEWUSER | CLONE_NEWNS)`
    /// copies them into a namespace owned by a new user namespace, where the kernel forbids
    /// unmounting them, or clearing their read-only, nosuid, nodev and noexec flags, even to
    /// a holder of CAP_SYS_ADMIN. Then "deny" to setgroups, the n2 bytes at `b` to gid_map
    /// and the n1 bytes at `a` to uid_map (the caller's own ids, mapped to themselves).
    LockMounts = 65,
    /// `capset`: effective n1, permitted n2, inheritable n3, each first narrowed to what the
    /// child holds (never a gain).
    SetCapSets = 40,
    /// `seccomp(SECCOMP_SET_MODE_FILTER, 0, {n1, a})`: installs the n1 BPF instructions
    /// (`struct sock_filter`, 8 bytes each) at `a`.
    SeccompFilter = 41,
}

/// One setup step. Pointers point into memory the parent owns and keeps alive until the
/// child has exec'd or exited.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Op {
    /// What to do.
    pub kind: OpKind,
    /// First pointer argument (usually a NUL-terminated path).
    pub a: *const u8,
    /// Second pointer argument.
    pub b: *const u8,
    /// Third pointer argument.
    pub c: *const u8,
    /// Fourth pointer argument.
    pub d: *const u8,
    /// First number.
    pub n1: u64,
    /// Second number.
    pub n2: u64,
    /// Third number.
    pub n3: u64,
    /// Fourth number.
    pub n4: u64,
    /// Fifth number.
    pub n5: u64,
}

impl Op {
    /// An op of `kind` with every argument empty.
    pub const fn new(kind: OpKind) -> Op {
        Op {
            kind,
            a: core::ptr::null(),
            b: core::ptr::null(),
            c: core::ptr::null(),
            d: core::ptr::null(),
            n1: 0,
            n2: 0,
            n3: 0,
            n4: 0,
            n5: 0,
        }
    }
}

/// Everything a program child needs between clone and exec.
#[repr(C)]
#[derive(Debug)]
pub struct Plan {
    /// Setup steps, run in order.
    pub ops: *const Op,
    /// Number of `ops`.
    pub n_ops: usize,
    /// Null-terminated list of full paths to try with `execve`, in order (PATH search
    /// pre-computed by the parent).
    pub candidates: *const *const c_char,
    /// Null-terminated argv.
    pub argv: *const *const c_char,
    /// Null-terminated envp.
    pub envp: *const *const c_char,
    /// For fds 0, 1, 2: the fd to install there, or -1 to inherit.
    pub stdio: [i32; 3],
    /// Fds to keep open across exec besides 0-2 (they lose FD_CLOEXEC).
    pub keep_fds: *const i32,
    /// Number of `keep_fds`.
    pub n_keep_fds: usize,
    /// Mark every fd above 2 close-on-exec (except `keep_fds`).
    pub close_other_fds: bool,
    /// Touch no fd at all (the fd table is shared with the parent through CLONE_FILES).
    pub fd_table_shared: bool,
    /// Reset every handled signal to SIG_DFL (when CLONE_CLEAR_SIGHAND was not available and
    /// the handler table is not shared).
    pub reset_signals: bool,
    /// The signal mask to restore just before exec.
    pub sigmask: u64,
    /// Read one byte from this fd before any step (-1: don't wait).
    pub sync_fd: i32,
    /// The parent's end of the sync channel, closed before waiting so that the parent's
    /// death reads as EOF (-1: none).
    pub sync_peer_fd: i32,
    /// Write a [`Report`] here on failure (-1: none).
    pub report_fd: i32,
    /// Also store the [`Report`] here (meaningful when memory is shared with the parent).
    pub report_slot: *mut Report,
    /// The fd slot table that fd-based ops fill and read (`n_slots` entries, -1 when
    /// empty); memory the child may write.
    pub slots: *mut i32,
    /// Number of `slots`.
    pub n_slots: usize,
    /// End only this task on failure (`exit`), not its thread group: the child is a
    /// CLONE_THREAD member of the parent's group, and exit_group would end the parent too.
    pub exit_task_only: bool,
}
