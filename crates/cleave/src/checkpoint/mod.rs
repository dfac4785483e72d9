//! Checkpoint and restore through CRIU: finding a CRIU that works here ([`Criu`]), and
//! describing a running process tree to it so that a dump is complete and a restore lands
//! where it should: which mounts of the tree come from outside it ([`mounts`]), which of its
//! descriptors point outside ([`fds`]), and what cleave keeps beside CRIU's images to give
//! them back at restore ([`Meta`]).
//!
//! CRIU is driven through its command line, one `criu dump` or `criu restore` per request:
//! every option the runtime needs has a command-line form, the command can be shown and run
//! again by hand, and no protobuf code is needed. CRIU's own log lands in the work directory.
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

mod criu;
pub mod fds;
pub mod init;
pub mod layer;
pub mod mounts;

pub use criu::{Criu, MIN_MAJOR};
pub use fds::Descriptor;
pub use mounts::{External, ExternalKind, MountInfo};

/// What cleave writes beside CRIU's images ([`META_FILE`] in the image directory): the
/// mounts and descriptors declared external at dump, to be given back at restore.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The mounts of the tree that come from outside it.
    pub externals: Vec<External>,
    /// The init's descriptors that point outside the tree (its stdio, say).
    pub descriptors: Vec<Descriptor>,
    /// The cgroup2 path the tree was in, relative to the hierarchy's root (`/cleave/c1`).
    #[serde(default)]
    pub cgroup2: Option<String>,
    /// The throw-away layer that was the tree's "/", made again as the restore's root.
    #[serde(default)]
    pub root_layer: Option<layer::RootLayer>,
    /// Set for a sandbox of `cleave spawn` (not a container): what its restore needs.
    #[serde(default)]
    pub sandbox: Option<SandboxImage>,
}

/// What a checkpoint of a `cleave spawn` sandbox keeps beside CRIU's images.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SandboxImage {
    /// The files cleave's init maps from outside the sandbox (see [`init`]).
    pub maps: Vec<init::Mapped>,
    /// The name it ran under (`--name`), if any.
    #[serde(default)]
    pub name: Option<String>,
}

/// The file in the image directory that holds [`Meta`].
pub const META_FILE: &str = "cleave-checkpoint.json";

impl Meta {
    /// Reads the [`META_FILE`] of an image directory.
    pub fn load(images: &std::path::Path) -> Result<Meta, CheckpointProblem> {
        let path = images.join(META_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| CheckpointProblem::Images {
            path: path.clone(),
            why: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| CheckpointProblem::Images {
            path,
            why: e.to_string(),
        })
    }

    /// Writes the [`META_FILE`] of an image directory.
    pub fn save(&self, images: &std::path::Path) -> Result<(), CheckpointProblem> {
        let path = images.join(META_FILE);
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&path, text).map_err(|e| CheckpointProblem::Images {
            path,
            why: e.to_string(),
        })
    }
}

/// Why a checkpoint or a restore cannot be done, or did not work.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointProblem {
    /// No `criu` program was found.
    #[error("criu was not found (looked in {searched})")]
    CriuMissing {
        /// Where it was looked for.
        searched: String,
    },
    /// The `criu` found is older than [`MIN_MAJOR`] or does not say its version.
    #[error("{} is criu {version}, which cannot dump or restore on this kernel: criu {MIN_MAJOR} or newer is needed", .path.display())]
    CriuTooOld {
        /// The program.
        path: PathBuf,
        /// What `criu --version` said.
        version: String,
    },
    /// `criu check` failed.
    #[error("`{} check` fails on this system: {output}", .path.display())]
    CriuCheck {
        /// The program.
        path: PathBuf,
        /// The last line it printed.
        output: String,
    },
    /// A kernel feature an option needs is missing.
    #[error("{what} needs {feature}, which this kernel does not offer (`criu check --feature {feature}` fails)")]
    KernelFeature {
        /// The request (`pre-dump`, `lazy pages`).
        what: &'static str,
        /// CRIU's name of the feature.
        feature: &'static str,
    },
    /// The tree's init is not the leader of a session inside its PID namespace.
    #[error("process {pid} is the init of its PID namespace but not a session leader there (its session {sid} is outside): CRIU cannot dump it; start the program with setsid")]
    NotSessionLeader {
        /// The init, in the caller's PID namespace.
        pid: i32,
        /// Its session id, in the caller's PID namespace.
        sid: i32,
    },
    /// Reading the process to describe it failed.
    #[error("failed to read {what} of process {pid}: {why}")]
    Describe {
        /// The process.
        pid: i32,
        /// What (`/proc/PID/mountinfo`).
        what: String,
        /// The error.
        why: String,
    },
    /// The image directory or cleave's file in it cannot be used.
    #[error("{}: {why}", .path.display())]
    Images {
        /// The path.
        path: PathBuf,
        /// The error.
        why: String,
    },
    /// CRIU ran and failed.
    #[error("criu {action} failed: {excerpt} (the whole log: {})", .log.display())]
    CriuFailed {
        /// `dump` or `restore`.
        action: &'static str,
        /// CRIU's errors, joined.
        excerpt: String,
        /// Its log file.
        log: PathBuf,
    },
    /// CRIU could not be run at all.
    #[error("failed to run {}: {why}", .path.display())]
    Run {
        /// The program.
        path: PathBuf,
        /// The error.
        why: String,
    },
}
