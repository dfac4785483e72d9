//! A sandbox's filesystem as an ordered list of typed operations, checked in the parent
//! (`mount::model`) and compiled into the child's setup steps (`mount::compile`), which
//! resolve every destination inside the new root through file descriptors. See
//! mount_namespaces(7) and pivot_root(2).
mod compile;
mod data;
mod dev;
mod model;
mod newfs;
mod shadow;

pub(crate) use compile::Facts;
pub use dev::DeviceKind;
pub(crate) use newfs::CgroupContext;

use crate::error::{Error, Result};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// What every procfs cleave mounts makes read-only (relative to the procfs): writes there
/// reach the host kernel, whatever namespace the writer is in (runc's default list).
pub const PROC_READ_ONLY: [&str; 5] = ["sys", "sysrq-trigger", "irq", "bus", "fs"];

/// What every procfs cleave mounts hides (relative to the procfs): kernel memory, other
/// users' keys, timers and scheduler internals of the whole host (runc's default list).
pub const PROC_MASKED: [&str; 7] = [
    "kcore",
    "keys",
    "timer_list",
    "latency_stats",
    "sched_debug",
    "scsi",
    "acpi",
];

/// One filesystem operation, applied in the order given. Every DST is an absolute path inside
/// the sandbox (under the new root when there is one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountOp {
    /// Bind SRC (a host path) on DST, recursively; devices on it do not work (nodev).
    Bind {
        /// Host path.
        src: PathBuf,
        /// Path inside.
        dst: PathBuf,
        /// Skip the operation when the source does not exist (bubblewrap's `-try`
        /// forms).
        optional: bool,
    },
    /// Like [`MountOp::Bind`], read-only (recursively).
    RoBind {
        /// Host path.
        src: PathBuf,
        /// Path inside.
        dst: PathBuf,
        /// Skip the operation when the source does not exist (bubblewrap's `-try`
        /// forms).
        optional: bool,
    },
    /// Like [`MountOp::Bind`], with device nodes usable.
    DevBind {
        /// Host path.
        src: PathBuf,
        /// Path inside.
        dst: PathBuf,
        /// Skip the operation when the source does not exist (bubblewrap's `-try`
        /// forms).
        optional: bool,
    },
    /// A fresh tmpfs, owned by the program's uid and gid (as bubblewrap's), nosuid and
    /// nodev. On "/" it becomes the program's root (bubblewrap's usual start), as does a
    /// bind or an overlay there.
    Tmpfs {
        /// Path inside.
        dst: PathBuf,
        /// Mode of its root directory; default 0755.
        mode: Option<u32>,
        /// Its size limit in bytes (rounded up to pages by the kernel); default the
        /// kernel's (half of the RAM).
        size: Option<u64>,
    },
    /// A procfs of the sandbox's PID namespace, with [`PROC_READ_ONLY`] read-only and
    /// [`PROC_MASKED`] hidden. When the sandbox has no PID namespace of its own (new or
    /// joined), the caller's /proc is bound instead (as bubblewrap does: a new procfs of the
    /// caller's PID namespace needs privilege over it), nosuid, nodev, noexec, with the
    /// same paths read-only and hidden.
    Proc {
        /// Path inside.
        dst: PathBuf,
    },
    /// A minimal /dev: null zero full random urandom tty, a private devpts with ptmx, and a
    /// tmpfs shm.
    Dev {
        /// Path inside.
        dst: PathBuf,
    },
    /// An empty directory (and its parents). An existing directory is left as it is.
    Dir {
        /// Path inside.
        dst: PathBuf,
        /// Mode of the directory when it is made; default 0755. Missing parents get 0755,
        /// less the group and other bits this mode clears (bubblewrap's rule). The umask
        /// applies, as to mkdir(2).
        mode: Option<u32>,
    },
    /// A symbolic link DST -> TARGET.
    Symlink {
        /// What the link points to (kept as given).
        target: PathBuf,
        /// Path inside.
        dst: PathBuf,
    },
    /// Makes DST and everything mounted below it read-only.
    RemountRo {
        /// Path inside.
        dst: PathBuf,
    },
    /// Makes the mount at DST itself read-only (and nodev, nosuid), leaving every mount below
    /// it as it is: mount(8)'s `ro` on a remount, where [`MountOp::RemountRo`] is `rro`. Put
    /// after the mounts below DST, their mount points can still be made in it first (OCI
    /// `root.readonly`, applied last as the runtime-spec's runtimes do).
    RemountRoTop {
        /// Path inside.
        dst: PathBuf,
    },
    /// Hides DST: a directory under an empty read-only tmpfs, a file under a read-only empty
    /// device. Nothing happens when DST does not exist (OCI `maskedPaths`), nor when DST is
    /// one of [`PROC_MASKED`] in a procfs cleave mounted, hidden with it and not mounted on,
    /// over or under since (one mount per path, as a runtime that does not protect /proc
    /// itself makes).
    Mask {
        /// Path inside.
        dst: PathBuf,
    },
    /// Makes DST (a file or a directory, a mount point or not) and everything below it
    /// read-only, nosuid, nodev and noexec with a copy of it mounted on itself. Nothing
    /// happens when DST does not exist (OCI `readonlyPaths`), nor when DST is one of
    /// [`PROC_READ_ONLY`] in a procfs cleave mounted, made read-only with it and not mounted
    /// on, over or under since.
    ReadOnly {
        /// Path inside.
        dst: PathBuf,
    },
    /// A new filesystem of type FSTYPE on DST (mount(8)'s `-t FSTYPE -o DATA SOURCE DST`),
    /// made with fsopen(2) and attached with move_mount(2) like every other mount.
    /// `data` is mount(8)'s comma-separated list of the filesystem's own options
    /// (`size=64m,mode=1777`, `newinstance,ptmxmode=0666`); the per-mount flags are in
    /// `flags`. Three types are special:
    /// - `proc` gets the protections of [`MountOp::Proc`] ([`PROC_READ_ONLY`], [`PROC_MASKED`]);
    /// - `tmpfs` is a fresh filesystem in which later operations may create;
    /// - `cgroup` is the sandbox's own cgroups, never the host's tree: on a host with only
    ///   cgroup2, a cgroup2 filesystem rooted at the sandbox's cgroup; on a v1 or hybrid host,
    ///   a read-only tmpfs with, for each hierarchy the host mounts under /sys/fs/cgroup, that
    ///   hierarchy rooted at the sandbox's cgroup in it (and the host's links between
    ///   co-mounted controllers). The roots are the sandbox's cgroup namespace when it has
    ///   a new one; otherwise the child makes a cgroup namespace for the mounts alone and goes
    ///   back to its own (it stays in it when a new user namespace forbids going back).
    ///   `data` must be empty.
    Mount {
        /// What mountinfo shows as the source ("tmpfs", "shm"); empty for none.
        source: String,
        /// The filesystem type ("tmpfs", "devpts", "mqueue", "sysfs", "proc", "cgroup").
        fstype: String,
        /// Path inside.
        dst: PathBuf,
        /// Per-mount flags.
        flags: MountFlags,
        /// The filesystem's options, comma-separated (`key=value` or a bare flag).
        data: String,
    },
    /// A bind mount with the flags given and nothing added: SRC (a host path) on DST, with
    /// or without what is mounted under SRC, read-only or not, each of nosuid, nodev and
    /// noexec set where asked (and cleared where not, as far as the kernel lets a copy of
    /// a locked mount), then the propagation given.
    BindMount {
        /// Host path.
        src: PathBuf,
        /// Path inside.
        dst: PathBuf,
        /// With the mounts below SRC (`rbind`), or SRC's mount alone (`bind`).
        recursive: bool,
        /// The flags of the bind (and, recursive, of every mount in it).
        flags: MountFlags,
        /// Propagation of the new mount; `None` leaves what the namespace gives it.
        propagation: Option<Propagation>,
        /// Skip the operation when the source does not exist.
        optional: bool,
    },
    /// A device node (OCI `linux.devices`): made with mknod(2) with exactly this mode and
    /// owner, where the sandbox may (root, without a new user namespace). A user namespace
    /// cannot make device nodes, so there the host's node at the same path is bound instead
    /// (as runc does): it must exist and be this device, and it keeps the host's mode and
    /// owner. An entry already at DST is left as it is. A node works only where devices
    /// are allowed: under a [`MountOp::Dev`], not on a rootfs or tmpfs (mounted nodev).
    Device {
        /// Path inside.
        dst: PathBuf,
        /// Character or block.
        kind: DeviceKind,
        /// Major number (0-4095).
        major: u32,
        /// Minor number (0-1048575).
        minor: u32,
        /// Permission bits (e.g. 0o666).
        mode: u32,
        /// Owner, as an id inside.
        uid: u32,
        /// Group, as an id inside.
        gid: u32,
    },
    /// A bind of what the caller's open fd FD is (a directory or a file, opened with or
    /// without O_PATH) on DST, as [`MountOp::Bind`] (bubblewrap's `--bind-fd` and
    /// `--ro-bind-fd`). The fd stays open in the caller; the program does not get it.
    BindFd {
        /// The caller's fd.
        fd: RawFd,
        /// Path inside.
        dst: PathBuf,
        /// Read-only.
        read_only: bool,
    },
    /// A new regular file at DST holding everything FD reads until end of file
    /// (bubblewrap's `--file`), with exactly `mode` (the umask does not apply) and owned
    /// by the program's uid and gid. Nothing may exist at DST: a file (or a planted
    /// symlink) there is an error, never overwritten or followed.
    File {
        /// The caller's fd (a pipe, a file...), read in the child.
        fd: RawFd,
        /// Path inside.
        dst: PathBuf,
        /// Mode of the file (bubblewrap's default: 0666).
        mode: u32,
    },
    /// A file holding everything FD reads, on a private tmpfs nothing else reaches, bound
    /// on DST (bubblewrap's `--bind-data` and `--ro-bind-data`), with exactly `mode` and
    /// owned by the program's uid and gid. DST is made when missing. Needs Linux 6.15 or
    /// newer (a bind from a mount attached nowhere).
    BindData {
        /// The caller's fd.
        fd: RawFd,
        /// Path inside.
        dst: PathBuf,
        /// Mode of the file (bubblewrap's default: 0600).
        mode: u32,
        /// Read-only.
        read_only: bool,
    },
    /// A new POSIX message queue filesystem (mqueue) on DST: the queues of the sandbox's
    /// IPC namespace (a new one needs `ipc` among the namespaces without root).
    Mqueue {
        /// Path inside.
        dst: PathBuf,
    },
    /// An overlay filesystem on DST (bubblewrap's `--overlay`, `--tmp-overlay` and
    /// `--ro-overlay`): the host directories `sources` under it, the first at the bottom
    /// (a file in several is read from the last), and writes going where `writes` says.
    /// The sources are opened before anything is mounted, as bind sources are. Mounted
    /// nodev.
    Overlay {
        /// Host directories, the bottom layer first.
        sources: Vec<PathBuf>,
        /// Where writes go.
        writes: OverlayWrites,
        /// Path inside.
        dst: PathBuf,
    },
    /// Sets the permission bits of DST, which must exist, to `mode` (bubblewrap's
    /// `--chmod`; symlinks followed inside the sandbox). It changes the object itself:
    /// one bound from the host or a rootfs changes there too. Needs Linux 6.6 or newer.
    Chmod {
        /// Path inside.
        dst: PathBuf,
        /// The permission bits (at most 0o7777).
        mode: u32,
    },
    /// Sets the propagation type of the mount on DST, which an earlier operation mounted
    /// (OCI `mounts[i].options` such as `shared` on a tmpfs or `runbindable` on a bind):
    /// mount_setattr(2)'s propagation, on that mount alone or, `recursive`, on every mount
    /// below it too. A shared mount here has peers only among the sandbox's own mounts: the
    /// namespace's propagation from the host is [`Filesystem::propagation`]'s.
    Propagate {
        /// Path inside: a mount point.
        dst: PathBuf,
        /// The type, and whether the mounts below get it too.
        propagation: RootPropagation,
    },
}

/// Where the writes to a [`MountOp::Overlay`] go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverlayWrites {
    /// To the host directory `upper` (it also is the top layer), with `work` an empty
    /// directory on the same filesystem that the kernel uses (overlayfs's upperdir and
    /// workdir).
    To {
        /// Host directory that receives the writes.
        upper: PathBuf,
        /// Host directory, empty, on `upper`'s filesystem.
        work: PathBuf,
    },
    /// To a tmpfs nothing else reaches, gone with the sandbox.
    Discarded,
    /// Nowhere: the overlay is read-only (it then needs two sources at least).
    ReadOnly,
}

impl MountOp {
    /// The path inside the sandbox this op acts on.
    pub fn dst(&self) -> &Path {
        match self {
            MountOp::Bind { dst, .. }
            | MountOp::RoBind { dst, .. }
            | MountOp::DevBind { dst, .. }
            | MountOp::Tmpfs { dst, .. }
            | MountOp::Proc { dst }
            | MountOp::Dev { dst }
            | MountOp::Dir { dst, .. }
            | MountOp::Symlink { dst, .. }
            | MountOp::RemountRo { dst }
            | MountOp::RemountRoTop { dst }
            | MountOp::Mask { dst }
            | MountOp::ReadOnly { dst }
            | MountOp::Device { dst, .. }
            | MountOp::Mount { dst, .. }
            | MountOp::BindMount { dst, .. }
            | MountOp::BindFd { dst, .. }
            | MountOp::File { dst, .. }
            | MountOp::BindData { dst, .. }
            | MountOp::Mqueue { dst }
            | MountOp::Overlay { dst, .. }
            | MountOp::Chmod { dst, .. }
            | MountOp::Propagate { dst, .. } => dst,
        }
    }
}

/// When a mount updates access times (mount(8)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Atime {
    /// `relatime`: when the file changed since the last access, or once a day (the
    /// kernel's default).
    #[default]
    Relatime,
    /// `noatime`: never.
    NoAtime,
    /// `strictatime`: on every access.
    StrictAtime,
}

/// The per-mount flags of [`MountOp::Mount`] and [`MountOp::BindMount`] (mount_setattr(2)'s
/// `MOUNT_ATTR_*`). `Default` is a writable mount with setuid bits, devices and exec
/// allowed, relatime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MountFlags {
    /// `ro`.
    pub read_only: bool,
    /// `nosuid`: setuid and setgid bits and file capabilities do nothing.
    pub nosuid: bool,
    /// `nodev`: device nodes do not open.
    pub nodev: bool,
    /// `noexec`: nothing executes from it.
    pub noexec: bool,
    /// Access times.
    pub atime: Atime,
    /// `nodiratime`: directories' access times never change.
    pub nodiratime: bool,
}

impl MountFlags {
    /// The `MOUNT_ATTR_*` bits to set.
    pub(crate) fn attrs(&self) -> u64 {
        let mut a = 0;
        for (on, bit) in [
            (self.read_only, compile::MOUNT_ATTR_RDONLY),
            (self.nosuid, compile::MOUNT_ATTR_NOSUID),
            (self.nodev, compile::MOUNT_ATTR_NODEV),
            (self.noexec, compile::MOUNT_ATTR_NOEXEC),
            (self.nodiratime, compile::MOUNT_ATTR_NODIRATIME),
        ] {
            if on {
                a |= bit;
            }
        }
        a | match self.atime {
            Atime::Relatime => 0,
            Atime::NoAtime => compile::MOUNT_ATTR_NOATIME,
            Atime::StrictAtime => compile::MOUNT_ATTR_STRICTATIME,
        }
    }
}

/// Mount propagation between the sandbox and the host (mount_namespaces(7)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// No events in either direction (the default).
    #[default]
    Private,
    /// Host mounts appear inside; nothing flows out.
    Slave,
    /// Both directions (where the host's mounts are shared).
    Shared,
    /// Leave the inherited propagation alone.
    Unchanged,
}

impl std::str::FromStr for Propagation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Propagation> {
        Ok(match s {
            "private" => Propagation::Private,
            "slave" => Propagation::Slave,
            "shared" => Propagation::Shared,
            "unchanged" => Propagation::Unchanged,
            _ => {
                return Err(Error::Invalid {
                    origin: crate::error::Origin::Propagation,
                    problem: crate::error::MountProblem::UnknownPropagation(s.to_string()).into(),
                })
            }
        })
    }
}

/// The propagation type given to the new root's mount after pivot_root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootPropagation {
    /// The type.
    pub mode: RootPropagationMode,
    /// Also every mount below the root (`rshared`, `runbindable`).
    pub recursive: bool,
}

/// A propagation type of mount_namespaces(7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootPropagationMode {
    /// MS_SHARED: binds of the root are its peers.
    Shared,
    /// MS_SLAVE.
    Slave,
    /// MS_PRIVATE.
    Private,
    /// MS_UNBINDABLE: the root cannot be bound elsewhere.
    Unbindable,
}

/// The filesystem part of a sandbox.
#[derive(Clone, Debug, Default)]
pub struct Filesystem {
    /// The new root (pivot_root); `None` keeps the host's root. Nothing is created in it:
    /// a mount point it lacks goes on a tmpfs laid over the directory that lacks it, with
    /// that directory's entries bound back (see the operations for what they write).
    pub rootfs: Option<PathBuf>,
    /// Operations, in order.
    pub ops: Vec<MountOp>,
    /// Propagation of "/" in the new mount namespace.
    pub propagation: Propagation,
    /// Propagation of the new root's own mount, set after pivot_root (OCI
    /// `linux.rootfsPropagation` shared or unbindable): what binds of it and mounts under it
    /// share inside the sandbox. The host stays apart ([`Filesystem::propagation`]).
    pub root_propagation: Option<RootPropagation>,
    /// Working directory inside. Default: the caller's, looked up again inside once
    /// everything is mounted, or "/" when it does not exist there.
    pub chdir: Option<PathBuf>,
}
