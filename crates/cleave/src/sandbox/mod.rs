//! Sandboxes: a program in new (or joined) namespaces with id maps, its own filesystem, a
//! PID-1 init, capabilities, limits and lifetime rules.
//!
//! A front end (the command line, an OCI config) fills a plain-data [`SandboxSpec`];
//! [`prepare`] checks all of it, the kernel's rules included, and lowers it into the child's
//! typed steps in [`Stage`] order without creating anything; [`Prepared::spawn`] creates the
//! cgroups and the child, as many times as it is called. [`Preset`] fills a spec the way the
//! `sandbox` and `container` presets do.
//!
//! ```no_run
//! use cleave::sandbox::{prepare, SandboxSpec};
//! use cleave::{CloneFlags, Namespace};
//! let mut spec = SandboxSpec::default();
//! spec.process.program = "sh".into();
//! spec.process.args = vec!["-c".into(), "echo $$; hostname".into()];
//! spec.namespaces.new = CloneFlags::NEWUSER | CloneFlags::NEWPID | CloneFlags::NEWUTS;
//! spec.uts.hostname = Some("box".into());
//! spec.mount_proc = true;
//! let status = prepare(&spec)?.spawn()?.wait()?;
//! # let _ = Namespace::Uts;
//! # Ok::<(), cleave::Error>(())
//! ```
mod prepare;
mod preset;
mod process;
mod running;
mod spec;

pub use prepare::{prepare, Prepared, Stage};
pub use preset::{
    standard_mounts, Preset, PresetOptions, CONTAINER_HOSTNAME, CONTAINER_PATH, NAMESPACES,
    ROOT_CALLER_ID,
};
pub use running::Running;
pub use spec::{
    Capabilities, CloneOptions, Environment, Ids, Namespaces, Process, SandboxSpec, Security,
    TimeOffsets, Uts,
};
