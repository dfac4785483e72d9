//! [`lower`]: a runtime-spec config.json, as parsed by `oci-spec`, into a [`SandboxSpec`]
//! and what the runtime layer needs beside it. Pure: it reads no file and resolves no path
//! beyond joining relative ones to the bundle.
use crate::error::{OciError, Problem, Unsupported};
use crate::lowered::{CapabilitySets, Carried, Lowered, Note, Pending};
use crate::mounts::lower_mount;
use cleave::caps::{self, Rlimit};
use cleave::cgroup;
use cleave::idmap::{IdMap, IdMapping};
use cleave::mount::{DeviceKind, MountOp, Propagation, RootPropagation, RootPropagationMode};
use cleave::sandbox::{Capabilities, SandboxSpec};
use cleave::{CloneFlags, Namespace};
use oci_spec::runtime::{
    Capabilities as CapSet, Linux, LinuxCapabilities, LinuxDeviceType, LinuxIdMapping,
    LinuxNamespaceType, LinuxResources, PosixRlimitType, Process, Spec,
};
use std::path::Path;

/// The runtime-spec major version cleave runs.
pub const SPEC_MAJOR: u64 = 1;

fn err(path: impl Into<String>, problem: Problem) -> OciError {
    OciError::new(path, problem)
}

/// What [`lower`] builds up.
struct Out {
    spec: SandboxSpec,
    carried: Carried,
    pending: Vec<Pending>,
    notes: Vec<Note>,
    mount_paths: Vec<String>,
    join_paths: Vec<(Namespace, String)>,
    /// The device nodes the container gets (linux.devices, the defaults, its devpts): each
    /// allowed after the config's device rules, so that what the runtime makes can be used.
    nodes: Vec<cgroup::DeviceRule>,
}

impl Out {
    fn pending(&mut self, path: impl Into<String>, what: &'static str) {
        self.pending.push(Pending {
            path: path.into(),
            what,
        });
    }
}

/// Lowers `config` (from the bundle directory `bundle`) into a [`SandboxSpec`] and what
/// the runtime needs beside it.
///
/// Lowered into the spec: `root` (path against the bundle; `readonly` as a read-only
/// remount of "/" before the other mounts), `mounts` (bind and rbind with their flags and
/// propagation, and new filesystems of any type with their options), `linux.devices`
/// (and, with a /dev mount, the default devices and links), `process`
/// (args, env, cwd, uid, gid, the five capability sets, rlimits,
/// noNewPrivileges), `hostname`, `domainname`, `linux.namespaces` (new, or joined by
/// path), `linux.uidMappings`/`gidMappings`, `linux.timeOffsets`, `linux.maskedPaths`,
/// `linux.readonlyPaths`, `linux.rootfsPropagation`, and of `linux.resources` the memory
/// limit and memory+swap total, CPU quota/period and shares, pids limit and device rules
/// (followed by allow rules for every node the container gets), and `linux.seccomp`
/// (compiled into seccomp filters, see [`crate::seccomp`]). A new PID namespace runs the
/// process as its PID 1, as the runtime-spec has it.
///
/// Carried in [`Carried`] for the runtime: hooks, annotations, terminal, consoleSize, and
/// every value the spec cannot hold yet; each of those is also listed in
/// [`Lowered::pending`]. Refused with an [`OciError`] naming the JSON path: an invalid or
/// non-1.x `ociVersion`, missing or malformed required values, and what cleave does not
/// do ([`Unsupported`]). Unknown fields and annotations are accepted.
pub fn lower(config: &Spec, bundle: &Path) -> Result<Lowered, OciError> {
    check_version(config.version())?;
    let mut out = Out {
        spec: SandboxSpec::default(),
        carried: Carried {
            oci_version: config.version().clone(),
            bundle: bundle.to_path_buf(),
            hooks: config.hooks().clone(),
            annotations: config
                .annotations()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ..Carried::default()
        },
        pending: Vec::new(),
        notes: Vec::new(),
        mount_paths: Vec::new(),
        join_paths: Vec::new(),
        nodes: Vec::new(),
    };

    let root = config
        .root()
        .as_ref()
        .ok_or_else(|| err("root", Problem::Missing))?;
    if root.path().as_os_str().is_empty() {
        return Err(err("root.path", Problem::Empty));
    }
    let rootfs = bundle.join(root.path());
    out.spec.filesystem.rootfs = Some(rootfs.clone());
    out.carried.rootfs = rootfs;
    let new_net = config.linux().as_ref().is_some_and(|l| {
        l.namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none())
    });
    let mut dev_mount = None;
    for (i, m) in config.mounts().iter().flatten().enumerate() {
        let (op, then) = lower_mount(i, m, bundle, new_net, &mut out.notes)?;
        if op.dst() == Path::new("/dev") {
            dev_mount = Some(i);
        }
        for op in std::iter::once(op).chain(then) {
            out.spec.filesystem.ops.push(op);
            out.mount_paths.push(format!("mounts[{i}]"));
        }
    }
    lower_devices(config, dev_mount, &mut out)?;
    out.carried.default_devices = Some(default_device_rules(&out.nodes));

    let process = config
        .process()
        .as_ref()
        .ok_or_else(|| err("process", Problem::Missing))?;
    lower_process(process, &mut out)?;

    let name = |v: &Option<String>| v.clone().filter(|s| !s.is_empty()).map(Into::into);
    out.spec.uts.hostname = name(config.hostname());
    out.spec.uts.domainname = name(config.domainname());

    if let Some(linux) = config.linux() {
        lower_linux(linux, &mut out)?;
    }
    if root.readonly() == Some(true) {
        // Last, and the root mount alone: the mount points of the other mounts are made in
        // the root first (an image such as Kubernetes' pause has no /proc or /dev), and
        // those mounts stay as they are asked.
        out.spec
            .filesystem
            .ops
            .push(MountOp::RemountRoTop { dst: "/".into() });
        out.mount_paths.push("root.readonly".into());
    }
    Ok(Lowered {
        spec: out.spec,
        carried: out.carried,
        pending: out.pending,
        notes: out.notes,
        mount_paths: out.mount_paths,
        join_paths: out.join_paths,
    })
}

/// The devices every container has (runtime-spec "Default Devices"), where a mount gives
/// the container its own /dev: (name, major, minor).
const DEFAULT_DEVICES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// `linux.devices` as device nodes; with a /dev mounted by `mounts[dev_mount]`, the default
/// devices the config does not list, and the links /dev/fd, /dev/std{in,out,err} and
/// /dev/ptmx (to pts/ptmx, the container's devpts).
fn lower_devices(config: &Spec, dev_mount: Option<usize>, out: &mut Out) -> Result<(), OciError> {
    let devices = config
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for (k, d) in devices.iter().enumerate() {
        let at = format!("linux.devices[{k}]");
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
            LinuxDeviceType::B => DeviceKind::Block,
            LinuxDeviceType::P => DeviceKind::Fifo,
            other => {
                return Err(err(
                    format!("{at}.type"),
                    Problem::Unsupported(Unsupported::MountType(format!("{other:?} device"))),
                ))
            }
        };
        if !d.path().is_absolute() {
            return Err(err(format!("{at}.path"), Problem::NotAbsolute));
        }
        if kind != DeviceKind::Fifo {
            out.nodes.push(node_rule(
                kind == DeviceKind::Block,
                Some(d.major() as u32),
                Some(d.minor() as u32),
            ));
        }
        out.spec.filesystem.ops.push(MountOp::Device {
            dst: d.path().clone(),
            kind,
            major: d.major() as u32,
            minor: d.minor() as u32,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
        out.mount_paths.push(at);
    }
    out.carried.devices = devices.clone();
    let Some(dev) = dev_mount else {
        return Ok(());
    };
    let path = format!("mounts[{dev}]");
    // The container's devpts: its ptmx (5:2) and the terminals it opens (136-143:*, the
    // Unix98 pty majors); /dev/console is one of those.
    out.nodes.push(node_rule(false, Some(5), Some(2)));
    for major in 136..=143 {
        out.nodes.push(node_rule(false, Some(major), None));
    }
    for (name, major, minor) in DEFAULT_DEVICES {
        let dst = Path::new("/dev").join(name);
        if devices.iter().any(|d| d.path() == &dst) {
            continue;
        }
        out.nodes.push(node_rule(false, Some(major), Some(minor)));
        out.spec.filesystem.ops.push(MountOp::Device {
            dst,
            kind: DeviceKind::Char,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
        out.mount_paths.push(path.clone());
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let dst = Path::new("/dev").join(link);
        if devices.iter().any(|d| d.path() == &dst) {
            continue;
        }
        out.spec.filesystem.ops.push(MountOp::Symlink {
            target: target.into(),
            dst,
        });
        out.mount_paths.push(path.clone());
    }
    Ok(())
}

/// An allow-everything rule for one device node (block or character).
/// runc's device rules for a config without `linux.resources.devices`: mknod of any node,
/// then read/write/mknod of null, zero, full, random, urandom, tty, console, ptmx, the ptys
/// (136:*) and /dev/net/tun, then `nodes` (those the config makes).
fn default_device_rules(nodes: &[cgroup::DeviceRule]) -> Vec<cgroup::DeviceRule> {
    let mknod = cgroup::DeviceAccess {
        read: false,
        write: false,
        mknod: true,
    };
    let mut rules = vec![
        cgroup::DeviceRule {
            access: mknod,
            ..node_rule(false, None, None)
        },
        cgroup::DeviceRule {
            access: mknod,
            ..node_rule(true, None, None)
        },
    ];
    for (major, minor) in [
        (1, Some(3)),
        (1, Some(5)),
        (1, Some(7)),
        (1, Some(8)),
        (1, Some(9)),
        (5, Some(0)),
        (5, Some(1)),
        (5, Some(2)),
        (136, None),
        (10, Some(200)),
    ] {
        rules.push(node_rule(false, Some(major), minor));
    }
    rules.extend(nodes.iter().copied());
    rules
}

fn node_rule(block: bool, major: Option<u32>, minor: Option<u32>) -> cgroup::DeviceRule {
    cgroup::DeviceRule {
        allow: true,
        kind: if block {
            cgroup::DeviceKind::Block
        } else {
            cgroup::DeviceKind::Char
        },
        major,
        minor,
        access: cgroup::DeviceAccess::ALL,
    }
}

/// `ociVersion`: SemVer, major 1.
fn check_version(v: &str) -> Result<(), OciError> {
    let path = "ociVersion";
    if v.is_empty() {
        return Err(err(path, Problem::Missing));
    }
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return Err(err(path, Problem::BadVersion(v.into())));
    }
    match parts[0].parse::<u64>() {
        Ok(SPEC_MAJOR) => Ok(()),
        _ => Err(err(path, Problem::UnsupportedVersion(v.into()))),
    }
}

fn lower_process(p: &Process, out: &mut Out) -> Result<(), OciError> {
    let args = p.args().as_deref().unwrap_or(&[]);
    let Some((program, rest)) = args.split_first() else {
        return Err(err("process.args", Problem::Empty));
    };
    if program.is_empty() {
        return Err(err("process.args[0]", Problem::Empty));
    }
    let sp = &mut out.spec.process;
    sp.program = program.into();
    sp.args = rest.iter().map(Into::into).collect();
    // The program starts with no signal blocked, whatever the runtime's caller had blocked
    // (`run` blocks the signals it forwards): runc's containers start the same way.
    sp.signal_mask = Some(0);
    sp.env.clear = true;
    for (i, e) in p.env().iter().flatten().enumerate() {
        let (k, v) = e.split_once('=').ok_or_else(|| {
            err(
                format!("process.env[{i}]"),
                Problem::EnvWithoutEquals(e.clone()),
            )
        })?;
        sp.env.set.push((k.into(), v.into()));
    }
    if p.cwd().as_os_str().is_empty() {
        return Err(err("process.cwd", Problem::Empty));
    }
    if !p.cwd().is_absolute() {
        return Err(err("process.cwd", Problem::NotAbsolute));
    }
    out.spec.filesystem.chdir = Some(p.cwd().clone());

    let user = p.user();
    out.spec.ids.uid = Some(user.uid());
    out.spec.ids.gid = Some(user.gid());
    if let Some(umask) = user.umask() {
        out.carried.umask = Some(umask);
        out.pending("process.user.umask", "Carried::umask");
    }
    let gids = user.additional_gids().clone().unwrap_or_default();
    if !gids.is_empty() {
        out.carried.additional_gids = gids;
        out.pending("process.user.additionalGids", "Carried::additional_gids");
    }

    if let Some(c) = p.capabilities() {
        lower_capabilities(c, out)?;
    }
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        if r.soft() > r.hard() {
            return Err(err(
                format!("process.rlimits[{i}]"),
                Problem::SoftAboveHard {
                    soft: r.soft(),
                    hard: r.hard(),
                },
            ));
        }
        out.spec.security.rlimits.push(Rlimit {
            resource: rlimit_resource(r.typ()),
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    out.spec.security.no_new_privs = p.no_new_privileges() == Some(true);

    out.carried.terminal = p.terminal() == Some(true);
    out.carried.console_size = p.console_size().map(|b| (b.height(), b.width()));
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(err(
                "process.oomScoreAdj",
                Problem::OutOfRange {
                    value: adj.to_string(),
                    why: "give -1000 to 1000",
                },
            ));
        }
        out.carried.oom_score_adj = Some(adj);
        out.pending("process.oomScoreAdj", "Carried::oom_score_adj");
    }
    let label = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    if let Some(a) = label(p.apparmor_profile()) {
        out.carried.apparmor_profile = Some(a);
        out.pending("process.apparmorProfile", "Carried::apparmor_profile");
    }
    if let Some(s) = label(p.selinux_label()) {
        out.carried.selinux_label = Some(s);
        out.pending("process.selinuxLabel", "Carried::selinux_label");
    }
    if let Some(s) = p.scheduler() {
        out.carried.scheduler = Some(s.clone());
        out.pending("process.scheduler", "Carried::scheduler");
    }
    if p.io_priority().is_some() {
        out.pending("process.ioPriority", "the config");
    }
    if p.exec_cpu_affinity().is_some() {
        out.pending("process.execCPUAffinity", "the config");
    }
    Ok(())
}

/// The RLIMIT_* number of a runtime-spec limit type.
fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType as T;
    let r = match t {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    };
    // u32 on glibc, c_int on other libcs.
    #[allow(clippy::unnecessary_cast)]
    let r = r as u32;
    r
}

/// A capability set as a mask; `path` names it in errors.
fn cap_mask(set: &Option<CapSet>, path: &str) -> Result<u64, OciError> {
    let mut mask = 0;
    for c in set.iter().flatten() {
        let name = c.to_string();
        mask |= caps::parse_cap(&name)
            .map_err(|_| err(path, Problem::UnknownCapability(format!("CAP_{name}"))))?;
    }
    Ok(mask)
}

/// The five sets, exactly as given (also carried, for the runtime's own use).
fn lower_capabilities(c: &LinuxCapabilities, out: &mut Out) -> Result<(), OciError> {
    let at = |s: &str| format!("process.capabilities.{s}");
    let sets = CapabilitySets {
        bounding: cap_mask(c.bounding(), &at("bounding"))?,
        effective: cap_mask(c.effective(), &at("effective"))?,
        permitted: cap_mask(c.permitted(), &at("permitted"))?,
        inheritable: cap_mask(c.inheritable(), &at("inheritable"))?,
        ambient: cap_mask(c.ambient(), &at("ambient"))?,
    };
    out.spec.security.capabilities = Some(Capabilities {
        bounding: sets.bounding,
        effective: sets.effective,
        permitted: sets.permitted,
        inheritable: sets.inheritable,
        ambient: sets.ambient,
    });
    out.carried.capabilities = Some(sets);
    Ok(())
}

fn namespace(t: LinuxNamespaceType) -> Namespace {
    match t {
        LinuxNamespaceType::Mount => Namespace::Mount,
        LinuxNamespaceType::Cgroup => Namespace::Cgroup,
        LinuxNamespaceType::Uts => Namespace::Uts,
        LinuxNamespaceType::Ipc => Namespace::Ipc,
        LinuxNamespaceType::User => Namespace::User,
        LinuxNamespaceType::Pid => Namespace::Pid,
        LinuxNamespaceType::Network => Namespace::Net,
        LinuxNamespaceType::Time => Namespace::Time,
    }
}

fn id_maps(maps: &[LinuxIdMapping]) -> Vec<IdMap> {
    maps.iter()
        .map(|m| IdMap {
            inside: m.container_id(),
            outside: m.host_id(),
            count: m.size(),
        })
        .collect()
}

fn lower_linux(l: &Linux, out: &mut Out) -> Result<(), OciError> {
    // Namespaces first: the rest depends on which are new.
    let mut seen: Vec<(Namespace, usize)> = Vec::new();
    for (k, n) in l.namespaces().iter().flatten().enumerate() {
        let ns = namespace(n.typ());
        if let Some((_, first)) = seen.iter().find(|(s, _)| *s == ns) {
            return Err(err(
                format!("linux.namespaces[{k}].type"),
                Problem::DuplicateNamespace(ns.name(), format!("linux.namespaces[{first}]")),
            ));
        }
        seen.push((ns, k));
        match n.path() {
            None => out.spec.namespaces.new |= ns.flag(),
            Some(p) => {
                let at = format!("linux.namespaces[{k}].path");
                if p.as_os_str().is_empty() {
                    return Err(err(at, Problem::Empty));
                }
                if !p.is_absolute() {
                    return Err(err(at, Problem::NotAbsolute));
                }
                out.spec.namespaces.join.push((ns, p.clone()));
                out.join_paths.push((ns, at));
            }
        }
    }
    let new = out.spec.namespaces.new;
    // The runtime-spec's process is PID 1 of its new PID namespace.
    out.spec.as_pid1 = new.contains(CloneFlags::NEWPID);
    // As runc's init, the process leads a session of its own: a PID-namespace init whose
    // session lies outside its namespace cannot be checkpointed by CRIU.
    out.spec.security.new_session = true;

    let users = l.uid_mappings().as_deref().unwrap_or(&[]);
    let groups = l.gid_mappings().as_deref().unwrap_or(&[]);
    if !users.is_empty() || !groups.is_empty() {
        let path = if users.is_empty() {
            "linux.gidMappings"
        } else {
            "linux.uidMappings"
        };
        if !new.contains(CloneFlags::NEWUSER) {
            return Err(err(path, Problem::NeedsNamespace("user")));
        }
        if users.is_empty() {
            return Err(err("linux.uidMappings", Problem::Missing));
        }
        if groups.is_empty() {
            return Err(err("linux.gidMappings", Problem::Missing));
        }
        out.spec.ids.mapping = IdMapping::Custom {
            users: id_maps(users),
            groups: id_maps(groups),
        };
    }
    // A devpts `gid=N` names a group of the container: in a new user namespace where N has
    // no mapping (a rootless container mapping its user alone) the kernel refuses the mount,
    // so the option is dropped and the ptys belong to the opener's group (runc does the same).
    if new.contains(CloneFlags::NEWUSER) {
        let mapped = |gid: u32| {
            groups
                .iter()
                .any(|m| gid >= m.container_id() && gid - m.container_id() < m.size())
        };
        for (i, op) in out.spec.filesystem.ops.iter_mut().enumerate() {
            let MountOp::Mount { fstype, data, .. } = op else {
                continue;
            };
            if fstype != "devpts" {
                continue;
            }
            let before = data.split(',').count();
            let kept: Vec<&str> = data
                .split(',')
                .filter(|o| {
                    o.strip_prefix("gid=")
                        .and_then(|g| g.parse().ok())
                        .is_none_or(mapped)
                })
                .collect();
            if kept.len() != before {
                *data = kept.join(",");
                out.notes.push(Note {
                    path: out.mount_paths.get(i).cloned().unwrap_or_default() + ".options",
                    what:
                        "gid= dropped: that group has no mapping in the container's user namespace",
                });
            }
        }
    }

    if let Some(offsets) = l.time_offsets() {
        if !offsets.is_empty() && !new.contains(CloneFlags::NEWTIME) {
            return Err(err("linux.timeOffsets", Problem::NeedsNamespace("time")));
        }
        // Sorted, so that the first error is the same from run to run.
        let mut clocks: Vec<_> = offsets.iter().collect();
        clocks.sort_by_key(|(k, _)| k.as_str());
        for (clock, o) in clocks {
            let at = format!("linux.timeOffsets.{clock}");
            if o.nanosecs().is_some_and(|n| n != 0) {
                return Err(err(
                    format!("{at}.nanosecs"),
                    Problem::Unsupported(Unsupported::OffsetNanoseconds),
                ));
            }
            let secs = Some(o.secs().unwrap_or(0));
            match clock.as_str() {
                "monotonic" => out.spec.time.monotonic = secs,
                "boottime" => out.spec.time.boottime = secs,
                _ => return Err(err(at, Problem::UnknownClock(clock.clone()))),
            }
        }
    }

    if let Some(p) = l.rootfs_propagation().as_deref().filter(|p| !p.is_empty()) {
        // Shared and unbindable are the new root's own (set after pivot_root, which a
        // shared old root would refuse): mounts stay apart from the host's either way.
        let root = |mode| {
            Some(RootPropagation {
                mode,
                recursive: p.starts_with('r'),
            })
        };
        out.spec.filesystem.propagation = match p {
            "private" | "rprivate" => Propagation::Private,
            "slave" | "rslave" => Propagation::Slave,
            "shared" | "rshared" => {
                out.spec.filesystem.root_propagation = root(RootPropagationMode::Shared);
                Propagation::Private
            }
            "unbindable" | "runbindable" => {
                out.spec.filesystem.root_propagation = root(RootPropagationMode::Unbindable);
                Propagation::Private
            }
            _ => {
                return Err(err(
                    "linux.rootfsPropagation",
                    Problem::Unsupported(Unsupported::Propagation(p.into())),
                ))
            }
        };
    }
    for (field, list) in [
        ("maskedPaths", l.masked_paths()),
        ("readonlyPaths", l.readonly_paths()),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            let at = format!("linux.{field}[{i}]");
            if !p.starts_with('/') {
                return Err(err(at, Problem::NotAbsolute));
            }
            let dst = p.into();
            out.spec.filesystem.ops.push(if field == "maskedPaths" {
                MountOp::Mask { dst }
            } else {
                MountOp::ReadOnly { dst }
            });
            out.mount_paths.push(at);
        }
    }

    if let Some(r) = l.resources() {
        lower_resources(r, out)?;
        out.carried.resources = Some(r.clone());
    }
    if let Some(p) = l.cgroups_path() {
        out.carried.cgroups_path = Some(p.clone());
        out.pending("linux.cgroupsPath", "Carried::cgroups_path");
    }
    let sysctl = l.sysctl().clone().unwrap_or_default();
    if !sysctl.is_empty() {
        out.carried.sysctl = sysctl.into_iter().collect();
        out.pending("linux.sysctl", "Carried::sysctl");
    }
    if let Some(s) = l.seccomp() {
        let compiled = crate::seccomp::compile(s)?;
        out.spec.security.seccomp_filters = compiled.filters;
        for path in compiled.skipped {
            out.notes.push(Note {
                path,
                what: "a system call this architecture does not have: skipped",
            });
        }
        if compiled.foreign_arches {
            out.notes.push(Note {
                path: "linux.seccomp.architectures".into(),
                what: "only the native ABI is filtered: a 32-bit compat system call kills the process and an x32 one fails with ENOSYS",
            });
        }
        out.carried.seccomp = Some(s.clone());
    }
    if let Some(m) = l.mount_label().as_deref().filter(|m| !m.is_empty()) {
        out.carried.mount_label = Some(m.into());
        out.pending("linux.mountLabel", "Carried::mount_label");
    }
    if let Some(p) = l.personality() {
        out.carried.personality = Some(p.clone());
        out.pending("linux.personality", "Carried::personality");
    }
    if l.intel_rdt().is_some() {
        return Err(err(
            "linux.intelRdt",
            Problem::Unsupported(Unsupported::IntelRdt),
        ));
    }
    if l.memory_policy().is_some() {
        out.pending("linux.memoryPolicy", "the config");
    }
    if l.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        out.pending("linux.netDevices", "the config");
    }
    Ok(())
}

/// cgroup v1 `cpu.shares` (2..=262144) as a cgroup2 weight (1..=10000): the inverse of
/// [`cgroup::weight_to_shares`], a log scale with 1024 shares at weight 100.
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144) as f64;
    let decades = 100f64.ln();
    let w = if s <= 1024.0 {
        (decades * (s / 2.0).ln() / 512f64.ln()).exp()
    } else {
        100.0 * (decades * (s / 1024.0).ln() / 256f64.ln()).exp()
    };
    (w.round() as u64).clamp(1, 10_000)
}

/// `linux.resources.devices` -> [`cgroup::DeviceRule`]s, in order. The kernel applies them
/// (cgroup v1 devices controller) after denying every device; a host without it refuses them
/// when the cgroup is made.
fn lower_device_rules(
    devices: &[oci_spec::runtime::LinuxDeviceCgroup],
) -> Result<Vec<cgroup::DeviceRule>, OciError> {
    use oci_spec::runtime::LinuxDeviceType as T;
    let mut rules = Vec::with_capacity(devices.len());
    for (k, d) in devices.iter().enumerate() {
        let at = |field: &str| format!("linux.resources.devices[{k}].{field}");
        let kind = match d.typ().unwrap_or(T::A) {
            T::A => cgroup::DeviceKind::All,
            T::C | T::U => cgroup::DeviceKind::Char,
            T::B => cgroup::DeviceKind::Block,
            T::P => {
                return Err(err(
                    at("type"),
                    Problem::OutOfRange {
                        value: "p".into(),
                        why: "device rules take a (all), c (character) or b (block)",
                    },
                ))
            }
        };
        let number = |field: &str, n: Option<i64>| match n {
            None | Some(-1) => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                err(
                    at(field),
                    Problem::OutOfRange {
                        value: n.to_string(),
                        why: "give a device number from 0 to 4294967295, or -1 for any",
                    },
                )
            }),
        };
        let access = cgroup::DeviceAccess::parse(d.access().as_deref().unwrap_or(""))
            .map_err(|e| err(at("access"), Problem::Limit(e)))?;
        rules.push(cgroup::DeviceRule {
            allow: d.allow(),
            kind,
            major: number("major", d.major())?,
            minor: number("minor", d.minor())?,
            access,
        });
    }
    Ok(rules)
}

/// Memory limit and memory+swap total, CPU quota/period and shares, pids limit, device
/// rules -> [`cgroup::Limits`]; every other resource present is pending.
fn lower_resources(r: &LinuxResources, out: &mut Out) -> Result<(), OciError> {
    let range = |path: &str, e: cleave::error::RangeError| err(path, Problem::Range(e));
    let pend = |out: &mut Out, path: &str, present: bool| {
        if present {
            out.pending(format!("linux.resources.{path}"), "Carried::resources");
        }
    };
    if let Some(m) = r.memory() {
        if let Some(limit) = m.limit().filter(|l| *l >= 0) {
            let limit = limit as u64;
            cgroup::check_memory(limit).map_err(|e| range("linux.resources.memory.limit", e))?;
            out.spec.limits.memory = Some(limit);
        }
        if let Some(r) = m.reservation().filter(|r| *r >= 0) {
            out.spec.limits.memory_reservation = Some(r as u64);
        }
        match m.swap() {
            Some(-1) => out.spec.limits.memory_swap = Some(cgroup::Swap::Unlimited),
            Some(total) if total >= 0 => {
                let total = total as u64;
                if let Some(limit) = out.spec.limits.memory.filter(|l| total < *l) {
                    return Err(err(
                        "linux.resources.memory.swap",
                        Problem::Limit(cleave::error::LimitProblem::SwapBelowMemory {
                            total,
                            memory: limit,
                        }),
                    ));
                }
                out.spec.limits.memory_swap = Some(cgroup::Swap::Total(total));
            }
            Some(v) => {
                return Err(err(
                    "linux.resources.memory.swap",
                    Problem::OutOfRange {
                        value: v.to_string(),
                        why: "give a memory+swap total in bytes, or -1 for unlimited",
                    },
                ))
            }
            None => {}
        }
        if m.swap().is_some_and(|s| Some(s) != m.limit()) {
            out.notes.push(Note {
                path: "linux.resources.memory.swap".into(),
                what: "applied where the kernel accounts swap (v1 memory.memsw.limit_in_bytes, cgroup2 memory.swap.max); on a host without swap accounting it is not written, since the kernel cannot enforce what it does not count",
            });
        }
        pend(out, "memory.kernel", m.kernel().is_some());
        pend(out, "memory.kernelTCP", m.kernel_tcp().is_some());
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(err(
                    "linux.resources.memory.swappiness",
                    Problem::OutOfRange {
                        value: s.to_string(),
                        why: "give a swappiness from 0 to 100",
                    },
                ));
            }
            out.spec.limits.memory_swappiness = Some(s);
            out.notes.push(Note {
                path: "linux.resources.memory.swappiness".into(),
                what: "applied through the v1 memory controller (memory.swappiness); cgroup2 has no per-cgroup swappiness, so where memory is on cgroup2 it is not applied",
            });
        }
        // false is the kernel's default: nothing to apply.
        if m.disable_oom_killer() == Some(true) {
            out.spec.limits.oom_kill_disable = true;
            out.notes.push(Note {
                path: "linux.resources.memory.disableOOMKiller".into(),
                what: "applied through the v1 memory controller (memory.oom_control); cgroup2 cannot disable the OOM killer, so where memory is on cgroup2 it stays enabled",
            });
        }
        if m.reservation().is_some_and(|r| r >= 0) {
            out.notes.push(Note {
                path: "linux.resources.memory.reservation".into(),
                what: "v1 memory.soft_limit_in_bytes, or cgroup2 memory.low (memory protected from reclaim up to it, rather than reclaimed first above it)",
            });
        }
        pend(out, "memory.useHierarchy", m.use_hierarchy().is_some());
        pend(
            out,
            "memory.checkBeforeUpdate",
            m.check_before_update().is_some(),
        );
    }
    if let Some(c) = r.cpu() {
        if let Some(quota) = c.quota().filter(|q| *q > 0) {
            let period = c.period().unwrap_or(cgroup::CPU_PERIOD_US);
            if period == 0 {
                return Err(err(
                    "linux.resources.cpu.period",
                    Problem::OutOfRange {
                        value: "0".into(),
                        why: "give a period in microseconds, e.g. 100000",
                    },
                ));
            }
            let cpus = quota as f64 / period as f64;
            cgroup::check_cpus(cpus).map_err(|e| range("linux.resources.cpu.quota", e))?;
            out.spec.limits.cpus = Some(cpus);
        }
        if let Some(period) = c.period() {
            cgroup::check_cpu_period(period).map_err(|e| range("linux.resources.cpu.period", e))?;
            out.spec.limits.cpu_period = Some(period);
        }
        if let Some(shares) = c.shares().filter(|s| *s > 0) {
            if !(2..=262_144).contains(&shares) {
                return Err(err(
                    "linux.resources.cpu.shares",
                    Problem::OutOfRange {
                        value: shares.to_string(),
                        why: "give shares from 2 to 262144 (1024 is the default)",
                    },
                ));
            }
            out.spec.limits.cpu_weight = Some(shares_to_weight(shares));
            // v1 reads back the shares given, not the weight's nearest.
            out.spec.limits.cpu_shares = Some(shares);
        }
        for (field, value, slot) in [
            ("cpus", c.cpus(), &mut out.spec.limits.cpuset_cpus),
            ("mems", c.mems(), &mut out.spec.limits.cpuset_mems),
        ] {
            let Some(list) = value.as_deref().filter(|s| !s.is_empty()) else {
                continue;
            };
            if !cgroup::is_cpu_list(list) {
                return Err(err(
                    format!("linux.resources.cpu.{field}"),
                    Problem::Limit(cleave::error::LimitProblem::CpuList(list.into())),
                ));
            }
            *slot = Some(list.into());
        }
        pend(out, "cpu.realtimeRuntime", c.realtime_runtime().is_some());
        pend(out, "cpu.realtimePeriod", c.realtime_period().is_some());
        pend(out, "cpu.idle", c.idle().is_some());
        pend(out, "cpu.burst", c.burst().is_some());
    }
    if let Some(p) = r.pids() {
        if p.limit() > 0 {
            out.spec.limits.pids = Some(p.limit() as u64);
        }
    }
    if let Some(devices) = r.devices().as_ref().filter(|d| !d.is_empty()) {
        let mut rules = lower_device_rules(devices)?;
        // Then the nodes the runtime makes (as runc does): a config that denies every
        // device still has /dev/null and its terminal.
        rules.extend(out.nodes.iter().copied());
        out.spec.limits.devices = Some(rules);
        out.carried.default_devices = None;
    }
    // An empty blockIO, or weights of 0 (docker sends `{"weight": 0}`), asks for nothing.
    let some = |v: &Option<Vec<_>>| v.as_ref().is_some_and(|v| !v.is_empty());
    pend(
        out,
        "blockIO",
        r.block_io().as_ref().is_some_and(|b| {
            b.weight().is_some_and(|w| w != 0)
                || b.leaf_weight().is_some_and(|w| w != 0)
                || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
                || some(b.throttle_read_bps_device())
                || some(b.throttle_write_bps_device())
                || some(b.throttle_read_iops_device())
                || some(b.throttle_write_iops_device())
        }),
    );
    pend(
        out,
        "hugepageLimits",
        r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
    );
    pend(out, "network", r.network().is_some());
    pend(
        out,
        "rdma",
        r.rdma().as_ref().is_some_and(|h| !h.is_empty()),
    );
    pend(
        out,
        "unified",
        r.unified().as_ref().is_some_and(|h| !h.is_empty()),
    );
    Ok(())
}
