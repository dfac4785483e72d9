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
    /// Setup is done and the child waits at its start barrier ([`Op::WaitForStart`]): the
    /// parent stops reading the report channel here instead of at exec.
    pub const WAITING_FOR_START: u32 = 2;
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

/// A NUL-terminated string the parent built (a path, a filesystem type).
#[derive(Clone, Copy, Debug)]
pub struct Str(pub *const u8);

/// Bytes the parent built: `len` bytes at `ptr` (8-byte aligned when they are a
/// structure, such as a BPF program).
#[derive(Clone, Copy, Debug)]
pub struct Bytes {
    /// Where.
    pub ptr: *const u8,
    /// How many.
    pub len: usize,
}

/// An index into the plan's fd slot table ([`Plan::slots`]).
pub type Slot = u32;

/// One setup step, typed. `S` is how a NUL-terminated string travels and `B` how bytes do:
/// the parent builds `Op<OwnedString, OwnedBytes>` values and lowers them with
/// [`Op::lower`] into the `Op<Str, Bytes>` the child runs, whose pointers point into memory
/// the parent keeps alive until the child has exec'd or exited. Unless noted, an op fails
/// with the errno of its system call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op<S = Str, B = Bytes> {
    /// `sethostname(name)`.
    SetHostname {
        /// The name.
        name: B,
    },
    /// `setdomainname(name)`.
    SetDomainname {
        /// The name.
        name: B,
    },
    /// `chdir(path)`.
    Chdir {
        /// Where.
        path: S,
    },
    /// `chdir(path)`; when it does not exist (or is not a searchable directory) there,
    /// `chdir("/")` instead and note [`Notes::CWD_FALLBACK`].
    ChdirOrRoot {
        /// Where.
        path: S,
    },
    /// `mount(NULL, "/", NULL, flags, NULL)`: the propagation of "/" (MS_REC | MS_PRIVATE,
    /// MS_SLAVE or MS_SHARED).
    Propagation {
        /// MS_* flags.
        flags: u64,
    },
    /// Opens `path` (`openat(AT_FDCWD, path, flags)`) into `slot`: a source or the rootfs,
    /// before the first change to the tree.
    OpenPath {
        /// What.
        path: S,
        /// open(2) flags.
        flags: u64,
        /// Where the fd goes.
        slot: Slot,
    },
    /// Fails with ESTALE unless the fd in `slot` is device `dev`, inode `ino` (what the
    /// parent checked is what the child got).
    CheckIdentity {
        /// The fd.
        slot: Slot,
        /// st_dev.
        dev: u64,
        /// st_ino.
        ino: u64,
    },
    /// A recursive copy of the directory in `dir`, nodev, attached on itself; its root goes
    /// to `root`, the sandbox's root from then on.
    BindRoot {
        /// The rootfs directory.
        dir: Slot,
        /// Where the new root goes.
        root: Slot,
    },
    /// A copy of the mount at the source in `src` (with its submounts when `recursive`),
    /// mount attributes `set` set and `clear` cleared, attached at `dst` under `root`; its
    /// mount fd stays in `keep` (the new root, for a bind on "/").
    Bind {
        /// The source.
        src: Slot,
        /// The root the destination is looked up in.
        root: Slot,
        /// The destination, relative to `root`.
        dst: S,
        /// MOUNT_ATTR_* to set.
        set: u64,
        /// MOUNT_ATTR_* to clear.
        clear: u64,
        /// With submounts.
        recursive: bool,
        /// Where the mount fd stays, if anywhere.
        keep: Option<Slot>,
    },
    /// A new filesystem of type `fstype` configured by `options` (NUL-terminated key,
    /// value pairs ended by an empty key; an empty value sets a flag), with mount
    /// attributes `attrs`, attached at `dst` under `root`; its mount fd stays in `keep`.
    FsMount {
        /// "tmpfs", "proc", "devpts"...
        fstype: S,
        /// The options.
        options: B,
        /// MOUNT_ATTR_*.
        attrs: u64,
        /// The root the destination is looked up in.
        root: Slot,
        /// The destination, relative to `root`.
        dst: S,
        /// Where the mount fd stays, if anywhere.
        keep: Option<Slot>,
    },
    /// Directory `name` (mode `mode`) in directory `parent` under `root`; an existing
    /// entry is fine.
    MkdirAt {
        /// The root `parent` is looked up in.
        root: Slot,
        /// The directory, relative to `root`.
        parent: S,
        /// The new entry.
        name: S,
        /// Its mode.
        mode: u32,
    },
    /// Empty regular file `name` (mode `mode`) in directory `parent` under `root`; an
    /// existing entry is fine.
    CreateFileAt {
        /// The root `parent` is looked up in.
        root: Slot,
        /// The directory, relative to `root`.
        parent: S,
        /// The new entry.
        name: S,
        /// Its mode.
        mode: u32,
    },
    /// Symlink `name` -> `target` in directory `parent` under `root`; an existing entry is
    /// fine.
    SymlinkAt {
        /// The root `parent` is looked up in.
        root: Slot,
        /// The directory, relative to `root`.
        parent: S,
        /// The new entry.
        name: S,
        /// What it points to.
        target: S,
    },
    /// `mount_setattr` of the mount at `path` under `root`.
    SetAttrAt {
        /// The root `path` is looked up in.
        root: Slot,
        /// The mount, relative to `root`.
        path: S,
        /// MOUNT_ATTR_* to set.
        set: u64,
        /// MOUNT_ATTR_* to clear.
        clear: u64,
        /// MS_PRIVATE, MS_SLAVE, MS_SHARED or MS_UNBINDABLE; 0 leaves the propagation.
        propagation: u64,
        /// With submounts.
        recursive: bool,
    },
    /// Hides `path` under `root`: a directory under an empty read-only tmpfs, anything else
    /// under a read-only copy of the empty device in `empty`. A missing path is fine.
    MaskAt {
        /// The root `path` is looked up in.
        root: Slot,
        /// What, relative to `root`.
        path: S,
        /// The empty device (/dev/null).
        empty: Slot,
    },
    /// Makes `path` under `root`, and everything below it, read-only, nosuid, nodev and
    /// noexec. A missing path is fine.
    ReadOnlyAt {
        /// The root `path` is looked up in.
        root: Slot,
        /// What, relative to `root`.
        path: S,
    },
    /// The directory in `root` becomes "/": `fchdir`, `pivot_root(".", ".")`, the old root
    /// stacked on top is detached, `chdir("/")`. Nothing of the old root stays reachable.
    PivotRoot {
        /// The new root.
        root: Slot,
    },
    /// Detaches the `count` mounts the sandbox stacked on "/" (the topmost first: `chdir("/")`
    /// then a lazy unmount of ".", which reaches the top of the stack) and opens "/" again
    /// into `root`, before something else is mounted on "/". Without it the new root would
    /// sit on top of them, and after the pivot the old root would stay stacked above the
    /// program's root with them: the program would count as chrooted, and the kernel
    /// refuses a chrooted process new user namespaces.
    UnstackRoot {
        /// Where the fd of "/" goes (the previous fd there is closed).
        root: Slot,
        /// How many mounts to detach.
        count: u32,
    },
    /// Detaches the `count` topmost mounts at `dst` (inside `root`; each time the entry is
    /// looked up again and made the working directory, and a lazy unmount of "." reaches
    /// the top of its stack), then makes "/" the working directory again. A recursive bind
    /// of the caller's "/" copies what the sandbox stacked on "/" before (`--tmpfs /` and
    /// what went on it): without this the bind would show the sandbox's own root at `dst`
    /// where the host's was asked for (bubblewrap's `--ro-bind / /host` over its tmpfs root).
    UnstackAt {
        /// The root the entry is looked up in.
        root: Slot,
        /// The entry, relative to `root`.
        dst: S,
        /// How many mounts to detach.
        count: u32,
    },
    /// Closes every fd in the slot table below `keep` (Slot::MAX: all); those from `keep`
    /// on are left to later ops.
    CloseSlots {
        /// The first slot left open.
        keep: Slot,
    },
    /// Puts a detached copy of the procfs mount on /proc (`open_tree(OPEN_TREE_CLONE |
    /// AT_RECURSIVE)`, close-on-exec) into `slot`, or leaves the slot absent when /proc is
    /// missing or is not a procfs. Run before anything changes the tree, it is the procfs
    /// of the mount namespace cleave ran in, which sees every process of the PID namespaces
    /// below the one it belongs to, and no later mount changes the copy's flags.
    OpenProc {
        /// Where the fd goes.
        slot: Slot,
    },
    /// Opens `path` for writing and writes `data` in one `write`.
    WriteFile {
        /// The file.
        path: S,
        /// What to write.
        data: B,
    },
    /// Writes `data` to `fd` (e.g. "0" to an open cgroup.procs).
    WriteFd {
        /// The fd.
        fd: i32,
        /// What to write.
        data: B,
    },
    /// `setns(fd in slot, nstype)`: joins the namespace opened into `slot`.
    SetNs {
        /// The namespace fd.
        slot: Slot,
        /// Its CLONE_NEW* type.
        nstype: u64,
    },
    /// `unshare(flags)`.
    Unshare {
        /// CLONE_* flags.
        flags: u64,
    },
    /// Checks that `unshare(CLONE_NEWUSER)` fails: if it succeeds (the program could make
    /// user namespaces) the op fails with EEXIST, and the process must not go on.
    AssertNoUserNamespaces,
    /// Locks every mount of the mount namespace: the process becomes dumpable again (so
    /// that /proc/self is its own), then `unshare(CLONE_NEWUSER | CLONE_NEWNS)` copies the
    /// mounts into a namespace owned by a new user namespace, where the kernel forbids
    /// unmounting them or clearing their read-only, nosuid, nodev and noexec flags, even
    /// to a holder of CAP_SYS_ADMIN. Then "deny" to setgroups and the maps given (the
    /// caller's own ids, mapped to themselves), written through `self/` of the procfs in
    /// `proc` ([`Op::OpenProc`], opened before the new root existed), which this op closes
    /// before it writes; with `proc` absent, read-only, or of a PID namespace that does not
    /// see this process, through the new root's /proc. Fails with ENOENT when that is no procfs.
    LockMounts {
        /// The procfs directory (closed here), or an absent slot.
        proc: Slot,
        /// uid_map text; empty: the process's own uid, mapped to itself (ids the parent
        /// could not know, maps written by someone else).
        uid_map: B,
        /// gid_map text; empty: as `uid_map`, with the gid.
        gid_map: B,
    },
    /// Brings interface `lo` up (a fresh network namespace starts with it down).
    LoopbackUp,
    /// `prlimit64(0, resource, {soft, hard}, NULL)`.
    SetRlimit {
        /// RLIMIT_*.
        resource: u32,
        /// Soft limit.
        soft: u64,
        /// Hard limit.
        hard: u64,
    },
    /// `setsid()`.
    Setsid,
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    NoNewPrivs,
    /// `prctl(PR_SET_PDEATHSIG, signal)`; then fails with ESRCH unless `getppid()` is still
    /// `parent` (the parent died before the request took effect), when it is not 0.
    ParentDeathSignal {
        /// The signal.
        signal: i32,
        /// The parent's pid, or 0 for no check.
        parent: i32,
    },
    /// `prctl(PR_SET_KEEPCAPS, keep)`.
    KeepCaps {
        /// Keep or not.
        keep: bool,
    },
    /// Identity: `setgroups(0, NULL)` when `clear_groups`, then `setresgid(gid)`,
    /// `setresuid(uid)`.
    SetIds {
        /// The uid.
        uid: u32,
        /// The gid.
        gid: u32,
        /// Clear the supplementary groups first.
        clear_groups: bool,
    },
    /// Drops every capability not in `keep` from the bounding set.
    DropBounding {
        /// Mask of `1 << CAP_*`.
        keep: u64,
    },
    /// `capset`: effective = permitted = inheritable = `mask`, narrowed to what is held.
    SetCaps {
        /// Mask of `1 << CAP_*`.
        mask: u64,
    },
    /// `capset` with the three sets, each narrowed first to what the child holds.
    SetCapSets {
        /// Effective.
        effective: u64,
        /// Permitted.
        permitted: u64,
        /// Inheritable.
        inheritable: u64,
    },
    /// Clears the ambient set, then raises every capability of `mask` in it.
    Ambient {
        /// Mask of `1 << CAP_*`.
        mask: u64,
    },
    /// `seccomp(SECCOMP_SET_MODE_FILTER, 0, {len, filter})`: a classic BPF program
    /// (`struct sock_filter`, 8 bytes an instruction).
    SeccompFilter {
        /// The instructions.
        filter: B,
    },
    /// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a new anonymous session keyring, so the
    /// caller's keys are out of reach.
    NewSessionKeyring,
    /// Forks: this process becomes a minimal init (PID 1 of a new PID namespace) that
    /// reaps every child, forwards signals to the program and exits with its status; the
    /// new child runs the remaining steps and the program, once the init has given up its
    /// privileges and fds. `program_stack`: the top of a stack for the program child, which
    /// is then made with CLONE_VM (0: a plain fork).
    ForkInit {
        /// Top of the program's stack, or 0.
        program_stack: u64,
    },
    /// `setgroups(n, list)`: the supplementary groups, `groups` holding `n` native-endian
    /// u32 gids.
    SetGroups {
        /// The gids.
        groups: B,
    },
    /// `umask(mask)`.
    Umask {
        /// The new mask (0 to 0o777).
        mask: u32,
    },
    /// `ioctl(fd, TIOCSCTTY, 0)`: the terminal at `fd` becomes the controlling terminal of
    /// the session this process leads (an [`Op::Setsid`] comes first). Fails with EPERM
    /// when the terminal already is another session's.
    ControllingTerminal {
        /// An fd of the terminal (the pty's slave).
        fd: i32,
    },
    /// The start barrier: tells the parent that setup is done ([`Notes::WAITING_FOR_START`]),
    /// then blocks reading one byte from `fd`. A byte or end-of-file means go; `fd` is then
    /// closed (unless the fd table is shared with the parent).
    WaitForStart {
        /// What the go-ahead comes from (a pipe, FIFO or socket).
        fd: i32,
    },
    /// Device node `name` in directory `parent` under `root`: `mknodat` with `mode` (file
    /// type S_IFCHR or S_IFBLK and permission bits, applied exactly: the umask is 0 for the
    /// call) and `dev` (the kernel's 32-bit encoding of major and minor), then `fchownat`
    /// to `uid`, `gid` without following links. An existing entry is left as it is.
    MknodAt {
        /// The root `parent` is looked up in.
        root: Slot,
        /// The directory, relative to `root`.
        parent: S,
        /// The new entry.
        name: S,
        /// S_IFCHR or S_IFBLK, and the permission bits.
        mode: u32,
        /// Major and minor, encoded.
        dev: u32,
        /// The owner.
        uid: u32,
        /// The group.
        gid: u32,
    },
    /// Looks `path` up under `root` (RESOLVE_IN_ROOT, with `flags` and O_PATH) into
    /// `slot`: an object of the sandbox's tree as it is now.
    OpenAt {
        /// The root `path` is looked up in.
        root: Slot,
        /// What, relative to `root`.
        path: S,
        /// open(2) flags besides O_PATH (O_NOFOLLOW, O_DIRECTORY).
        flags: u64,
        /// Where the fd goes.
        slot: Slot,
    },
    /// Regular file `name` in directory `parent` under `root`, made new (an existing entry,
    /// a symlink included, fails with EEXIST), given exactly `mode` (not the umask's) and
    /// the owner `uid`, `gid` (u32::MAX: unchanged), then filled with what `fd` reads until
    /// end of file.
    CopyFileAt {
        /// The root `parent` is looked up in.
        root: Slot,
        /// The directory, relative to `root`.
        parent: S,
        /// The new entry.
        name: S,
        /// Its mode.
        mode: u32,
        /// Its owner, u32::MAX for unchanged.
        uid: u32,
        /// Its group, u32::MAX for unchanged.
        gid: u32,
        /// What fills it.
        fd: i32,
    },
    /// A file made as [`Op::CopyFileAt`] on a private tmpfs that is never attached
    /// anywhere, then a bind of it, with the MOUNT_ATTR_* bits `set`, attached at `dst`
    /// under `root` (Linux 6.15 or newer: a bind from a detached mount).
    BindData {
        /// What fills the file.
        fd: i32,
        /// Its mode.
        mode: u32,
        /// Its owner, u32::MAX for unchanged.
        uid: u32,
        /// Its group, u32::MAX for unchanged.
        gid: u32,
        /// The root the destination is looked up in.
        root: Slot,
        /// The destination, relative to `root`.
        dst: S,
        /// MOUNT_ATTR_* to set on the bind.
        set: u64,
    },
    /// The permission bits of `path` under `root` become `mode` (fchmodat2 on the fd the
    /// lookup returned: Linux 6.6 or newer).
    ChmodAt {
        /// The root `path` is looked up in.
        root: Slot,
        /// What, relative to `root`.
        path: S,
        /// The new mode.
        mode: u32,
    },
    /// An overlay filesystem attached at `dst` under `root`: the directories in the slots
    /// `lowers` lists (native-endian u32 slot numbers, the top layer first) read-only
    /// under it; writes go to the directories in slots `upper` and `work`, or, when
    /// `discard`, to a private tmpfs made for it; with neither (`upper` Slot::MAX and
    /// not `discard`) it is read-only. `attrs`: MOUNT_ATTR_* of the mount.
    Overlay {
        /// The lower layers' slots.
        lowers: B,
        /// The upper directory's slot, or Slot::MAX.
        upper: Slot,
        /// The work directory's slot, or Slot::MAX.
        work: Slot,
        /// Writes go to a throw-away tmpfs.
        discard: bool,
        /// MOUNT_ATTR_*.
        attrs: u64,
        /// The root the destination is looked up in.
        root: Slot,
        /// The destination, relative to `root`.
        dst: S,
        /// Where the mount fd stays, if anywhere (the new root, for an overlay on "/").
        keep: Option<Slot>,
    },
}

/// Everything a program child needs between clone and exec.
#[repr(C)]
#[derive(Debug)]
pub struct Plan {
    /// Setup steps, run in order.
    pub ops: *const Op<Str, Bytes>,
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
    /// Signals set to SIG_DFL just before exec (bit N-1 for signal N): ones the caller
    /// ignores only for itself, which an exec and CLONE_CLEAR_SIGHAND would keep ignored.
    pub default_signals: u64,
    /// Read one byte from this fd before any step (-1: don't wait).
    pub sync_fd: i32,
    /// The parent's end of the sync channel, closed before waiting so that the parent's
    /// death reads as EOF (-1: none).
    pub sync_peer_fd: i32,
    /// Fds the parent's work after clone owns (an info fd it closes before it waits, say),
    /// closed with `sync_peer_fd` so that the parent's close is the last one (-1: none).
    pub hook_fds: [i32; 3],
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

mod lower;
