//! `mounts[i]` -> [`MountOp`]: bind/rbind, tmpfs and proc have cleave operations; every
//! option is either honoured exactly, honoured more strictly (a [`Note`]), or refused
//! with [`Unsupported`] naming the option. Nothing is skipped.
use crate::error::{OciError, Problem, Unsupported};
use crate::lowered::Note;
use cleave::mount::MountOp;
use oci_spec::runtime::Mount;
use std::path::Path;

/// The mount options the lowering of `mounts` accepts on some mount (features.json `mountOptions`).
pub const MOUNT_OPTIONS: [&str; 11] = [
    "defaults", "dev", "mode", "nodev", "noexec", "nosuid", "private", "rbind", "relatime", "ro",
    "rprivate",
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

/// What the options asked for, each with the index of the option that last set it.
#[derive(Default)]
struct Asked {
    read_only: Option<(bool, usize)>,
    nosuid: Option<(bool, usize)>,
    nodev: Option<(bool, usize)>,
    noexec: Option<(bool, usize)>,
}

fn on(v: Option<(bool, usize)>) -> bool {
    v.is_some_and(|(b, _)| b)
}

/// Lowers `mounts[i]`; relative bind sources are taken from `bundle`.
pub(crate) fn lower_mount(
    i: usize,
    m: &Mount,
    bundle: &Path,
    notes: &mut Vec<Note>,
) -> Result<MountOp, OciError> {
    let at = |field: &str| format!("mounts[{i}].{field}");
    let dst = m.destination().clone();
    if dst.as_os_str().is_empty() {
        return Err(OciError::new(at("destination"), Problem::Empty));
    }
    if !dst.is_absolute() {
        return Err(OciError::new(at("destination"), Problem::NotAbsolute));
    }
    let options: &[String] = m.options().as_deref().unwrap_or(&[]);
    let bind = options.iter().enumerate().find_map(|(k, o)| match read(o) {
        Opt::Bind(r) => Some((k, r)),
        _ => None,
    });
    let kind: &'static str = match (bind, m.typ().as_deref()) {
        (Some(_), _) | (None, Some("bind")) => "bind",
        (None, Some("tmpfs")) => "tmpfs",
        (None, Some("proc")) => "proc",
        (None, Some(other)) => {
            return Err(OciError::new(
                at("type"),
                Problem::Unsupported(Unsupported::MountType(other.into())),
            ))
        }
        (None, None) => return Err(OciError::new(at("type"), Problem::Missing)),
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
    let mut asked = Asked::default();
    for (k, o) in options.iter().enumerate() {
        let opt = read(o);
        // Flags the operation cannot honour, refused in the order given: binds keep the
        // source's nosuid and noexec (either way); tmpfs is writable and allows exec; a
        // procfs is writable.
        let unhonoured = matches!(
            (kind, &opt),
            ("bind", Opt::NoSuid(_) | Opt::NoExec(_))
                | ("tmpfs", Opt::ReadOnly(true) | Opt::NoExec(true))
                | ("proc", Opt::ReadOnly(true))
        );
        if unhonoured {
            return Err(refuse(k, o));
        }
        match opt {
            Opt::ReadOnly(v) => asked.read_only = Some((v, k)),
            Opt::NoSuid(v) => asked.nosuid = Some((v, k)),
            Opt::NoDev(v) => asked.nodev = Some((v, k)),
            Opt::NoExec(v) => asked.noexec = Some((v, k)),
            Opt::Bind(_) | Opt::Defaults => {}
            // A new mount namespace with a private root makes every mount in it private.
            Opt::Propagation("private" | "rprivate") => {}
            Opt::Propagation(p) => return Err(refuse(k, p)),
            // Binds keep the source's atime flags; the new filesystems get relatime.
            Opt::Relatime if kind != "bind" => {}
            Opt::Other(mode) if kind == "tmpfs" && matches!(mode, "mode=755" | "mode=0755") => {}
            Opt::Relatime | Opt::Other(_) => return Err(refuse(k, o)),
        }
    }
    let mut stricter = |asked: Option<(bool, usize)>, what: &'static str| {
        if !on(asked) {
            notes.push(Note {
                path: at("options"),
                what,
            });
        }
    };
    Ok(match kind {
        "bind" => {
            let recursive = match bind {
                Some((_, r)) => r,
                None => false,
            };
            if !recursive {
                let path = bind.map_or_else(|| at("type"), |(k, _)| option_path(k));
                return Err(OciError::new(
                    path,
                    Problem::Unsupported(Unsupported::NonRecursiveBind),
                ));
            }
            let src = m
                .source()
                .as_ref()
                .filter(|s| !s.as_os_str().is_empty())
                .ok_or_else(|| OciError::new(at("source"), Problem::Missing))?;
            let src = bundle.join(src);
            let dev = matches!(asked.nodev, Some((false, _)));
            match (on(asked.read_only), dev) {
                (true, true) => {
                    let k = asked.nodev.map_or(0, |(_, k)| k);
                    return Err(refuse(k, "dev"));
                }
                (true, false) => {
                    stricter(asked.nodev, "nodev added: device nodes do not work there");
                    MountOp::RoBind {
                        src,
                        dst,
                        optional: false,
                    }
                }
                (false, true) => MountOp::DevBind {
                    src,
                    dst,
                    optional: false,
                },
                (false, false) => {
                    stricter(asked.nodev, "nodev added: device nodes do not work there");
                    MountOp::Bind {
                        src,
                        dst,
                        optional: false,
                    }
                }
            }
        }
        "tmpfs" => {
            stricter(asked.nosuid, "nosuid added");
            stricter(asked.nodev, "nodev added: device nodes do not work there");
            MountOp::Tmpfs { dst }
        }
        _ => {
            stricter(asked.nosuid, "nosuid added");
            stricter(asked.nodev, "nodev added");
            stricter(asked.noexec, "noexec added");
            MountOp::Proc { dst }
        }
    })
}
