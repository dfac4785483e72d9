//! config.json texts lowered into sandbox specifications, checked field by field; every
//! refusal names its JSON path; a lowered config passes the library's prepare().
use cleave::idmap::{IdMap, IdMapping};
use cleave::mount::{
    Atime, MountFlags, MountOp, Propagation, RootPropagation, RootPropagationMode,
};
use cleave::{CloneFlags, Namespace};
use cleave_oci::{lower, parse, Lowered, OciError};
use serde_json::{json, Value};
use std::path::Path;

/// `runc spec` (runc 1.1): the default config.
fn runc_default() -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                "/proc/sysrq-trigger"]
        }
    })
}

/// runc's default with the mounts cleave has operations for today.
fn runc_like() -> Value {
    let mut v = runc_default();
    v["mounts"] = json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=755"]},
        {"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf",
         "options": ["rbind", "ro", "nodev", "rprivate"]}
    ]);
    v
}

fn lower_value(v: &Value) -> Result<Lowered, OciError> {
    let config = parse(&v.to_string())?;
    lower(&config, Path::new("/bundle"))
}

/// `v` with the value at `pointer` replaced, or added to its object.
fn with(mut v: Value, pointer: &str, value: Value) -> Value {
    if let Some(old) = v.pointer_mut(pointer) {
        *old = value;
        return v;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent:?} in the config"))
        .insert(key.into(), value);
    v
}

#[test]
fn a_runc_like_config_lowers_field_by_field() {
    let l = lower_value(&runc_like()).unwrap();
    let s = &l.spec;
    assert_eq!(s.process.program, "sh");
    assert!(s.process.args.is_empty());
    assert!(s.process.env.clear);
    assert_eq!(
        s.process.env.set,
        [
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
            ),
            ("TERM".into(), "xterm".into())
        ]
    );
    assert_eq!(s.filesystem.chdir.as_deref(), Some(Path::new("/")));
    assert_eq!((s.ids.uid, s.ids.gid), (Some(0), Some(0)));
    assert_eq!(s.ids.mapping, IdMapping::Root);
    assert_eq!(
        s.namespaces.new,
        CloneFlags::NEWPID
            | CloneFlags::NEWNET
            | CloneFlags::NEWIPC
            | CloneFlags::NEWUTS
            | CloneFlags::NEWNS
            | CloneFlags::NEWCGROUP
    );
    assert!(s.namespaces.join.is_empty());
    assert!(s.as_pid1, "the process is PID 1 of its new PID namespace");
    assert!(
        s.security.new_session,
        "it leads a session of its own, as runc's init (CRIU refuses a PID-ns init whose session is outside)"
    );
    assert!(!s.mount_proc);
    assert_eq!(s.uts.hostname.as_deref(), Some("runc".as_ref()));
    assert_eq!(s.uts.domainname, None);
    assert_eq!(
        s.filesystem.rootfs.as_deref(),
        Some(Path::new("/bundle/rootfs"))
    );
    let ops = &s.filesystem.ops;
    assert_eq!(
        ops[0],
        MountOp::Mount {
            source: "proc".into(),
            fstype: "proc".into(),
            dst: "/proc".into(),
            flags: MountFlags::default(),
            data: String::new(),
        }
    );
    assert_eq!(
        ops[1],
        MountOp::Mount {
            source: "tmpfs".into(),
            fstype: "tmpfs".into(),
            dst: "/tmp".into(),
            flags: MountFlags {
                nosuid: true,
                nodev: true,
                ..MountFlags::default()
            },
            data: "mode=755".into(),
        }
    );
    assert_eq!(
        ops[2],
        MountOp::BindMount {
            src: "/etc/resolv.conf".into(),
            dst: "/etc/resolv.conf".into(),
            recursive: true,
            flags: MountFlags {
                read_only: true,
                nodev: true,
                ..MountFlags::default()
            },
            propagation: Some(Propagation::Private),
            optional: false,
        }
    );
    assert_eq!(
        ops[3],
        MountOp::Mask {
            dst: "/proc/acpi".into()
        }
    );
    assert_eq!(
        ops[13],
        MountOp::ReadOnly {
            dst: "/proc/bus".into()
        }
    );
    // root.readonly last, and the root mount alone: the mount points are made first.
    assert_eq!(ops[18], MountOp::RemountRoTop { dst: "/".into() });
    assert_eq!(ops.len(), 3 + 10 + 5 + 1);
    assert_eq!(l.mount_path(2), Some("mounts[2]"));
    assert_eq!(l.mount_path(12), Some("linux.maskedPaths[9]"));
    assert_eq!(l.mount_path(17), Some("linux.readonlyPaths[4]"));
    assert_eq!(l.mount_path(18), Some("root.readonly"));
    assert_eq!(l.mount_path(19), None);
    let r = &s.security.rlimits;
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].name().as_str(), r[0].soft, r[0].hard),
        ("nofile", 1024, 1024)
    );
    assert!(s.security.no_new_privs);
    // runc 1.1 leaves inheritable out: the five sets are lowered as they are.
    let caps = s.security.capabilities.unwrap();
    let three = (1 << 29) | (1 << 5) | (1 << 10);
    assert_eq!(
        (
            caps.bounding,
            caps.effective,
            caps.permitted,
            caps.inheritable,
            caps.ambient
        ),
        (three, three, three, 0, three)
    );
    let sets = l.carried.capabilities.unwrap();
    assert_eq!(
        (
            sets.bounding,
            sets.effective,
            sets.permitted,
            sets.inheritable,
            sets.ambient
        ),
        (three, three, three, 0, three)
    );
    // runc's default denies every device: a rule the kernel enforces, nothing else limited.
    let deny_all = cleave::cgroup::DeviceRule {
        allow: false,
        kind: cleave::cgroup::DeviceKind::All,
        major: None,
        minor: None,
        access: cleave::cgroup::DeviceAccess::ALL,
    };
    // Then each node the runtime makes, allowed.
    let rules = s.limits.devices.clone().unwrap();
    assert_eq!(rules[0], deny_all);
    assert!(rules[1..].iter().all(|r| r.allow));
    assert_eq!(
        cleave::cgroup::Limits {
            devices: None,
            ..s.limits.clone()
        },
        cleave::cgroup::Limits::default()
    );
    assert!(l.carried.terminal);
    assert_eq!(l.carried.oci_version, "1.0.2-dev");
    assert!(l.pending.is_empty(), "{:?}", l.pending);
    // proc gets nosuid, nodev and noexec whatever the config says: each one is noted.
    let notes: Vec<(&str, &str)> = l.notes.iter().map(|n| (n.path.as_str(), n.what)).collect();
    assert_eq!(
        notes,
        [
            ("mounts[0].options", "nosuid added"),
            ("mounts[0].options", "nodev added"),
            ("mounts[0].options", "noexec added"),
        ]
    );
}

#[test]
fn equal_capability_sets_lower_exactly() {
    let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
    let v = with(
        runc_like(),
        "/process/capabilities",
        json!({"bounding": caps, "effective": caps, "permitted": caps,
               "inheritable": caps, "ambient": ["CAP_KILL"]}),
    );
    let l = lower_value(&v).unwrap();
    let c = l.spec.security.capabilities.unwrap();
    let two = (1 << 0) | (1 << 5);
    assert_eq!(
        (
            c.bounding,
            c.effective,
            c.permitted,
            c.inheritable,
            c.ambient
        ),
        (two, two, two, two, 1 << 5)
    );
    assert!(!l.pending.iter().any(|p| p.path == "process.capabilities"));
}

#[test]
fn binds_lower_by_their_options() {
    let bind = |options: Value| {
        let v = with(
            runc_like(),
            "/mounts",
            json!([{"destination": "/data", "type": "bind", "source": "data", "options": options}]),
        );
        lower_value(&v).map(|l| (l.spec.filesystem.ops[0].clone(), l.notes.len()))
    };
    let op = |recursive, flags, propagation| MountOp::BindMount {
        src: "/bundle/data".into(),
        dst: "/data".into(),
        recursive,
        flags,
        propagation,
        optional: false,
    };
    let none = MountFlags::default();
    assert_eq!(bind(json!(["rbind"])).unwrap(), (op(true, none, None), 0));
    assert_eq!(bind(json!(["bind"])).unwrap(), (op(false, none, None), 0));
    let all = MountFlags {
        read_only: true,
        nosuid: true,
        nodev: true,
        noexec: true,
        ..none
    };
    assert_eq!(
        bind(json!(["bind", "ro", "nosuid", "nodev", "noexec", "rslave"])).unwrap(),
        (op(false, all, Some(Propagation::Slave)), 0)
    );
    assert_eq!(
        bind(json!(["rbind", "rprivate"])).unwrap(),
        (op(true, none, Some(Propagation::Private)), 0)
    );
    let e = |o: Value| bind(o).unwrap_err().to_string();
    // A filesystem's `key=value` on a bind has no filesystem to go to: noted, not applied
    // (runtime-tools' `mounts` gives binds `mode=755,size=1k`); a bare unknown word is
    // refused.
    assert_eq!(
        bind(json!(["rbind", "size=1m"])).unwrap(),
        (op(true, none, None), 1)
    );
    assert_eq!(
        e(json!(["rbind", "sizeable"])),
        "mounts[0].options[1]: not supported by cleave: the option \"sizeable\" on a bind mount"
    );
    // runbindable: the bind, then its propagation set on it and the mounts below it.
    let v = with(
        runc_like(),
        "/mounts",
        json!([{"destination": "/data", "type": "bind", "source": "data",
                "options": ["rbind", "runbindable"]}]),
    );
    let l = lower_value(&v).unwrap();
    assert_eq!(l.spec.filesystem.ops[0], op(true, none, None));
    assert_eq!(
        l.spec.filesystem.ops[1],
        MountOp::Propagate {
            dst: "/data".into(),
            propagation: RootPropagation {
                mode: RootPropagationMode::Unbindable,
                recursive: true
            }
        }
    );
    assert_eq!(l.mount_path(1), Some("mounts[0]"));
    let v = with(
        runc_like(),
        "/mounts",
        json!([{"destination": "/data", "type": "bind", "options": ["rbind"]}]),
    );
    assert_eq!(
        lower_value(&v).unwrap_err().to_string(),
        "mounts[0].source: missing"
    );
}

/// The mounts of `runc spec`, podman 4.3 and docker 20.10 each lower into a library op.
#[test]
fn default_mounts_lower_into_new_filesystems() {
    let l = lower_value(&runc_default()).unwrap();
    let ops = &l.spec.filesystem.ops;
    // The seven mounts, and root.readonly last.
    assert_eq!(ops.last(), Some(&MountOp::RemountRoTop { dst: "/".into() }));
    let MountOp::Mount {
        fstype,
        flags,
        data,
        source,
        ..
    } = &ops[2]
    else {
        panic!("{:?}", ops[2])
    };
    assert_eq!((fstype.as_str(), source.as_str()), ("devpts", "devpts"));
    assert_eq!(data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    assert!(flags.nosuid && flags.noexec && !flags.nodev && !flags.read_only);
    let MountOp::Mount { flags, data, .. } = &ops[1] else {
        panic!()
    };
    assert_eq!(flags.atime, Atime::StrictAtime);
    assert_eq!(data, "mode=755,size=65536k");
    let MountOp::Mount { fstype, flags, .. } = &ops[5] else {
        panic!()
    };
    assert_eq!(fstype, "sysfs");
    assert!(flags.read_only);
    let MountOp::Mount { fstype, flags, .. } = &ops[6] else {
        panic!()
    };
    assert_eq!(fstype, "cgroup");
    assert!(flags.read_only && flags.nosuid && flags.noexec && flags.nodev);
    // The default devices and links under the config's /dev.
    let devices: Vec<String> = ops
        .iter()
        .filter_map(|op| match op {
            MountOp::Device { dst, .. } => Some(dst.display().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        devices,
        [
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
            "/dev/tty"
        ]
    );
    assert!(ops.contains(&MountOp::Symlink {
        target: "pts/ptmx".into(),
        dst: "/dev/ptmx".into()
    }));
    // A sysfs without a new network namespace is read-only, whatever the config says.
    let mut v = runc_default();
    v["mounts"][5]["options"] = json!(["nosuid"]);
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    let l = lower_value(&v).unwrap();
    let MountOp::Mount { flags, .. } = &l.spec.filesystem.ops[6] else {
        panic!()
    };
    assert!(flags.read_only);
    assert!(l.notes.iter().any(|n| n.path == "mounts[5].options"));
}

/// A bundle with the busybox-less rootfs the prepare() checks need: the directories the
/// configs mount on, and the files they bind.
fn bundle(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cleave-oci-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in [
        "rootfs/proc",
        "rootfs/dev",
        "rootfs/sys",
        "rootfs/etc",
        "rootfs/tmp",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    for f in ["hosts", "resolv.conf", "hostname"] {
        std::fs::write(dir.join(f), "x\n").unwrap();
    }
    std::fs::create_dir_all(dir.join("shm")).unwrap();
    dir
}

fn lower_in(v: &Value, bundle: &Path) -> Lowered {
    let config = parse(&v.to_string()).unwrap();
    lower(&config, bundle).unwrap()
}

/// What podman 4.3 sends (root, `--network none`): its default mounts and binds.
fn podman_default(b: &Path) -> Value {
    let mut v = runc_default();
    v["root"] = json!({"path": "rootfs"});
    v["mounts"] = json!([
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/etc/hostname", "type": "bind", "source": b.join("hostname"), "options": ["bind", "rprivate"]},
        {"destination": "/etc/resolv.conf", "type": "bind", "source": b.join("resolv.conf"), "options": ["bind", "rprivate"]},
        {"destination": "/etc/hosts", "type": "bind", "source": b.join("hosts"), "options": ["bind", "rprivate"]},
        {"destination": "/dev/shm", "type": "bind", "source": b.join("shm"), "options": ["bind", "rprivate", "nosuid", "noexec", "nodev"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]}
    ]);
    v["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "mount"}, {"type": "cgroup"}
    ]);
    v
}

/// What docker 20.10 sends (`--network none`): its default mounts and binds.
fn docker_default(b: &Path) -> Value {
    let mut v = runc_default();
    v["root"] = json!({"path": "rootfs"});
    v["mounts"] = json!([
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
        {"destination": "/etc/resolv.conf", "type": "bind", "source": b.join("resolv.conf"), "options": ["rbind", "rprivate"]},
        {"destination": "/etc/hostname", "type": "bind", "source": b.join("hostname"), "options": ["rbind", "rprivate"]},
        {"destination": "/etc/hosts", "type": "bind", "source": b.join("hosts"), "options": ["rbind", "rprivate"]}
    ]);
    v
}

#[test]
fn runc_podman_and_docker_defaults_lower_and_prepare() {
    let b = bundle("defaults");
    for (name, v) in [
        ("runc", runc_default()),
        ("podman", podman_default(&b)),
        ("docker", docker_default(&b)),
    ] {
        let l = lower_in(&v, &b);
        assert!(l.pending.is_empty(), "{name}: {:?}", l.pending);
        // Every default device and the terminals stay usable under the config's rules.
        let rules = l.spec.limits.devices.clone().unwrap();
        for line in [
            "c 1:3 rwm",
            "c 1:9 rwm",
            "c 5:0 rwm",
            "c 5:2 rwm",
            "c 136:* rwm",
        ] {
            assert!(
                rules.iter().any(|r| r.v1_lines() == [line]),
                "{name}: {line}: {rules:?}"
            );
        }
        if let Err(e) = cleave::sandbox::prepare(&l.spec) {
            panic!(
                "{name}: {}",
                l.locate(e)
                    .map_or_else(|e| e.to_string(), |e| e.to_string())
            );
        }
    }
    std::fs::remove_dir_all(&b).unwrap();
}

#[test]
fn every_refusal_names_its_json_path() {
    let base = runc_like;
    let cases: Vec<(Value, &str)> = vec![
        (
            with(base(), "/ociVersion", json!("2.0.0")),
            "ociVersion: 2.0.0: cleave runs configs of runtime-spec 1.x",
        ),
        (
            with(base(), "/ociVersion", json!("1.0")),
            "ociVersion: \"1.0\" is not a version: write MAJOR.MINOR.PATCH, e.g. 1.0.2",
        ),
        (
            with(base(), "/ociVersion", json!("")),
            "ociVersion: missing",
        ),
        (
            with(base(), "/mounts/2/destination", json!("etc/resolv.conf")),
            "mounts[2].destination: must be absolute",
        ),
        (
            with(base(), "/process/args", json!([])),
            "process.args: must not be empty",
        ),
        (
            with(base(), "/process/args", json!(["", "x"])),
            "process.args[0]: must not be empty",
        ),
        (
            with(base(), "/process/cwd", json!("work")),
            "process.cwd: must be absolute",
        ),
        (
            with(base(), "/process/env/1", json!("TERM")),
            "process.env[1]: \"TERM\" has no `=`: write NAME=VALUE",
        ),
        (
            with(
                base(),
                "/process/rlimits/0",
                json!({"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}),
            ),
            "process.rlimits[0]: the soft limit 2048 is above the hard limit 1024",
        ),
        (
            with(base(), "/process/oomScoreAdj", json!(1001)),
            "process.oomScoreAdj: 1001 is out of range: give -1000 to 1000",
        ),
        (
            with(base(), "/linux/namespaces/2", json!({"type": "ipc", "path": "ipc"})),
            "linux.namespaces[2].path: must be absolute",
        ),
        (
            with(base(), "/linux/namespaces/3", json!({"type": "pid"})),
            "linux.namespaces[3].type: a pid namespace appears twice (first at linux.namespaces[0])",
        ),
        (
            with(
                base(),
                "/linux/uidMappings",
                json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
            ),
            "linux.uidMappings: needs a new user namespace in linux.namespaces",
        ),
        (
            with(
                base(),
                "/linux/timeOffsets",
                json!({"monotonic": {"secs": 10}}),
            ),
            "linux.timeOffsets: needs a new time namespace in linux.namespaces",
        ),
        (
            with(base(), "/linux/maskedPaths/3", json!("proc/keys")),
            "linux.maskedPaths[3]: must be absolute",
        ),
        (
            with(base(), "/linux/readonlyPaths/0", json!("")),
            "linux.readonlyPaths[0]: must be absolute",
        ),
        (
            with(base(), "/linux/rootfsPropagation", json!("rbogus")),
            "linux.rootfsPropagation: not supported by cleave: root propagation \"rbogus\": use private, slave, shared or unbindable (or their r- forms)",
        ),
        (
            with(base(), "/linux/intelRdt", json!({"closID": "x"})),
            "linux.intelRdt: not supported by cleave: Intel RDT (resctrl); remove linux.intelRdt",
        ),
        (
            with(base(), "/linux/resources", json!({"memory": {"limit": 4096}})),
            "linux.resources.memory.limit: memory limit 4096: below the minimum of 1M (1048576 bytes), in which no program starts; give e.g. 64M",
        ),
        (
            with(base(), "/linux/resources", json!({"cpu": {"quota": 1, "period": 1000000}})),
            "linux.resources.cpu.quota: CPU limit 1e-6: give a number of CPUs from 0.01 to 175921860 (1 ms to the largest quota cpu.max takes, per 100 ms period), e.g. 0.5 or 2",
        ),
        (
            with(base(), "/root/path", json!("")),
            "root.path: must not be empty",
        ),
        (
            with(base(), "/mounts/1/type", json!("")),
            "mounts[1].type: missing",
        ),
        (
            with(base(), "/mounts/1/options", json!(["nosuid", "sync"])),
            "mounts[1].options[1]: not supported by cleave: the option \"sync\" on a tmpfs mount",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(lower_value(&v).unwrap_err().to_string(), want);
    }
    // Missing top-level parts.
    let mut v = base();
    v.as_object_mut().unwrap().remove("root");
    assert_eq!(lower_value(&v).unwrap_err().to_string(), "root: missing");
    let mut v = base();
    v.as_object_mut().unwrap().remove("process");
    assert_eq!(lower_value(&v).unwrap_err().to_string(), "process: missing");
    // Time offsets with a time namespace: whole seconds only, known clocks only.
    let mut v = base();
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    let nanos = with(
        v.clone(),
        "/linux/timeOffsets",
        json!({"boottime": {"secs": 1, "nanosecs": 5}}),
    );
    assert_eq!(
        lower_value(&nanos).unwrap_err().to_string(),
        "linux.timeOffsets.boottime.nanosecs: not supported by cleave: nanoseconds in a clock offset: give whole seconds"
    );
    let realtime = with(
        v.clone(),
        "/linux/timeOffsets",
        json!({"realtime": {"secs": 1}}),
    );
    assert_eq!(
        lower_value(&realtime).unwrap_err().to_string(),
        "linux.timeOffsets.realtime: unknown clock \"realtime\": use monotonic or boottime"
    );
    let ok = with(
        v,
        "/linux/timeOffsets",
        json!({"monotonic": {"secs": -5}, "boottime": {"secs": 7, "nanosecs": 0}}),
    );
    let t = lower_value(&ok).unwrap().spec.time;
    assert_eq!((t.monotonic, t.boottime), (Some(-5), Some(7)));
}

#[test]
fn parse_errors_name_their_json_path() {
    let v = with(
        runc_like(),
        "/process/capabilities/bounding/1",
        json!("CAP_FLY"),
    );
    let e = parse(&v.to_string()).unwrap_err();
    assert_eq!(e.path, "process.capabilities.bounding[1]");
    assert!(
        e.to_string()
            .starts_with("process.capabilities.bounding[1]: "),
        "{e}"
    );
    let e = parse("{").unwrap_err().to_string();
    assert!(e.starts_with("config.json: EOF while parsing"), "{e}");
    // Unknown fields and annotations are accepted and annotations carried.
    let mut v = runc_like();
    v["org.example.future"] = json!({"x": 1});
    v["process"]["someNewField"] = json!(true);
    v["annotations"] = json!({"org.example.k": "v"});
    let l = lower_value(&v).unwrap();
    assert_eq!(l.carried.annotations["org.example.k"], "v");
}

#[test]
fn resources_lower_into_limits_and_the_rest_is_pending() {
    let v = with(
        runc_like(),
        "/linux/resources",
        json!({
            "memory": {"limit": 67108864, "swap": 67108864},
            "cpu": {"quota": 50000, "period": 100000, "shares": 1024, "cpus": "0-1"},
            "pids": {"limit": 32},
            "blockIO": {"weight": 10},
            "unified": {"memory.high": "50M"}
        }),
    );
    let v = with(v, "/linux/cgroupsPath", json!("/cleave/box"));
    let l = lower_value(&v).unwrap();
    let lim = &l.spec.limits;
    assert_eq!(lim.memory, Some(64 << 20));
    assert_eq!(lim.cpus, Some(0.5));
    assert_eq!(lim.cpu_weight, Some(100));
    assert_eq!(lim.pids, Some(32));
    assert_eq!(lim.memory_swap, Some(cleave::cgroup::Swap::Total(64 << 20)));
    // The shares themselves for v1, the CPUs for cpuset.
    assert_eq!(lim.cpu_shares, Some(1024));
    assert_eq!(lim.cpu_period, Some(100_000));
    assert_eq!(lim.cpuset_cpus.as_deref(), Some("0-1"));
    let pending: Vec<&str> = l.pending.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        pending,
        [
            "linux.resources.blockIO",
            "linux.resources.unified",
            "linux.cgroupsPath",
        ]
    );
    assert!(l.carried.resources.is_some());
    // A period other than cleave's is kept with the share of a CPU.
    let v = with(
        runc_like(),
        "/linux/resources",
        json!({"cpu": {"quota": 20000, "period": 10000, "mems": "0"},
               "memory": {"limit": -1, "reservation": 33554432, "swappiness": 10,
                          "disableOOMKiller": true}}),
    );
    let l = lower_value(&v).unwrap();
    let lim = &l.spec.limits;
    assert_eq!(lim.cpus, Some(2.0));
    assert_eq!(lim.cpu_period, Some(10_000));
    assert_eq!(cleave::cgroup::cpu_quota_in(2.0, 10_000), 20_000);
    assert_eq!(lim.cpuset_mems.as_deref(), Some("0"));
    assert_eq!(lim.memory, None, "-1 is no limit");
    assert_eq!(lim.memory_reservation, Some(32 << 20));
    assert_eq!(lim.memory_swappiness, Some(10));
    assert!(lim.oom_kill_disable);
    assert!(l.pending.is_empty(), "{:?}", l.pending);
    // What cgroup2 lacks is said in the lowering notes.
    let noted: Vec<&str> = l.notes.iter().map(|n| n.path.as_str()).collect();
    for path in [
        "linux.resources.memory.swappiness",
        "linux.resources.memory.disableOOMKiller",
        "linux.resources.memory.reservation",
    ] {
        assert!(noted.contains(&path), "{path} not noted: {noted:?}");
    }
    assert!(l
        .notes
        .iter()
        .any(|n| n.what.contains("cgroup2 cannot disable the OOM killer")));
    // Values the kernel refuses are refused with their JSON path.
    for (resources, message) in [
        (
            json!({"cpu": {"period": 999}}),
            "linux.resources.cpu.period: ",
        ),
        (
            json!({"cpu": {"cpus": "0-x"}}),
            "linux.resources.cpu.cpus: invalid CPU or memory node list \"0-x\"",
        ),
        (
            json!({"cpu": {"mems": "1-0"}}),
            "linux.resources.cpu.mems: invalid CPU or memory node list",
        ),
        (
            json!({"cpu": {"shares": 1}}),
            "linux.resources.cpu.shares: ",
        ),
        (
            json!({"memory": {"swappiness": 101}}),
            "linux.resources.memory.swappiness: ",
        ),
    ] {
        let v = with(runc_like(), "/linux/resources", resources.clone());
        let e = lower_value(&v).unwrap_err().to_string();
        assert!(e.starts_with(message), "{resources}: {e}");
    }
    // Shares and weights meet at the ends and at the default.
    assert_eq!(cleave_oci::shares_to_weight(2), 1);
    assert_eq!(cleave_oci::shares_to_weight(262_144), 10_000);
    for w in [1, 50, 100, 500, 10_000] {
        assert_eq!(
            cleave_oci::shares_to_weight(cleave::cgroup::weight_to_shares(w)),
            w
        );
    }
}

#[test]
fn device_rules_and_swap_lower_in_order() {
    use cleave::cgroup::{DeviceAccess, DeviceKind, DeviceRule, Swap};
    let v = with(
        runc_like(),
        "/linux/resources",
        json!({
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                {"allow": true, "type": "b", "major": 8, "minor": -1, "access": "m"},
                {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}
            ],
            "memory": {"limit": 33554432, "swap": -1}
        }),
    );
    let l = lower_value(&v).unwrap();
    let rule = |allow, kind, major, minor, access: &str| DeviceRule {
        allow,
        kind,
        major,
        minor,
        access: DeviceAccess::parse(access).unwrap(),
    };
    let rules = [
        rule(false, DeviceKind::All, None, None, "rwm"),
        rule(true, DeviceKind::Char, Some(1), Some(3), "rw"),
        rule(true, DeviceKind::Block, Some(8), None, "m"),
        rule(false, DeviceKind::Char, Some(1), Some(3), "w"),
    ];
    let got = l.spec.limits.devices.clone().unwrap();
    assert_eq!(got[..4], rules[..], "the config's rules first, in order");
    assert!(
        got[4..].iter().all(|r| r.allow),
        "then the nodes made: {got:?}"
    );
    let lines: Vec<String> = rules.iter().flat_map(|r| r.v1_lines()).collect();
    assert_eq!(lines, ["a", "c 1:3 rw", "b 8:* m", "c 1:3 w"]);
    // `a` with a number is both kinds: the kernel reads a line starting `a` as everything.
    assert_eq!(
        rule(true, DeviceKind::All, Some(1), None, "r").v1_lines(),
        ["c 1:* r", "b 1:* r"]
    );
    assert_eq!(l.spec.limits.memory_swap, Some(Swap::Unlimited));
    assert!(l.pending.is_empty(), "{:?}", l.pending);
    assert!(l
        .notes
        .iter()
        .any(|n| n.path == "linux.resources.memory.swap"));
    // Refusals name the JSON path.
    for (resources, path) in [
        (
            json!({"devices": [{"allow": true, "type": "c", "access": "rx"}]}),
            "linux.resources.devices[0].access",
        ),
        (
            json!({"devices": [{"allow": true}, {"allow": true, "type": "p"}]}),
            "linux.resources.devices[1].type",
        ),
        (
            json!({"devices": [{"allow": true, "type": "c", "major": -2}]}),
            "linux.resources.devices[0].major",
        ),
        (
            json!({"memory": {"limit": 67108864, "swap": 33554432}}),
            "linux.resources.memory.swap",
        ),
    ] {
        let v = with(runc_like(), "/linux/resources", resources);
        let e = lower_value(&v).unwrap_err();
        assert!(e.to_string().starts_with(path), "{e}");
    }
}

#[test]
fn the_rest_is_carried_for_the_runtime() {
    let mut v = runc_like();
    v["process"]["consoleSize"] = json!({"height": 24, "width": 80});
    v["process"]["oomScoreAdj"] = json!(100);
    v["process"]["user"] = json!({"uid": 1, "gid": 2, "umask": 18, "additionalGids": [3, 4]});
    v["hooks"] = json!({"prestart": [{"path": "/bin/true"}]});
    v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW"});
    v["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
    let l = lower_value(&v).unwrap();
    let c = &l.carried;
    assert_eq!(c.console_size, Some((24, 80)));
    assert_eq!(c.oom_score_adj, Some(100));
    assert_eq!((l.spec.ids.uid, l.spec.ids.gid), (Some(1), Some(2)));
    assert_eq!(c.umask, Some(18));
    assert_eq!(c.additional_gids, [3, 4]);
    assert_eq!(
        c.hooks.as_ref().unwrap().prestart().as_ref().unwrap().len(),
        1
    );
    assert_eq!(c.sysctl["net.ipv4.ip_forward"], "1");
    assert!(c.seccomp.is_some());
    assert!(!l.spec.security.seccomp_filters.is_empty());
    assert_eq!(c.devices.len(), 1);
    let pending: Vec<&str> = l.pending.iter().map(|p| p.path.as_str()).collect();
    for p in [
        "process.user.umask",
        "process.user.additionalGids",
        "process.oomScoreAdj",
        "linux.sysctl",
    ] {
        assert!(pending.contains(&p), "{p} not in {pending:?}");
    }
    // hooks, terminal and consoleSize are the runtime's own work, not pending.
    assert!(!pending
        .iter()
        .any(|p| p.starts_with("hooks") || p.contains("console")));
}

/// `runc spec --rootless`-style: a user namespace mapping root inside to the caller, the
/// host's root as the rootfs, so that the library's checks find real paths.
fn rootless(euid: u32, egid: u32) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": "/", "readonly": false},
        "process": {
            "args": ["/bin/true"],
            "env": ["PATH=/usr/bin:/bin"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "capabilities": {
                "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                "inheritable": ["CAP_KILL"]
            },
            "noNewPrivileges": true
        },
        "hostname": "box",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
            {"destination": "/usr", "type": "bind", "source": "/usr",
             "options": ["rbind", "ro", "nodev"]}
        ],
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": euid, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": egid, "size": 1}],
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                           {"type": "mount"}, {"type": "user"}],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"]
        }
    })
}

fn ids() -> (u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u32 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        // Real, effective, saved, filesystem: the effective one.
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    (field("Uid:"), field("Gid:"))
}

#[test]
fn a_rootless_config_lowers_and_prepares() {
    let (euid, egid) = ids();
    let l = lower_value(&rootless(euid, egid)).unwrap();
    assert_eq!(
        l.spec.ids.mapping,
        IdMapping::Custom {
            users: vec![IdMap::single(0, euid)],
            groups: vec![IdMap::single(0, egid)],
        }
    );
    assert!(l.pending.is_empty(), "{:?}", l.pending);
    assert!(l.notes.is_empty(), "{:?}", l.notes);
    let prepared = cleave::sandbox::prepare(&l.spec).expect("prepare the lowered spec");
    assert!(prepared
        .flags()
        .contains(CloneFlags::NEWUSER | CloneFlags::NEWPID | CloneFlags::NEWNS));
    let steps: Vec<&str> = prepared.steps().map(|(_, w)| w).collect();
    assert!(steps.iter().any(|w| w.contains("procfs")), "{steps:?}");
    assert!(
        !steps.iter().any(|w| w.contains("init")),
        "PID 1 is the program: {steps:?}"
    );
}

#[test]
fn library_errors_come_back_as_json_paths() {
    let (euid, egid) = ids();
    let locate = |v: Value| -> String {
        let l = lower_value(&v).unwrap();
        let e = cleave::sandbox::prepare(&l.spec).expect_err("prepare refuses");
        l.locate(e).expect("an error with an origin").to_string()
    };
    // A hostname without a UTS namespace of its own.
    let mut v = rootless(euid, egid);
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "uts");
    assert_eq!(locate(v), "hostname: needs a new uts namespace");
    // Library mount 2 is config mount 2 (root.readonly comes last).
    let v = with(rootless(euid, egid), "/root/readonly", json!(true));
    let v = with(v, "/mounts/2/source", json!("/nonexistent-cleave-oci"));
    let e = locate(v);
    assert!(
        e.starts_with("mounts[2]: the source /nonexistent-cleave-oci: ENOENT"),
        "{e}"
    );
    // A namespace path of the wrong type.
    let mut v = rootless(euid, egid);
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "network", "path": "/proc/self/ns/uts"}));
    let e = locate(v);
    assert!(
        e.starts_with("linux.namespaces[5].path: /proc/self/ns/uts is not a net namespace"),
        "{e}"
    );
    // A uid that the maps leave out.
    let v = with(rootless(euid, egid), "/process/user/uid", json!(5));
    assert_eq!(
        locate(v),
        "process.user.uid: 5 is not mapped in the new user namespace: map it, or pick a mapped id"
    );
    let _ = Namespace::Net;
}

/// What docker sends by default asks for nothing: `blockIO: {"weight": 0}` and
/// `disableOOMKiller: false` are not pending and set nothing; a real weight is pending and
/// `true` disables the OOM killer.
#[test]
fn docker_defaults_ask_for_nothing() {
    let v = with(
        runc_like(),
        "/linux/resources",
        json!({"blockIO": {"weight": 0}, "memory": {"disableOOMKiller": false}}),
    );
    let l = lower_value(&v).unwrap();
    assert!(l.pending.is_empty(), "{:?}", l.pending);
    assert!(!l.spec.limits.oom_kill_disable);
    let v = with(
        runc_like(),
        "/linux/resources",
        json!({"blockIO": {"weight": 10}, "memory": {"disableOOMKiller": true}}),
    );
    let l = lower_value(&v).unwrap();
    let pending: Vec<&str> = l.pending.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(pending, ["linux.resources.blockIO"]);
    assert!(l.spec.limits.oom_kill_disable);
}

/// A devpts `gid=5` in a user namespace that maps group 5 stays; where group 5 has no
/// mapping (a rootless container mapping its user alone, runc's `spec --rootless` case) the
/// kernel would refuse the mount: the option is dropped, with a note naming the path.
#[test]
fn devpts_gid_without_a_mapping_is_dropped_with_a_note() {
    let devpts = json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
        "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]});
    let data = |l: &Lowered| {
        l.spec
            .filesystem
            .ops
            .iter()
            .find_map(|op| match op {
                MountOp::Mount { fstype, data, .. } if fstype == "devpts" => Some(data.clone()),
                _ => None,
            })
            .unwrap()
    };
    let mut v = rootless(1000, 1000);
    v["mounts"].as_array_mut().unwrap().push(devpts.clone());
    let l = lower_value(&v).unwrap();
    assert_eq!(data(&l), "newinstance,ptmxmode=0666,mode=0620");
    assert_eq!(l.notes.len(), 1, "{:?}", l.notes);
    assert_eq!(l.notes[0].path, "mounts[3].options");
    assert!(l.notes[0].what.starts_with("gid= dropped"));
    // A map covering group 5 keeps it; so does the host's user namespace.
    let v = with(
        v,
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
    );
    let l = lower_value(&v).unwrap();
    assert_eq!(data(&l), "newinstance,ptmxmode=0666,mode=0620,gid=5");
    assert!(l.notes.is_empty(), "{:?}", l.notes);
    let l = lower_value(&runc_default()).unwrap();
    assert!(data(&l).ends_with(",gid=5"));
}

/// linux.rootfsPropagation shared and unbindable are the new root's own, set after
/// pivot_root; the namespace stays private to the host (runtime-tools'
/// validation/linux_rootfs_propagation checks them from inside).
#[test]
fn shared_and_unbindable_root_propagation_is_the_new_roots() {
    for (given, mode, recursive) in [
        ("shared", RootPropagationMode::Shared, false),
        ("rshared", RootPropagationMode::Shared, true),
        ("unbindable", RootPropagationMode::Unbindable, false),
        ("runbindable", RootPropagationMode::Unbindable, true),
    ] {
        let b = bundle("rprop");
        let mut v = with(runc_like(), "/linux/rootfsPropagation", json!(given));
        v["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
        let l = lower_in(&v, &b);
        assert_eq!(
            l.spec.filesystem.propagation,
            Propagation::Private,
            "{given}"
        );
        assert_eq!(
            l.spec.filesystem.root_propagation,
            Some(RootPropagation { mode, recursive }),
            "{given}"
        );
        let prepared = cleave::sandbox::prepare(&l.spec).unwrap();
        let steps: Vec<&str> = prepared.steps().map(|(_, w)| w).collect();
        let pivot = steps
            .iter()
            .position(|w| w.starts_with("pivot_root"))
            .unwrap();
        assert!(
            steps[pivot + 1].starts_with("make the new root"),
            "after pivot_root: {steps:?}"
        );
        std::fs::remove_dir_all(&b).unwrap();
    }
    let l = lower_value(&with(
        runc_like(),
        "/linux/rootfsPropagation",
        json!("slave"),
    ))
    .unwrap();
    assert_eq!(l.spec.filesystem.root_propagation, None);
}

/// linux.devices of type `p` are FIFOs: made with mknod (no privilege needed, no device
/// rule added); runtime-tools' validation/linux_devices checks the node from inside.
#[test]
fn fifo_devices_lower_to_fifo_nodes() {
    use cleave::mount::DeviceKind;
    let v = with(
        runc_like(),
        "/linux/devices",
        json!([{"path": "/dev/fifo", "type": "p", "major": 0, "minor": 0, "fileMode": 432}]),
    );
    let l = lower_value(&v).unwrap();
    let fifo = l
        .spec
        .filesystem
        .ops
        .iter()
        .find(|op| op.dst() == Path::new("/dev/fifo"))
        .unwrap();
    assert!(
        matches!(
            fifo,
            MountOp::Device {
                kind: DeviceKind::Fifo,
                mode: 0o660,
                ..
            }
        ),
        "{fifo:?}"
    );
    let rules = l.spec.limits.devices.unwrap();
    assert!(rules.iter().all(|r| r.major != Some(0)), "{rules:?}");
}

/// A propagation option on a new filesystem (runtime-tools' `mounts` program: tmpfs with
/// shared, slave, private): the mount, then its propagation set on it; plain private is
/// what a new filesystem under a private root has already, and adds nothing.
#[test]
fn new_filesystems_take_propagation_options() {
    let tmpfs = |options: Value| {
        let v = with(
            runc_like(),
            "/mounts",
            json!([{"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": options}]),
        );
        lower_value(&v).unwrap().spec.filesystem.ops
    };
    let set = |mode, recursive| MountOp::Propagate {
        dst: "/t".into(),
        propagation: RootPropagation { mode, recursive },
    };
    for (option, then) in [
        ("shared", Some(set(RootPropagationMode::Shared, false))),
        ("rslave", Some(set(RootPropagationMode::Slave, true))),
        (
            "unbindable",
            Some(set(RootPropagationMode::Unbindable, false)),
        ),
        ("private", None),
    ] {
        let ops = tmpfs(json!(["nosuid", "size=1k", option]));
        assert!(
            matches!(&ops[0], MountOp::Mount { fstype, data, .. } if fstype == "tmpfs" && data == "size=1k"),
            "{option}: {ops:?}"
        );
        assert_eq!(
            ops.get(1).filter(|o| o.dst() == Path::new("/t")),
            then.as_ref(),
            "{option}"
        );
    }
    // The last propagation option wins, as with mount(8).
    let ops = tmpfs(json!(["shared", "private"]));
    assert!(
        ops.iter().all(|o| !matches!(o, MountOp::Propagate { .. })),
        "{ops:?}"
    );
}
