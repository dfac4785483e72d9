//! [`Preset`]: what `sandbox` and `container` mean, as changes to a [`SandboxSpec`].
use super::spec::{Capabilities, SandboxSpec};
use crate::error::{Error, MountProblem, Origin, Problem, Result};
use crate::flags::CloneFlags;
use crate::idmap::{IdMap, IdMapping};
use crate::mount::{MountFlags, MountOp, PROC_MASKED, PROC_READ_ONLY};
use crate::ns::Namespace;
use std::ffi::OsString;
use std::path::PathBuf;

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

/// The PATH a container's program starts with (the one docker and podman give).
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The hostname of a container whose root directory's name is not a hostname.
pub const CONTAINER_HOSTNAME: &str = "container";

/// What a preset is given beyond the specification it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresetOptions {
    /// Namespaces the sandbox shares with the caller instead of making new ones: any of
    /// [`NAMESPACES`] but mount (every mount of a preset lives in its new mount namespace)
    /// and, for a caller without root, user (the others need it). Each one shared gives
    /// up that namespace's guarantee and nothing else: see SECURITY.md.
    pub shared: CloneFlags,
    /// The caller's terminal (e.g. `/dev/pts/3`, the one its stdin is), bound on
    /// `/dev/console` inside, as bubblewrap and `docker run -t` give one.
    pub console: Option<PathBuf>,
}

/// A ready-made sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The host's filesystem read-only, with a fresh /proc, a minimal /dev and a tmpfs /tmp.
    Sandbox,
    /// A new root (`filesystem.rootfs`, required) with a fresh /proc, /dev and /tmp, a
    /// read-only /sys, a hostname (the root directory's name, else
    /// [`CONTAINER_HOSTNAME`]) that its /etc/hostname shows, and a container's environment: PATH ([`CONTAINER_PATH`]),
    /// HOME, TERM (the caller's) and HOSTNAME, instead of the caller's variables; it
    /// starts in its root directory.
    Container,
}

impl Preset {
    /// Turns `spec` into this preset's sandbox: every namespace but time, the standard
    /// mounts before the spec's own, no capabilities (those in `spec` are kept on top),
    /// no_new_privs, a new session and session keyring, /sys/firmware hidden, and for a
    /// root caller a map of root inside to nobody outside (an explicit map set afterwards
    /// replaces it).
    pub fn apply(self, spec: &mut SandboxSpec) -> Result<()> {
        self.apply_with(spec, &PresetOptions::default())
    }

    /// [`Preset::apply`], sharing the namespaces in `options.shared` with the caller and
    /// giving the program the caller's terminal as /dev/console. Fails with
    /// [`Problem::PresetNeeds`] for a namespace the preset cannot share.
    pub fn apply_with(self, spec: &mut SandboxSpec, options: &PresetOptions) -> Result<()> {
        self.apply_as(spec, options, rustix::process::geteuid().as_raw())
    }

    /// [`Preset::apply_with`] for a caller with this effective uid.
    pub(crate) fn apply_as(
        self,
        spec: &mut SandboxSpec,
        options: &PresetOptions,
        caller_euid: u32,
    ) -> Result<()> {
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
        let shared = options.shared & NAMESPACES;
        for ns in [Namespace::Mount, Namespace::User] {
            let needed = ns == Namespace::Mount || caller_euid != 0;
            if needed && shared.contains(ns.flag()) {
                return Err(Error::Invalid {
                    origin: Origin::Namespaces,
                    problem: Problem::PresetNeeds(ns),
                });
            }
        }
        spec.namespaces.new |= NAMESPACES.difference(shared);
        spec.namespaces.new.remove(shared);
        let mounts = self.mounts(spec, options);
        spec.filesystem.ops.splice(0..0, mounts);
        if self == Preset::Container {
            container_names_and_env(spec, shared);
        }
        if spec.security.capabilities.is_none() {
            spec.security.capabilities = Some(Capabilities::default());
        }
        spec.security.no_new_privs = true;
        spec.security.new_session = true;
        spec.security.new_session_keyring = true;
        if caller_euid == 0
            && spec.ids.mapping == IdMapping::Root
            && spec.namespaces.new.contains(CloneFlags::NEWUSER)
        {
            spec.ids.mapping = IdMapping::Custom {
                users: vec![IdMap::single(0, ROOT_CALLER_ID)],
                groups: vec![IdMap::single(0, ROOT_CALLER_ID)],
            };
        }
        Ok(())
    }

    /// The mount operations [`Preset::apply_with`] puts before `spec`'s own.
    pub fn mounts(self, spec: &SandboxSpec, options: &PresetOptions) -> Vec<MountOp> {
        let shared = options.shared & NAMESPACES;
        let mut mounts = Vec::new();
        if self == Preset::Sandbox {
            mounts.push(MountOp::RemountRo { dst: "/".into() });
        }
        let [proc, dev, tmp, mask] = standard_mounts();
        if shared.contains(CloneFlags::NEWPID) {
            mounts.extend(host_proc());
        } else {
            mounts.push(proc);
        }
        mounts.push(dev);
        if let Some(tty) = &options.console {
            mounts.push(MountOp::DevBind {
                src: tty.clone(),
                dst: "/dev/console".into(),
                optional: false,
            });
        }
        mounts.push(tmp);
        if self == Preset::Container {
            mounts.push(sys(!shared.contains(CloneFlags::NEWNET)));
        }
        mounts.push(mask);
        let has_hostname_file = spec
            .filesystem
            .rootfs
            .as_ref()
            .is_some_and(|r| r.join("etc/hostname").symlink_metadata().is_ok());
        if self == Preset::Container && !shared.contains(CloneFlags::NEWUTS) && has_hostname_file {
            mounts.push(hostname_file());
        }
        mounts
    }
}

/// A container's /etc/hostname: the file of /proc that reads the hostname of the reader's
/// UTS namespace, bound read-only over the root's own (never written: when the root has no
/// /etc/hostname, none is made in it). It shows the container's hostname, and whatever it
/// is changed to, with nothing written anywhere.
fn hostname_file() -> MountOp {
    MountOp::RoBind {
        src: "/proc/sys/kernel/hostname".into(),
        dst: "/etc/hostname".into(),
        optional: false,
    }
}

/// With the caller's PID namespace, whose procfs a new user namespace may not mount: the
/// host's /proc bound (as bubblewrap does), with the protections of every procfs cleave
/// mounts ([`PROC_READ_ONLY`] read-only, [`PROC_MASKED`] hidden).
fn host_proc() -> Vec<MountOp> {
    let flags = MountFlags {
        nosuid: true,
        nodev: true,
        noexec: true,
        ..MountFlags::default()
    };
    let mut ops = vec![MountOp::BindMount {
        src: "/proc".into(),
        dst: "/proc".into(),
        recursive: true,
        flags,
        propagation: None,
        optional: false,
    }];
    let under = |name: &str| PathBuf::from("/proc").join(name);
    ops.extend(
        PROC_READ_ONLY
            .iter()
            .map(|n| MountOp::ReadOnly { dst: under(n) }),
    );
    ops.extend(PROC_MASKED.iter().map(|n| MountOp::Mask { dst: under(n) }));
    ops
}

/// A container's /sys, read-only: a sysfs of its own network namespace, or with the
/// caller's network (whose sysfs a user namespace may not mount) the host's, bound.
fn sys(new_net: bool) -> MountOp {
    let flags = MountFlags {
        read_only: true,
        nosuid: true,
        nodev: true,
        noexec: true,
        ..MountFlags::default()
    };
    if new_net {
        MountOp::Mount {
            source: "sysfs".into(),
            fstype: "sysfs".into(),
            dst: "/sys".into(),
            flags,
            data: String::new(),
        }
    } else {
        MountOp::BindMount {
            src: "/sys".into(),
            dst: "/sys".into(),
            recursive: true,
            flags,
            propagation: None,
            optional: false,
        }
    }
}

/// A container's working directory (its root, unless one is given), hostname (when none
/// is given and its UTS namespace is new) and environment: PATH, HOME, TERM and HOSTNAME in place of the caller's variables, each
/// left to what the specification sets or removes itself.
fn container_names_and_env(spec: &mut SandboxSpec, shared: CloneFlags) {
    // A container starts at its root, not wherever the caller happened to be.
    if spec.filesystem.chdir.is_none() {
        spec.filesystem.chdir = Some("/".into());
    }
    if spec.uts.hostname.is_none() && !shared.contains(CloneFlags::NEWUTS) {
        spec.uts.hostname = Some(container_hostname(spec.filesystem.rootfs.as_deref()).into());
    }
    let hostname: OsString = match &spec.uts.hostname {
        Some(h) => h.clone(),
        None => rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
            .into(),
    };
    let home = match spec.ids.uid {
        None | Some(0) => "/root",
        Some(_) => "/",
    };
    let mut defaults: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), CONTAINER_PATH.into()),
        ("HOME".into(), home.into()),
    ];
    if let Some(term) = std::env::var_os("TERM") {
        defaults.push(("TERM".into(), term));
    }
    defaults.push(("HOSTNAME".into(), hostname));
    let env = &mut spec.process.env;
    defaults.retain(|(k, _)| !env.remove.contains(k));
    env.clear = true;
    env.set.splice(0..0, defaults);
}

/// The root directory's name when it is a hostname (letters, digits, `-` and `.`, at most
/// 63 bytes, not starting with `-`), as systemd-nspawn names a machine; else
/// [`CONTAINER_HOSTNAME`].
fn container_hostname(rootfs: Option<&std::path::Path>) -> String {
    let name = rootfs
        .and_then(|r| std::fs::canonicalize(r).ok())
        .and_then(|r| r.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .unwrap_or_default();
    let ok = !name.is_empty()
        && name.len() < 64
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        name
    } else {
        CONTAINER_HOSTNAME.into()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Problem;
    use std::path::Path;

    /// A spec with a root directory that has an /etc/hostname, named so that it is not a
    /// hostname (`_`).
    fn container() -> SandboxSpec {
        let root = std::env::temp_dir().join(format!("cleave_preset_root_{}", std::process::id()));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/hostname"), "theirs\n").unwrap();
        container_at(&root)
    }

    fn container_at(root: &Path) -> SandboxSpec {
        let mut s = SandboxSpec::default();
        s.filesystem.rootfs = Some(root.to_path_buf());
        s
    }

    fn refused(r: Result<()>) -> Option<Namespace> {
        match r {
            Err(Error::Invalid {
                problem: Problem::PresetNeeds(ns),
                ..
            }) => Some(ns),
            _ => None,
        }
    }

    #[test]
    fn one_namespace_can_be_shared() {
        let mut s = SandboxSpec::default();
        s.namespaces.new = CloneFlags::NEWNET;
        let net = PresetOptions {
            shared: CloneFlags::NEWNET,
            ..PresetOptions::default()
        };
        Preset::Sandbox.apply_as(&mut s, &net, 1000).unwrap();
        assert_eq!(s.namespaces.new, NAMESPACES.difference(CloneFlags::NEWNET));
        // Every other guarantee stays.
        assert!(s.security.no_new_privs && s.security.new_session);
        let none = SandboxSpec::default();
        assert_eq!(s.filesystem.ops, Preset::Sandbox.mounts(&none, &net));
        assert_eq!(s.filesystem.ops.len(), 5);
    }

    #[test]
    fn with_the_callers_pid_namespace_proc_is_the_hosts_protected() {
        let mut s = SandboxSpec::default();
        let pid = PresetOptions {
            shared: CloneFlags::NEWPID,
            ..PresetOptions::default()
        };
        Preset::Sandbox.apply_as(&mut s, &pid, 1000).unwrap();
        assert!(!s.namespaces.new.contains(CloneFlags::NEWPID));
        assert!(!s
            .filesystem
            .ops
            .iter()
            .any(|o| matches!(o, MountOp::Proc { .. })));
        assert!(
            matches!(&s.filesystem.ops[1], MountOp::BindMount { src, .. } if src == Path::new("/proc"))
        );
        for name in PROC_READ_ONLY {
            let dst = PathBuf::from("/proc").join(name);
            assert!(
                s.filesystem.ops.contains(&MountOp::ReadOnly { dst }),
                "{name}"
            );
        }
        for name in PROC_MASKED {
            let dst = PathBuf::from("/proc").join(name);
            assert!(s.filesystem.ops.contains(&MountOp::Mask { dst }), "{name}");
        }
        let none = SandboxSpec::default();
        assert_eq!(s.filesystem.ops, Preset::Sandbox.mounts(&none, &pid));
    }

    #[test]
    fn mount_and_an_unprivileged_user_namespace_cannot_be_shared() {
        let with = |shared| PresetOptions {
            shared,
            ..PresetOptions::default()
        };
        let mut s = SandboxSpec::default();
        let r = Preset::Sandbox.apply_as(&mut s, &with(CloneFlags::NEWNS), 0);
        assert_eq!(refused(r), Some(Namespace::Mount));
        let r = Preset::Sandbox.apply_as(&mut s, &with(CloneFlags::NEWUSER), 1000);
        assert_eq!(refused(r), Some(Namespace::User));
        // Root keeps its own user namespace: no map to nobody then.
        Preset::Sandbox
            .apply_as(&mut s, &with(CloneFlags::NEWUSER), 0)
            .unwrap();
        assert!(!s.namespaces.new.contains(CloneFlags::NEWUSER));
        assert_eq!(s.ids.mapping, IdMapping::Root);
    }

    #[test]
    fn a_container_has_its_own_names_environment_sys_and_console() {
        let mut s = container();
        s.process.env.remove.push("TERM".into());
        s.process.env.set.push(("PATH".into(), "/mine".into()));
        let opts = PresetOptions {
            console: Some("/dev/pts/7".into()),
            ..PresetOptions::default()
        };
        Preset::Container.apply_as(&mut s, &opts, 1000).unwrap();
        assert_eq!(s.uts.hostname.as_deref(), Some(CONTAINER_HOSTNAME.as_ref()));
        let env = &s.process.env;
        assert!(env.clear);
        let names: Vec<&str> = env.set.iter().map(|(k, _)| k.to_str().unwrap()).collect();
        // The caller's own --setenv comes last and wins; a removed default is not set.
        assert_eq!(names, ["PATH", "HOME", "HOSTNAME", "PATH"]);
        assert_eq!(env.set[1].1, "/root");
        assert_eq!(env.set[2].1, CONTAINER_HOSTNAME);
        let dsts: Vec<_> = s
            .filesystem
            .ops
            .iter()
            .map(|o| o.dst().to_path_buf())
            .collect();
        assert_eq!(
            dsts,
            [
                "/proc",
                "/dev",
                "/dev/console",
                "/tmp",
                "/sys",
                "/sys/firmware",
                "/etc/hostname"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(s.filesystem.ops[6], hostname_file());
        assert!(
            matches!(&s.filesystem.ops[4], MountOp::Mount { fstype, flags, .. }
            if fstype == "sysfs" && flags.read_only)
        );
        // With the caller's network, the host's /sys is bound read-only instead.
        let mut s = container();
        let net = PresetOptions {
            shared: CloneFlags::NEWNET,
            ..PresetOptions::default()
        };
        Preset::Container.apply_as(&mut s, &net, 1000).unwrap();
        assert!(
            matches!(&s.filesystem.ops[3], MountOp::BindMount { flags, .. } if flags.read_only)
        );
        // With the caller's hostname, or a root without /etc/hostname, none is bound.
        let uts = PresetOptions {
            shared: CloneFlags::NEWUTS,
            ..PresetOptions::default()
        };
        let mut s = container();
        Preset::Container.apply_as(&mut s, &uts, 1000).unwrap();
        assert!(!s.filesystem.ops.contains(&hostname_file()));
        let root = s.filesystem.rootfs.clone().unwrap();
        std::fs::remove_file(root.join("etc/hostname")).unwrap();
        let mut s = container_at(&root);
        Preset::Container.apply(&mut s).unwrap();
        assert!(!s.filesystem.ops.contains(&hostname_file()));
        assert!(!root.join("etc/hostname").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_containers_hostname_is_its_directorys_name_when_it_can_be() {
        let dir = std::env::temp_dir().join("cleave-preset-name-test");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(container_hostname(Some(&dir)), "cleave-preset-name-test");
        let _ = std::fs::remove_dir(&dir);
        let odd = std::env::temp_dir().join("cleave preset_name");
        std::fs::create_dir_all(&odd).unwrap();
        assert_eq!(container_hostname(Some(&odd)), CONTAINER_HOSTNAME);
        let _ = std::fs::remove_dir(&odd);
    }
}
