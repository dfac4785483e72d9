//! `mounts[i]` -> [`MountOp`]: bind and rbind become [`MountOp::BindMount`], every other
//! type a new filesystem ([`MountOp::Mount`]: tmpfs, proc, devpts, mqueue, sysfs, cgroup...)
//! with the filesystem's own options passed on. Every option is honoured exactly, honoured
//! more strictly (a [`Note`]), or refused with [`Unsupported`] naming the option. Nothing is
//! skipped.
use crate::error::{OciError, Problem, Unsupported};
use crate::lowered::Note;
use cleave::mount::{
    Atime, MountFlags, MountOp, Propagation, RootPropagation, RootPropagationMode,
};
use oci_spec::runtime::Mount;
use std::path::Path;

/// The mount options the lowering of `mounts` accepts on some mount (features.json `mountOptions`).
pub const MOUNT_OPTIONS: [&str; 26] = [
    "async",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "exec",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "norelatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "slave",
    "strictatime",
    "suid",
    "unbindable",
];

/// One option, read.
enum Opt<'a> {
    /// `ro` (true) or `rw`.
    ReadOnly(bool),
    /// `nosuid` (true) or `suid`.
    NoSuid(bool),
    /// `nodev` (true) or `dev`.
    NoDev(bool),
    /// `noexec` (true) or `exec`.
    NoExec(bool),
    /// `bind` or `rbind` (true).
    Bind(bool),
    /// A propagation option.
    Propagation(&'a str),
    /// `relatime`, the kernel's default.
    Relatime,
    /// `defaults`: rw, suid, dev, exec, async.
    Defaults,
    /// Anything else: a filesystem's own option (`size=64m`, `mode=1777`) or a flag cleave
    /// does not know.
    Other(&'a str),
}

fn read(o: &str) -> Opt<'_> {
    match o {
        "ro" => Opt::ReadOnly(true),
        "rw" => Opt::ReadOnly(false),
        "nosuid" => Opt::NoSuid(true),
        "suid" => Opt::NoSuid(false),
        "nodev" => Opt::NoDev(true),
        "dev" => Opt::NoDev(false),
        "noexec" => Opt::NoExec(true),
        "exec" => Opt::NoExec(false),
        "bind" => Opt::Bind(false),
        "rbind" => Opt::Bind(true),
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
        | "runbindable" => Opt::Propagation(o),
        "relatime" => Opt::Relatime,
        "defaults" => Opt::Defaults,
        _ => Opt::Other(o),
    }
}

/// The mount(2) flags cleave's mounts do not take (mount_setattr(2) has no such attribute).
const REFUSED: [&str; 10] = [
    "sync",
    "dirsync",
    "mand",
    "remount",
    "silent",
    "loud",
    "iversion",
    "lazytime",
    "nosymfollow",
    "move",
];

/// Lowers `mounts[i]`; relative bind sources are taken from `bundle`. `new_net`: the
/// container has a new network namespace (else a sysfs is read-only, runc's rule). The
/// second op, when there is one, sets a propagation type the mount itself cannot carry:
/// unbindable, or any but private on a new filesystem.
pub(crate) fn lower_mount(
    i: usize,
    m: &Mount,
    bundle: &Path,
    new_net: bool,
    notes: &mut Vec<Note>,
) -> Result<(MountOp, Option<MountOp>), OciError> {
    let at = |field: &str| format!("mounts[{i}].{field}");
    let dst = m.destination().clone();
    if dst.as_os_str().is_empty() {
        return Err(OciError::new(at("destination"), Problem::Empty));
    }
    if !dst.is_absolute() {
        return Err(OciError::new(at("destination"), Problem::NotAbsolute));
    }
    let options: &[String] = m.options().as_deref().unwrap_or(&[]);
    let bind = options.iter().find_map(|o| match read(o) {
        Opt::Bind(r) => Some(r),
        _ => None,
    });
    let fstype: String = match (bind, m.typ().as_deref()) {
        (Some(_), _) | (None, Some("bind")) => "bind".into(),
        (None, Some("")) | (None, None) => return Err(OciError::new(at("type"), Problem::Missing)),
        (None, Some(other)) => other.into(),
    };
    let kind: &'static str = match fstype.as_str() {
        "bind" => "bind",
        "tmpfs" => "tmpfs",
        "proc" => "proc",
        "cgroup" => "cgroup",
        _ => "new filesystem",
    };
    let option_path = |k: usize| format!("mounts[{i}].options[{k}]");
    let refuse = |k: usize, o: &str| {
        OciError::new(
            option_path(k),
            Problem::Unsupported(Unsupported::MountOption {
                option: o.into(),
                kind,
            }),
        )
    };
    let mut flags = MountFlags::default();
    let mut propagation = None;
    // As mount(8), the last propagation option wins.
    let mut then: Option<RootPropagation> = None;
    let mut data: Vec<&str> = Vec::new();
    for (k, o) in options.iter().enumerate() {
        match read(o) {
            Opt::ReadOnly(v) => flags.read_only = v,
            Opt::NoSuid(v) => flags.nosuid = v,
            Opt::NoDev(v) => flags.nodev = v,
            Opt::NoExec(v) => flags.noexec = v,
            Opt::Bind(_) | Opt::Defaults => {}
            Opt::Relatime => flags.atime = Atime::Relatime,
            Opt::Other("noatime") => flags.atime = Atime::NoAtime,
            Opt::Other("strictatime") => flags.atime = Atime::StrictAtime,
            Opt::Other("nodiratime") => flags.nodiratime = true,
            Opt::Other("diratime" | "async" | "norelatime") => {}
            Opt::Propagation(p) => {
                let base = p.strip_prefix('r').unwrap_or(p);
                let mode = match base {
                    "private" => RootPropagationMode::Private,
                    "slave" => RootPropagationMode::Slave,
                    "shared" => RootPropagationMode::Shared,
                    "unbindable" => RootPropagationMode::Unbindable,
                    _ => return Err(refuse(k, o)),
                };
                let recursive = p.starts_with('r');
                propagation = None;
                then = None;
                match mode {
                    // A bind carries private, slave and shared itself (the r- forms: a
                    // recursive bind's is set recursively).
                    RootPropagationMode::Private if kind == "bind" => {
                        propagation = Some(Propagation::Private)
                    }
                    RootPropagationMode::Slave if kind == "bind" => {
                        propagation = Some(Propagation::Slave)
                    }
                    RootPropagationMode::Shared if kind == "bind" => {
                        propagation = Some(Propagation::Shared)
                    }
                    // A new filesystem in a new mount namespace under a private root is
                    // private already.
                    RootPropagationMode::Private if !recursive => {}
                    _ => then = Some(RootPropagation { mode, recursive }),
                }
            }
            Opt::Other(x) if REFUSED.contains(&x) => return Err(refuse(k, o)),
            // A filesystem's own `key=value` on a bind: there is no new filesystem to take
            // it (mount(2) ignores data with MS_BIND, and runc passes it there): noted, not
            // applied.
            Opt::Other(x) if kind == "bind" && x.contains('=') => notes.push(Note {
                path: option_path(k),
                what: "not applied: a bind mount makes no new filesystem to take a filesystem option (the kernel ignores it on a bind)",
            }),
            // Any other filesystem option: binds and cgroup mounts take none.
            Opt::Other(x) if kind == "bind" || kind == "cgroup" => return Err(refuse(k, x)),
            Opt::Other(x) => data.push(x),
        }
    }
    if kind == "bind" {
        let src = m
            .source()
            .as_ref()
            .filter(|s| !s.as_os_str().is_empty())
            .ok_or_else(|| OciError::new(at("source"), Problem::Missing))?;
        let then = then.map(|propagation| MountOp::Propagate {
            dst: dst.clone(),
            propagation,
        });
        return Ok((
            MountOp::BindMount {
                src: bundle.join(src),
                dst,
                recursive: bind == Some(true),
                flags,
                propagation,
                optional: false,
            },
            then,
        ));
    }
    let then = then.map(|propagation| MountOp::Propagate {
        dst: dst.clone(),
        propagation,
    });
    if kind == "proc" {
        for (asked, what) in [
            (flags.nosuid, "nosuid added"),
            (flags.nodev, "nodev added"),
            (flags.noexec, "noexec added"),
        ] {
            if !asked {
                notes.push(Note {
                    path: at("options"),
                    what,
                });
            }
        }
    }
    if fstype == "sysfs" && !new_net && !flags.read_only {
        flags.read_only = true;
        notes.push(Note {
            path: at("options"),
            what: "ro added: a sysfs without a new network namespace is read-only",
        });
    }
    let op = MountOp::Mount {
        source: m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        fstype,
        dst,
        flags,
        data: data.join(","),
    };
    Ok((op, then))
}
