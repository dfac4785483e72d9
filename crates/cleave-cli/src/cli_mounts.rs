//! The mount options of `cleave spawn` that bubblewrap 0.8 has and cleave took with its
//! meaning: binds of open fds, files and bound data read from fds, mqueue, overlays, and
//! the modifiers --perms and --size, which apply to the next operation only.
use clap::Args;
use std::path::PathBuf;

/// Flattened into [`crate::cli::SandboxArgs`].
#[derive(Args, Debug, Default)]
pub struct MoreMounts {
    /// Bind what the open fd FD is (a directory or a file) on DST
    #[arg(long, num_args = 2, value_names = ["FD", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub bind_fd: Vec<PathBuf>,
    /// As --bind-fd, read-only
    #[arg(long, num_args = 2, value_names = ["FD", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub ro_bind_fd: Vec<PathBuf>,
    /// A new file DST holding what fd FD reads to its end (mode 0666 unless --perms)
    #[arg(long, num_args = 2, value_names = ["FD", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub file: Vec<PathBuf>,
    /// A private file holding what fd FD reads, bound on DST (mode 0600 unless --perms)
    #[arg(long, num_args = 2, value_names = ["FD", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub bind_data: Vec<PathBuf>,
    /// As --bind-data, read-only
    #[arg(long, num_args = 2, value_names = ["FD", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub ro_bind_data: Vec<PathBuf>,
    /// A POSIX message queue filesystem on DST (its queues: the sandbox's IPC namespace)
    #[arg(
        long,
        value_name = "DST",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub mqueue: Vec<PathBuf>,
    /// A host directory under the next --overlay, --tmp-overlay or --ro-overlay; the first
    /// given is the bottom layer (repeatable)
    #[arg(
        long,
        value_name = "SRC",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub overlay_src: Vec<PathBuf>,
    /// An overlay of the preceding --overlay-src on DST, writes going to the host
    /// directory RWSRC (WORKDIR: an empty directory on the same filesystem)
    #[arg(long, num_args = 3, value_names = ["RWSRC", "WORKDIR", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub overlay: Vec<PathBuf>,
    /// An overlay of the preceding --overlay-src on DST, writes going to a tmpfs that goes
    /// away with the sandbox
    #[arg(
        long,
        value_name = "DST",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub tmp_overlay: Vec<PathBuf>,
    /// A read-only overlay of the preceding --overlay-src (two at least) on DST
    #[arg(
        long,
        value_name = "DST",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub ro_overlay: Vec<PathBuf>,
    /// The mode of what the next --tmpfs, --dir, --file, --bind-data or --ro-bind-data
    /// makes, in octal (e.g. 0700)
    #[arg(
        long,
        value_name = "OCTAL",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub perms: Vec<PathBuf>,
    /// The size limit of the next --tmpfs, in bytes (K, M, G units read too)
    #[arg(
        long,
        value_name = "BYTES",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub size: Vec<PathBuf>,
    /// Set the permission bits of PATH (which must exist) to OCTAL
    #[arg(long, num_args = 2, value_names = ["OCTAL", "PATH"], help_heading = "Mounts (applied in the order given)")]
    pub chmod: Vec<PathBuf>,
}
