//! The throw-away layer that keeps a new root's directory unchanged: before anything is
//! created in a directory the rootfs itself backs (a mount point the rootfs lacks, a
//! `--dir`, a device node), a tmpfs goes over that directory with each of its entries put
//! back: directories and files bound from the rootfs, symlinks made again. What the
//! sandbox creates there lives on the tmpfs and goes away with it; the entries themselves
//! stay the rootfs's (writes into them reach it, as with any bind). Chosen over an overlay
//! of the whole root: no overlayfs needed (nor its rules on upper and lower filesystems,
//! nor a copy-up of what the program writes), nothing changes for a rootfs that already
//! has what the sandbox needs, and only the directories written in get the layer.
use super::compile::{bind, fs_mount, relative_at, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, ROOT};
use super::model::{fail, Backing, Kind, Model};
use crate::error::{MountProblem, Result};
use crate::plan::Step;
use cleave_child::Op;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What an entry of the shadowed directory is.
enum Entry {
    Dir,
    File,
    Link(PathBuf),
}

/// Puts the throw-away layer over `dir` (inside), which the rootfs backs.
pub(super) fn shadow(
    model: &mut Model,
    steps: &mut Vec<Step>,
    dir: &Path,
    index: usize,
) -> Result<()> {
    let Some(host) = model.host_path(dir) else {
        return Ok(());
    };
    let unreadable = |e: std::io::Error| {
        fail(
            index,
            MountProblem::Rootfs {
                path: host.clone(),
                errno: e.raw_os_error().unwrap_or(libc::EIO),
            },
        )
    };
    let mode = std::fs::metadata(&host)
        .map_err(unreadable)?
        .permissions()
        .mode()
        & 0o7777;
    let mut entries = Vec::new();
    for e in std::fs::read_dir(&host).map_err(unreadable)? {
        let e = e.map_err(unreadable)?;
        let kind = match e.file_type().map_err(unreadable)? {
            t if t.is_dir() => Entry::Dir,
            t if t.is_symlink() => Entry::Link(std::fs::read_link(e.path()).map_err(unreadable)?),
            _ => Entry::File,
        };
        entries.push((PathBuf::from(e.file_name()), kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let shown = dir.display();

    // Each entry opened (in the sandbox's tree as it is now, inside the root, not following
    // a final symlink) before the tmpfs hides it.
    let mut slots = Vec::new();
    for (name, kind) in &entries {
        if matches!(kind, Entry::Link(_)) {
            slots.push(None);
            continue;
        }
        let slot = model.next_slot;
        model.next_slot += 1;
        steps.push(Step::new(
            Op::OpenAt {
                root: ROOT,
                path: relative_at(&dir.join(name)),
                flags: (libc::O_NOFOLLOW) as u64,
                slot,
            },
            format!(
                "open {} before the layer over {shown} hides it",
                dir.join(name).display()
            ),
        ));
        slots.push(Some(slot));
    }
    let keep = (dir == Path::new("/")).then_some(ROOT);
    steps.push(fs_mount(
        "tmpfs",
        &[("mode", &format!("{mode:04o}"))],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        dir,
        keep,
        format!("mount a throw-away tmpfs over {shown} (the new root's directory stays unchanged)"),
    ));
    // The mounts already below `dir` stay on top of what the layer puts back.
    let below: Vec<(PathBuf, Backing)> = model
        .mounts
        .iter()
        .filter(|(p, _)| p != dir && p.starts_with(dir))
        .cloned()
        .collect();
    model.mounts.push((dir.to_path_buf(), Backing::Fresh));
    for ((name, kind), slot) in entries.iter().zip(slots) {
        let at = dir.join(name);
        let (root, parent, entry_name) = super::compile::entry(&at);
        match (kind, slot) {
            (Entry::Link(target), _) => {
                steps.push(Step::new(
                    Op::SymlinkAt {
                        root,
                        parent,
                        name: entry_name,
                        target: super::compile::bytes(target).to_vec(),
                    },
                    format!(
                        "symlink {} -> {} again on the layer",
                        at.display(),
                        target.display()
                    ),
                ));
                model.created(&at, Kind::Link(target.clone()));
            }
            (kind, Some(slot)) => {
                let is_dir = matches!(kind, Entry::Dir);
                let op = if is_dir {
                    Op::MkdirAt {
                        root,
                        parent,
                        name: entry_name,
                        mode: 0o755,
                    }
                } else {
                    Op::CreateFileAt {
                        root,
                        parent,
                        name: entry_name,
                        mode: 0o644,
                    }
                };
                steps.push(Step::new(op, format!("a mount point for {}", at.display())));
                steps.push(bind(
                    slot,
                    &at,
                    0,
                    0,
                    true,
                    format!("bind the new root's {} back on the layer", at.display()),
                ));
                if is_dir {
                    model
                        .mounts
                        .push((at.clone(), Backing::Host(host.join(name))));
                    model.rootfs_mounts.push(at);
                } else {
                    model.created(&at, Kind::Other);
                }
            }
            (_, None) => {}
        }
    }
    model.mounts.extend(below);
    Ok(())
}
