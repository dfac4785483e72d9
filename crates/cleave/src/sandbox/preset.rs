//! [`Preset`]: what `sandbox` and `container` mean, as changes to a [`SandboxSpec`].
use super::spec::{Capabilities, SandboxSpec};
use crate::error::{Error, MountProblem, Origin, Result};
use crate::flags::CloneFlags;
use crate::idmap::{IdMap, IdMapping};
use crate::mount::MountOp;

/// The namespaces of both presets.
pub const NAMESPACES: CloneFlags = CloneFlags::NEWUSER
    .union(CloneFlags::NEWPID)
    .union(CloneFlags::NEWNS)
    .union(CloneFlags::NEWUTS)
    .union(CloneFlags::NEWIPC)
    .union(CloneFlags::NEWNET)
    .union(CloneFlags::NEWCGROUP);

/// The host id a root caller's sandbox runs as by default: nobody, so that root inside is
/// not the host's root on whatever the sandbox can reach (a root-only unix socket under a
/// read-only /run still answers a connect(2) from uid 0).
pub const ROOT_CALLER_ID: u32 = 65534;

/// A ready-made sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The host's filesystem read-only, with a fresh /proc, a minimal /dev and a tmpfs /tmp.
    Sandbox,
    /// A new root (`filesystem.rootfs`, required) with a fresh /proc, /dev and /tmp.
    Container,
}

impl Preset {
    /// Turns `spec` into this preset's sandbox: every namespace but time, the standard
    /// mounts before the spec's own, no capabilities (those in `spec` are kept on top),
    /// no_new_privs, a new session and session keyring, /sys/firmware hidden, and for a
    /// root caller a map of root inside to nobody outside (an explicit map set afterwards
    /// replaces it).
    pub fn apply(self, spec: &mut SandboxSpec) -> Result<()> {
        self.apply_as(spec, rustix::process::geteuid().as_raw())
    }

    /// [`Preset::apply`] for a caller with this effective uid.
    pub(crate) fn apply_as(self, spec: &mut SandboxSpec, caller_euid: u32) -> Result<()> {
        if self == Preset::Container && spec.filesystem.rootfs.is_none() {
            return Err(Error::Invalid {
                origin: Origin::Rootfs,
                problem: MountProblem::Rootfs {
                    path: "".into(),
                    errno: libc::ENOENT,
                }
                .into(),
            });
        }
        spec.namespaces.new |= NAMESPACES;
        let mut mounts = Vec::new();
        if self == Preset::Sandbox {
            mounts.push(MountOp::RemountRo { dst: "/".into() });
        }
        mounts.extend(standard_mounts());
        spec.filesystem.ops.splice(0..0, mounts);
        if spec.security.capabilities.is_none() {
            spec.security.capabilities = Some(Capabilities::default());
        }
        spec.security.no_new_privs = true;
        spec.security.new_session = true;
        spec.security.new_session_keyring = true;
        if caller_euid == 0 && spec.ids.mapping == IdMapping::Root {
            spec.ids.mapping = IdMapping::Custom {
                users: vec![IdMap::single(0, ROOT_CALLER_ID)],
                groups: vec![IdMap::single(0, ROOT_CALLER_ID)],
            };
        }
        Ok(())
    }

    /// The number of mount operations [`Preset::apply`] puts before the spec's own.
    pub fn mount_count(self) -> usize {
        standard_mounts().len() + usize::from(self == Preset::Sandbox)
    }
}

/// /proc, a minimal /dev, a tmpfs /tmp and /sys/firmware hidden: what both presets mount.
pub fn standard_mounts() -> [MountOp; 4] {
    [
        MountOp::Proc {
            dst: "/proc".into(),
        },
        MountOp::Dev { dst: "/dev".into() },
        MountOp::Tmpfs {
            dst: "/tmp".into(),
            mode: None,
            size: None,
        },
        MountOp::Mask {
            dst: "/sys/firmware".into(),
        },
    ]
}
