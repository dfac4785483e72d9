//! The mount options in command-line order, with bubblewrap's modifiers: --perms applies
//! to the next --tmpfs, --dir, --file, --bind-data or --ro-bind-data, --size to the next
//! --tmpfs, and the --overlay-src given just before an overlay are its layers.
use super::spec::Refused;
use crate::cli::SandboxArgs;
use clap::ArgMatches;
use cleave::mount::{MountOp, OverlayWrites};
use std::path::{Path, PathBuf};

/// One option as given: its clap id, its position and its values.
struct Given<'a> {
    id: &'static str,
    at: usize,
    values: &'a [PathBuf],
}

fn text(p: &Path) -> String {
    cleave::error::one_line(&p.to_string_lossy())
}

fn octal(option: &str, v: &Path) -> Result<u32, Refused> {
    u32::from_str_radix(&v.to_string_lossy(), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            Refused::Usage(format!(
                "{option} {}: give permission bits in octal, at most 7777 (e.g. 0700)",
                text(v)
            ))
        })
}

fn fd(option: &str, v: &Path) -> Result<i32, Refused> {
    v.to_string_lossy()
        .parse::<i32>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            Refused::Usage(format!(
                "{option} {}: give a file descriptor number open in cleave (e.g. 3 with 3<FILE in the shell)",
                text(v)
            ))
        })
}

fn size(v: &Path) -> Result<u64, Refused> {
    let t = v.to_string_lossy();
    match cleave::cgroup::parse_size(&t) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Refused::Usage(format!(
            "--size {}: give the tmpfs's size in bytes, more than 0 (K, M, G units read too, e.g. 64M)",
            text(v)
        ))),
    }
}

/// The clap ids of the mount options ([`given`] pairs each with its values).
const IDS: [&str; 25] = [
    "bind",
    "ro_bind",
    "dev_bind",
    "bind_try",
    "ro_bind_try",
    "dev_bind_try",
    "tmpfs",
    "proc",
    "dev",
    "dir",
    "symlink",
    "remount_ro",
    "bind_fd",
    "ro_bind_fd",
    "file",
    "bind_data",
    "ro_bind_data",
    "mqueue",
    "overlay_src",
    "overlay",
    "tmp_overlay",
    "ro_overlay",
    "perms",
    "size",
    "chmod",
];

/// Where the mount options' values stood on the command line (clap's indices), read from
/// the matches before they are taken apart into [`SandboxArgs`] (which drops the indices),
/// so that the matches need no copy.
#[derive(Default)]
pub struct Positions(Vec<(&'static str, Vec<usize>)>);

impl Positions {
    /// The positions of the mount options given in `matches` (none without matches).
    pub fn of(matches: Option<&ArgMatches>) -> Positions {
        let Some(m) = matches else {
            return Positions::default();
        };
        Positions(
            IDS.iter()
                .filter_map(|&id| Some((id, m.indices_of(id)?.collect())))
                .collect(),
        )
    }

    fn get(&self, id: &str) -> Option<&[usize]> {
        self.0
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, at)| at.as_slice())
    }
}

/// Every mount option with its position (options without matches keep their own order).
fn given<'a>(s: &'a SandboxArgs, positions: &Positions) -> Vec<Given<'a>> {
    let m = &s.more_mounts;
    let lists: [(&'static str, &Vec<PathBuf>, usize); 25] = [
        ("bind", &s.bind, 2),
        ("ro_bind", &s.ro_bind, 2),
        ("dev_bind", &s.dev_bind, 2),
        ("bind_try", &s.bind_try, 2),
        ("ro_bind_try", &s.ro_bind_try, 2),
        ("dev_bind_try", &s.dev_bind_try, 2),
        ("tmpfs", &s.tmpfs, 1),
        ("proc", &s.proc, 1),
        ("dev", &s.dev, 1),
        ("dir", &s.dir, 1),
        ("symlink", &s.symlink, 2),
        ("remount_ro", &s.remount_ro, 1),
        ("bind_fd", &m.bind_fd, 2),
        ("ro_bind_fd", &m.ro_bind_fd, 2),
        ("file", &m.file, 2),
        ("bind_data", &m.bind_data, 2),
        ("ro_bind_data", &m.ro_bind_data, 2),
        ("mqueue", &m.mqueue, 1),
        ("overlay_src", &m.overlay_src, 1),
        ("overlay", &m.overlay, 3),
        ("tmp_overlay", &m.tmp_overlay, 1),
        ("ro_overlay", &m.ro_overlay, 1),
        ("perms", &m.perms, 1),
        ("size", &m.size, 1),
        ("chmod", &m.chmod, 2),
    ];
    let mut all = Vec::new();
    debug_assert!(lists.iter().map(|l| l.0).eq(IDS));
    for (id, values, arity) in lists {
        let indices: Vec<usize> = positions
            .get(id)
            .map(<[usize]>::to_vec)
            .unwrap_or_else(|| (0..values.len()).map(|i| i + 1000).collect());
        for (n, chunk) in values.chunks(arity).enumerate() {
            let at = indices.get(n * arity).copied().unwrap_or(usize::MAX);
            all.push(Given {
                id,
                at,
                values: chunk,
            });
        }
    }
    all.sort_by_key(|g| g.at);
    all
}

/// The mount options in command-line order, as operations with the words each came from.
pub(super) fn mount_ops(
    s: &SandboxArgs,
    positions: &Positions,
) -> Result<Vec<(MountOp, String)>, Refused> {
    let mut ops = Vec::new();
    // Modifiers waiting for the operation they apply to, with their words.
    let mut perms: Option<(u32, String)> = None;
    let mut size_of: Option<(u64, String)> = None;
    let mut layers: Vec<PathBuf> = Vec::new();
    let mut layer_words: Vec<String> = Vec::new();
    for g in given(s, positions) {
        let option = format!("--{}", g.id.replace('_', "-"));
        let one = || g.values[0].clone();
        let two = || g.values.get(1).cloned().unwrap_or_default();
        let three = || g.values.get(2).cloned().unwrap_or_default();
        let mut label = std::iter::once(option.clone())
            .chain(g.values.iter().map(|p| p.display().to_string()))
            .collect::<Vec<_>>()
            .join(" ");
        match g.id {
            "perms" => {
                if let Some((_, w)) = &perms {
                    return Err(Refused::Usage(format!(
                        "{w} is followed by {label}: give --perms once, just before the operation it applies to"
                    )));
                }
                perms = Some((octal("--perms", &one())?, label));
                continue;
            }
            "size" => {
                if let Some((_, w)) = &size_of {
                    return Err(Refused::Usage(format!(
                        "{w} is followed by {label}: give --size once, just before its --tmpfs"
                    )));
                }
                size_of = Some((size(&one())?, label));
                continue;
            }
            "overlay_src" => {
                layers.push(one());
                layer_words.push(label);
                continue;
            }
            _ => {}
        }
        let takes_perms = matches!(
            g.id,
            "tmpfs" | "dir" | "file" | "bind_data" | "ro_bind_data"
        );
        if let Some((_, w)) = perms.as_ref().filter(|_| !takes_perms) {
            return Err(Refused::Usage(format!(
                "{w} is followed by {label}: --perms applies to the next --tmpfs, --dir, --file, --bind-data or --ro-bind-data"
            )));
        }
        if let Some((_, w)) = size_of.as_ref().filter(|_| g.id != "tmpfs") {
            return Err(Refused::Usage(format!(
                "{w} is followed by {label}: --size applies to the next --tmpfs"
            )));
        }
        let is_overlay = matches!(g.id, "overlay" | "tmp_overlay" | "ro_overlay");
        if !layers.is_empty() && !is_overlay {
            return Err(Refused::Usage(format!(
                "{} is followed by {label}: --overlay-src applies to the next --overlay, --tmp-overlay or --ro-overlay",
                layer_words.join(" ")
            )));
        }
        let mode = perms.take().map(|(m, w)| {
            label = format!("{w} {label}");
            m
        });
        let size = size_of.take().map(|(n, w)| {
            label = format!("{w} {label}");
            n
        });
        // The -try forms (bubblewrap's) skip a source that does not exist.
        let (id, optional) = match g.id.strip_suffix("_try") {
            Some(base) => (base, true),
            None => (g.id, false),
        };
        let op = match id {
            "bind" => MountOp::Bind {
                src: one(),
                dst: two(),
                optional,
            },
            "ro_bind" => MountOp::RoBind {
                src: one(),
                dst: two(),
                optional,
            },
            "dev_bind" => MountOp::DevBind {
                src: one(),
                dst: two(),
                optional,
            },
            "tmpfs" => MountOp::Tmpfs {
                dst: one(),
                mode,
                size,
            },
            "proc" => MountOp::Proc { dst: one() },
            "dev" => MountOp::Dev { dst: one() },
            "dir" => MountOp::Dir { dst: one(), mode },
            "symlink" => MountOp::Symlink {
                target: one(),
                dst: two(),
            },
            "remount_ro" => MountOp::RemountRo { dst: one() },
            "bind_fd" | "ro_bind_fd" => MountOp::BindFd {
                fd: fd(&option, &one())?,
                dst: two(),
                read_only: id == "ro_bind_fd",
            },
            "file" => MountOp::File {
                fd: fd(&option, &one())?,
                dst: two(),
                mode: mode.unwrap_or(0o666),
            },
            "bind_data" | "ro_bind_data" => MountOp::BindData {
                fd: fd(&option, &one())?,
                dst: two(),
                mode: mode.unwrap_or(0o600),
                read_only: id == "ro_bind_data",
            },
            "mqueue" => MountOp::Mqueue { dst: one() },
            "overlay" | "tmp_overlay" | "ro_overlay" => {
                let (writes, dst) = match id {
                    "overlay" => (
                        OverlayWrites::To {
                            upper: one(),
                            work: two(),
                        },
                        three(),
                    ),
                    "tmp_overlay" => (OverlayWrites::Discarded, one()),
                    _ => (OverlayWrites::ReadOnly, one()),
                };
                if !layer_words.is_empty() {
                    label = format!("{} {label}", layer_words.join(" "));
                }
                layer_words.clear();
                MountOp::Overlay {
                    sources: std::mem::take(&mut layers),
                    writes,
                    dst,
                }
            }
            _ => MountOp::Chmod {
                mode: octal("--chmod", &one())?,
                dst: two(),
            },
        };
        ops.push((op, label));
    }
    let left = [
        perms.map(|(_, w)| w),
        size_of.map(|(_, w)| w),
        (!layer_words.is_empty()).then(|| layer_words.join(" ")),
    ];
    if let Some(w) = left.into_iter().flatten().next() {
        return Err(Refused::Usage(format!(
            "{w} applies to the operation after it, and none follows: put it just before the option it modifies"
        )));
    }
    Ok(ops)
}
