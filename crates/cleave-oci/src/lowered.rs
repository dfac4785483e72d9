//! [`Lowered`]: the sandbox specification a config.json became, what the runtime layer
//! acts on beside it, and the way back from a library error to the config's JSON path.
use crate::error::{OciError, Problem};
use cleave::error::Origin;
use cleave::sandbox::SandboxSpec;
use cleave::Namespace;
use oci_spec::runtime::{
    Hooks, LinuxDevice, LinuxPersonality, LinuxResources, LinuxSeccomp, Scheduler,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A config.json lowered: the [`SandboxSpec`] to prepare, what the runtime layer does
/// itself ([`Carried`]), every config value the spec does not apply yet ([`Lowered::pending`])
/// and where cleave does more than the config asked ([`Lowered::notes`]).
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The sandbox.
    pub spec: SandboxSpec,
    /// Values kept for the runtime layer.
    pub carried: Carried,
    /// JSON paths of config values present that `spec` does not apply: the runtime layer
    /// applies each one itself or refuses the config. Nothing is dropped silently.
    pub pending: Vec<Pending>,
    /// Where the lowered sandbox is stricter than the config (a mount flag added).
    pub notes: Vec<Note>,
    /// For each of `spec.filesystem.ops`, the JSON path it came from.
    pub(crate) mount_paths: Vec<String>,
    /// For each namespace joined, the JSON path of its entry.
    pub(crate) join_paths: Vec<(Namespace, String)>,
}

/// A config value the [`SandboxSpec`] does not apply: the runtime layer must.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Its JSON path (`linux.sysctl`, `linux.resources.memory.swap`).
    pub path: String,
    /// Where the runtime finds it.
    pub what: &'static str,
}

/// A place where the lowered sandbox is stricter than the config asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The JSON path.
    pub path: String,
    /// What cleave does beyond the config.
    pub what: &'static str,
}

/// The five capability sets of `process.capabilities`, as masks of `1 << CAP_*`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapabilitySets {
    /// Bounding.
    pub bounding: u64,
    /// Effective.
    pub effective: u64,
    /// Permitted.
    pub permitted: u64,
    /// Inheritable.
    pub inheritable: u64,
    /// Ambient.
    pub ambient: u64,
}

/// What a runtime needs from config.json beside the [`SandboxSpec`]: lifecycle values
/// (hooks, terminal, annotations) and values the spec cannot hold yet. Each of the latter
/// also appears in [`Lowered::pending`] when present.
#[derive(Clone, Debug, Default)]
pub struct Carried {
    /// `ociVersion`.
    pub oci_version: String,
    /// The bundle directory the config came from.
    pub bundle: PathBuf,
    /// The root filesystem (`root.path` resolved against the bundle).
    pub rootfs: PathBuf,
    /// With no `linux.resources.devices`: the device rules runc applies by default (every
    /// device denied, then mknod of any, the runtime-spec's default devices, ptys, the console,
    /// /dev/net/tun and the nodes the config makes). The runtime applies them where the host
    /// has the v1 devices controller and the container gets a cgroup (not rootless).
    pub default_devices: Option<Vec<cleave::cgroup::DeviceRule>>,
    /// `hooks`, run by the runtime at the times the runtime-spec sets.
    pub hooks: Option<Hooks>,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `process.terminal`: a pty for the process, its master sent over the console socket.
    pub terminal: bool,
    /// `process.consoleSize`: (height, width).
    pub console_size: Option<(u64, u64)>,
    /// `process.oomScoreAdj`.
    pub oom_score_adj: Option<i32>,
    /// `process.user.umask`.
    pub umask: Option<u32>,
    /// `process.user.additionalGids`.
    pub additional_gids: Vec<u32>,
    /// `process.capabilities`, all five sets as given (also in the spec's
    /// `security.capabilities`).
    pub capabilities: Option<CapabilitySets>,
    /// `process.apparmorProfile`.
    pub apparmor_profile: Option<String>,
    /// `process.selinuxLabel`.
    pub selinux_label: Option<String>,
    /// `process.scheduler`.
    pub scheduler: Option<Scheduler>,
    /// `linux.sysctl`.
    pub sysctl: BTreeMap<String, String>,
    /// `linux.cgroupsPath`.
    pub cgroups_path: Option<PathBuf>,
    /// `linux.resources`, whole (memory limit and swap total, CPU quota and shares, pids
    /// limit and device rules are lowered into the spec's limits as well).
    pub resources: Option<LinuxResources>,
    /// `linux.seccomp`, as given (compiled into the spec's seccomp filters).
    pub seccomp: Option<LinuxSeccomp>,
    /// `linux.devices`, as given (lowered into device nodes in the spec).
    pub devices: Vec<LinuxDevice>,
    /// `linux.mountLabel`.
    pub mount_label: Option<String>,
    /// `linux.personality`.
    pub personality: Option<LinuxPersonality>,
}

impl Lowered {
    /// The JSON path of library mount operation `i` (`mounts[3]`, `linux.maskedPaths[0]`).
    pub fn mount_path(&self, i: usize) -> Option<&str> {
        self.mount_paths.get(i).map(String::as_str)
    }

    /// A library error about the lowered spec (from [`cleave::sandbox::prepare`]) as an
    /// error naming the config value it came from; other errors come back as they are.
    pub fn locate(&self, e: cleave::Error) -> Result<OciError, cleave::Error> {
        let cleave::Error::Invalid { origin, problem } = e else {
            return Err(e);
        };
        match self.origin_path(&origin) {
            Some(path) => Ok(OciError::new(path, Problem::Sandbox(problem))),
            None => Err(cleave::Error::Invalid { origin, problem }),
        }
    }

    /// The JSON path a library [`Origin`] points to in this config.
    pub fn origin_path(&self, origin: &Origin) -> Option<String> {
        Some(match origin {
            Origin::Mount(i) => self.mount_paths.get(*i)?.clone(),
            Origin::Rootfs => "root.path".into(),
            Origin::Propagation => "linux.rootfsPropagation".into(),
            Origin::WorkingDirectory => "process.cwd".into(),
            Origin::UserMap => "linux.uidMappings".into(),
            Origin::GroupMap => "linux.gidMappings".into(),
            Origin::Uid => "process.user.uid".into(),
            Origin::Gid => "process.user.gid".into(),
            Origin::Hostname => "hostname".into(),
            Origin::Domainname => "domainname".into(),
            Origin::Namespaces => "linux.namespaces".into(),
            Origin::Join(ns) => self
                .join_paths
                .iter()
                .find(|(n, _)| n == ns)
                .map(|(_, p)| p.clone())?,
            Origin::TimeOffsets => "linux.timeOffsets".into(),
            Origin::Rlimit(i) => format!("process.rlimits[{i}]"),
            Origin::Capabilities => "process.capabilities".into(),
            Origin::Limits => "linux.resources".into(),
            Origin::Process => "process".into(),
            Origin::AsPid1 => "linux.namespaces".into(),
            _ => return None,
        })
    }
}
