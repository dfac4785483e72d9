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
use rustix::fs::{
    fstat, openat2, readlinkat, statat, AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags,
};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// What an entry of the shadowed directory is.
enum Entry {
    Dir,
    File,
    Link(PathBuf),
}

/// How an entry is put back on the layer.
enum Put {
    /// Made again (a symlink).
    Link(PathBuf),
    /// Bound back from the rootfs (a file, or a directory nothing later changes).
    Bind { dir: bool, host: PathBuf },
    /// An empty directory: a later op mounts a whole filesystem or bind on it, which
    /// would hide what a bind put back. Not stacking the two keeps one mount per mount
    /// point, as CRIU needs (its external mounts are keyed by mount point).
    Covered { dir: bool },
    /// A layer of its own (a tmpfs of this mode on a directory of this layer) with the
    /// directory's entries put back (the entries that follow): a later op creates
    /// something in it, which a bind put back would send to the rootfs, and a layer on
    /// that bind would stack two mounts at one point.
    Opened(u32),
}

/// The new root, opened once by its host path (the caller's), and its directories opened
/// through that fd: every lookup stays inside the root (`RESOLVE_IN_ROOT`) and follows no
/// symlink (`RESOLVE_NO_SYMLINKS`). The model resolved every link already, so a link found
/// on the way now was put there since, racing the setup; listing through it could show
/// the names (and link targets) of a host directory on the layer.
struct Root<'a> {
    fd: OwnedFd,
    path: &'a Path,
}

impl<'a> Root<'a> {
    fn open(path: &'a Path) -> io::Result<Root<'a>> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd, path })
    }

    /// `host` (a path under the root) opened with `flags` through the root.
    fn open_at(&self, host: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let rel = host
            .strip_prefix(self.path)
            .map_err(|_| io::Error::from_raw_os_error(libc::EXDEV))?;
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS;
        Ok(openat2(
            &self.fd,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        )?)
    }

    /// The directory `host`, to list.
    fn dir(&self, host: &Path) -> io::Result<OwnedFd> {
        self.open_at(host, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)
    }

    /// Whether the root has something at `host` (a symlink there counts; one on the way
    /// does not).
    fn has(&self, host: &Path) -> bool {
        self.open_at(host, OFlags::PATH | OFlags::NOFOLLOW).is_ok()
    }
}

/// The entries of directory `dir`, by name.
fn entries(dir: &OwnedFd) -> io::Result<Vec<(PathBuf, Entry)>> {
    let mut out = Vec::new();
    for e in Dir::read_from(dir)? {
        let e = e?;
        let name = e.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let file_type = match e.file_type() {
            FileType::Unknown => {
                FileType::from_raw_mode(statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?.st_mode)
            }
            t => t,
        };
        let kind = match file_type {
            FileType::Directory => Entry::Dir,
            FileType::Symlink => {
                let target = readlinkat(dir, name, Vec::new())?;
                Entry::Link(PathBuf::from(OsString::from_vec(target.into_bytes())))
            }
            _ => Entry::File,
        };
        out.push((PathBuf::from(OsStr::from_bytes(name.to_bytes())), kind));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// What goes on the layer over `dir` (inside; `host` its directory in the rootfs, `fd`
/// that directory opened through `root`), each entry after its parent, deciding each
/// directory by the ops after op `index`.
fn plan(
    model: &Model,
    root: &Root,
    (dir, host, fd): (&Path, &Path, &OwnedFd),
    index: usize,
    out: &mut Vec<(PathBuf, Put)>,
) -> io::Result<()> {
    for (name, kind) in entries(fd)? {
        let at = dir.join(&name);
        let on_host = host.join(&name);
        // Planned anew only where nothing is mounted yet at or below the entry (what is
        // there then is not the rootfs's, and stays on top of the layer, as before).
        let untouched = !model.mounts.iter().any(|(p, _)| p.starts_with(&at));
        let missing = |rest: &Path| !root.has(&on_host.join(rest));
        let put = match kind {
            Entry::Link(target) => Put::Link(target),
            Entry::File if untouched && model.covered_later(&at, index) => {
                Put::Covered { dir: false }
            }
            Entry::File => Put::Bind {
                dir: false,
                host: on_host,
            },
            Entry::Dir if untouched && model.covered_later(&at, index) => {
                Put::Covered { dir: true }
            }
            Entry::Dir if untouched && model.created_below_later(&at, index, missing) => {
                let sub = root.dir(&on_host)?;
                let mode = fstat(&sub)?.st_mode & 0o7777;
                out.push((at.clone(), Put::Opened(mode)));
                plan(model, root, (&at, &on_host, &sub), index, out)?;
                continue;
            }
            Entry::Dir => Put::Bind {
                dir: true,
                host: on_host,
            },
        };
        out.push((at, put));
    }
    Ok(())
}

/// Puts the throw-away layer over `dir` (inside), which the rootfs backs.
///
/// A procfs already mounted below `dir` is bound back with everything on it (the bind is
/// recursive), its masks and read-only copies included: the model's record of those
/// protections ([`Model::is_protected`]) stays true, and the layer does not mark them
/// covered (a config's mask of the same path would stack a second mount on the first).
pub(super) fn shadow(
    model: &mut Model,
    steps: &mut Vec<Step>,
    dir: &Path,
    index: usize,
) -> Result<()> {
    let (Some(host), Some(root_path)) = (model.host_path(dir), model.rootfs_dir()) else {
        return Ok(());
    };
    let fail_on = |path: &Path, e: io::Error| {
        let path = path.to_path_buf();
        let errno = e.raw_os_error().unwrap_or(libc::EIO);
        fail(
            index,
            match errno {
                libc::ELOOP | libc::ENOTDIR | libc::EXDEV => {
                    MountProblem::RootfsChanged { path, errno }
                }
                _ => MountProblem::Rootfs { path, errno },
            },
        )
    };
    let root = Root::open(root_path).map_err(|e| fail_on(root_path, e))?;
    let top = root.dir(&host).map_err(|e| fail_on(&host, e))?;
    let mode = fstat(&top).map_err(|e| fail_on(&host, e.into()))?.st_mode & 0o7777;
    let mut puts = Vec::new();
    plan(model, &root, (dir, &host, &top), index, &mut puts).map_err(|e| fail_on(&host, e))?;
    drop((top, root));
    let shown = dir.display();

    // Each entry bound back opened (in the sandbox's tree as it is now, inside the root,
    // not following a final symlink) before the tmpfs hides it.
    let mut slots = Vec::new();
    for (at, put) in &puts {
        if !matches!(put, Put::Bind { .. }) {
            slots.push(None);
            continue;
        }
        let slot = model.next_slot;
        model.next_slot += 1;
        steps.push(Step::new(
            Op::OpenAt {
                root: ROOT,
                path: relative_at(at),
                flags: (libc::O_NOFOLLOW) as u64,
                slot,
            },
            format!(
                "open {} before the layer over {shown} hides it",
                at.display()
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
    // The entries holding mounts made before the layer go back last, in the order those
    // mounts were made (a bind copies them, and the copies take their place in the mount
    // table): the table keeps the order of the operations (runtime-tools' `mounts` checks
    // that an OCI config's mounts are found in order). Such an entry is never below an
    // Opened one, so every directory still comes before its entries.
    let mut pairs: Vec<_> = puts.into_iter().zip(slots).collect();
    pairs.sort_by_key(|((at, _), _)| {
        below
            .iter()
            .position(|(p, _)| p.starts_with(at))
            .map_or(0, |k| k + 1)
    });
    for ((at, put), slot) in pairs {
        let (root, parent, entry_name) = super::compile::entry(&at);
        match (put, slot) {
            (Put::Link(target), _) => {
                steps.push(Step::new(
                    Op::SymlinkAt {
                        root,
                        parent,
                        name: entry_name,
                        target: super::compile::bytes(&target).to_vec(),
                    },
                    format!(
                        "symlink {} -> {} again on the layer",
                        at.display(),
                        target.display()
                    ),
                ));
                model.created(&at, Kind::Link(target));
            }
            (Put::Covered { dir }, _) => {
                let (op, kind) = if dir {
                    let op = Op::MkdirAt {
                        root,
                        parent,
                        name: entry_name,
                        mode: 0o755,
                    };
                    (op, Kind::Dir)
                } else {
                    let op = Op::CreateFileAt {
                        root,
                        parent,
                        name: entry_name,
                        mode: 0o644,
                    };
                    (op, Kind::Other)
                };
                steps.push(Step::new(
                    op,
                    format!("a mount point for {} on the layer", at.display()),
                ));
                model.created(&at, kind);
            }
            (Put::Opened(mode), _) => {
                steps.push(Step::new(
                    Op::MkdirAt {
                        root,
                        parent,
                        name: entry_name,
                        mode: 0o755,
                    },
                    format!("a mount point for {} on the layer", at.display()),
                ));
                steps.push(fs_mount(
                    "tmpfs",
                    &[("mode", &format!("{mode:04o}"))],
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                    &at,
                    None,
                    format!("mount a throw-away tmpfs over {}", at.display()),
                ));
                model.created(&at, Kind::Dir);
                model.mounts.push((at, Backing::Fresh));
            }
            (Put::Bind { dir: is_dir, host }, Some(slot)) => {
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
                    model.mounts.push((at.clone(), Backing::Host(host)));
                    model.rootfs_mounts.push(at);
                } else {
                    model.created(&at, Kind::Other);
                }
            }
            (Put::Bind { .. }, None) => {}
        }
    }
    model.mounts.extend(below);
    Ok(())
}
