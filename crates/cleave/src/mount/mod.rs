//! A sandbox's filesystem as an ordered list of typed operations, checked in the parent
//! (`mount::model`) and compiled into the child's setup steps (`mount::compile`), which
//! resolve every destination inside the new root through file descriptors. See
//! mount_namespaces(7) and pivot_root(2).
mod compile;
mod dev;
mod model;

pub use dev::DeviceKind;

use crate::error::{Error, Result};
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
    /// A fresh tmpfs (mode 0755).
    Tmpfs {
        /// Path inside.
        dst: PathBuf,
    },
    /// A procfs of the sandbox's PID namespace, with [`PROC_READ_ONLY`] read-only and
    /// [`PROC_MASKED`] hidden.
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
    /// An empty directory (and its parents).
    Dir {
        /// Path inside.
        dst: PathBuf,
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
    /// Hides DST: a directory under an empty read-only tmpfs, a file under a read-only empty
    /// device. Nothing happens when DST does not exist (OCI `maskedPaths`).
    Mask {
        /// Path inside.
        dst: PathBuf,
    },
    /// Makes DST (a file or a directory, a mount point or not) and everything below it
    /// read-only, nosuid, nodev and noexec with a copy of it mounted on itself. Nothing
    /// happens when DST does not exist (OCI `readonlyPaths`).
    ReadOnly {
        /// Path inside.
        dst: PathBuf,
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
}

impl MountOp {
    /// The path inside the sandbox this op acts on.
    pub fn dst(&self) -> &Path {
        match self {
            MountOp::Bind { dst, .. }
            | MountOp::RoBind { dst, .. }
            | MountOp::DevBind { dst, .. }
            | MountOp::Tmpfs { dst }
            | MountOp::Proc { dst }
            | MountOp::Dev { dst }
            | MountOp::Dir { dst }
            | MountOp::Symlink { dst, .. }
            | MountOp::RemountRo { dst }
            | MountOp::Mask { dst }
            | MountOp::ReadOnly { dst }
            | MountOp::Device { dst, .. } => dst,
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

/// The filesystem part of a sandbox.
#[derive(Clone, Debug, Default)]
pub struct Filesystem {
    /// The new root (pivot_root); `None` keeps the host's root.
    pub rootfs: Option<PathBuf>,
    /// Operations, in order.
    pub ops: Vec<MountOp>,
    /// Propagation of "/" in the new mount namespace.
    pub propagation: Propagation,
    /// Working directory inside. Default: the caller's, looked up again inside once
    /// everything is mounted, or "/" when it does not exist there.
    pub chdir: Option<PathBuf>,
}
