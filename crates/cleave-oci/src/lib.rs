//! # cleave-oci: OCI runtime-spec configs for cleave
//!
//! A bundle's config.json, parsed with the `oci-spec` crate, becomes a
//! [`cleave::sandbox::SandboxSpec`] through [`lower`], a pure function; what a runtime
//! needs beside it (hooks, terminal, annotations, and every value the spec cannot hold
//! yet) comes with it in [`Lowered`]. Every error names the JSON path of the value
//! (`mounts[3].destination: must be absolute`), including the library's own errors about
//! the lowered spec ([`Lowered::locate`]). [`State`] is runc's state JSON; [`features`]
//! the runtime-spec features.json document.
//!
//! ```
//! use cleave_oci::{lower, parse};
//! let config = parse(r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
//!     "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
//!     "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}"#)?;
//! let lowered = lower(&config, "/srv/bundle".as_ref())?;
//! assert_eq!(lowered.spec.filesystem.rootfs.as_deref(), Some("/srv/bundle/rootfs".as_ref()));
//! assert!(lowered.spec.as_pid1);
//! # Ok::<(), cleave_oci::OciError>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod features;
mod lower;
mod lowered;
mod mounts;
pub mod seccomp;
mod state;

pub use error::{OciError, Problem, Unsupported};
pub use features::{features, features_json, OCI_VERSION_MAX, OCI_VERSION_MIN};
pub use lower::{lower, shares_to_weight, SPEC_MAJOR};
pub use lowered::{CapabilitySets, Carried, Lowered, Note, Pending};
pub use mounts::MOUNT_OPTIONS;
pub use oci_spec;
pub use state::{rfc3339, State, Status};

/// Parses config.json text; an error names the JSON path where the text stopped making
/// sense as a runtime-spec config (`process.capabilities.bounding[2]: unknown variant ...`).
pub fn parse(text: &str) -> Result<oci_spec::runtime::Spec, OciError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        OciError::new(
            match path.as_str() {
                "." | "?" => "config.json".into(),
                _ => path,
            },
            Problem::Syntax(cleave::error::one_line(&inner.to_string())),
        )
    })
}
