//! The operations fed by the caller's fds ([`MountOp::BindFd`], [`MountOp::File`],
//! [`MountOp::BindData`]), [`MountOp::Overlay`], [`MountOp::Mqueue`] and
//! [`MountOp::Chmod`], compiled (bubblewrap's meaning for each).
use super::compile::{
    bind, entry, fs_mount, host_writable, relative_at, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, ROOT,
};
use super::model::{fail, Backing, Kind, Model};
use super::{MountOp, OverlayWrites};
use crate::error::{MountProblem, Result};
use crate::plan::Step;
use cleave_child::{Op, Slot};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// The caller's fd `fd` as the kernel shows it: its metadata, and the path it was opened
/// by (for messages and for predicting what the sandbox sees).
pub(super) fn caller_fd(i: usize, fd: RawFd) -> Result<(std::fs::Metadata, PathBuf)> {
    let link = PathBuf::from(format!("/proc/self/fd/{fd}"));
    let bad = |e: std::io::Error| {
        fail(
            i,
            MountProblem::Fd {
                fd,
                errno: e.raw_os_error().unwrap_or(libc::EBADF),
            },
        )
    };
    if fd < 0 {
        return Err(bad(std::io::Error::from_raw_os_error(libc::EBADF)));
    }
    let meta = std::fs::metadata(&link).map_err(bad)?;
    let path = std::fs::read_link(&link).unwrap_or(link);
    Ok((meta, path))
}

/// The owner of what the sandbox creates for the program: `(uid, gid)`, or u32::MAX for
/// "as made" (root inside).
pub(super) fn owner_ids(owner: Option<(u32, u32)>) -> (u32, u32) {
    owner.unwrap_or((u32::MAX, u32::MAX))
}

/// Checks a mode (permission bits only).
pub(super) fn check_mode(i: usize, dst: &Path, mode: u32) -> Result<u32> {
    if mode & !0o7777 != 0 {
        return Err(fail(
            i,
            MountProblem::DeviceMode {
                dst: dst.to_path_buf(),
                mode,
            },
        ));
    }
    Ok(mode)
}

/// The source slots [`MountOp::Overlay`] uses, in this order: the sources (bottom first),
/// then the upper and work directories. Checked: each a directory.
pub(super) fn overlay_sources(i: usize, op: &MountOp) -> Result<Vec<PathBuf>> {
    let MountOp::Overlay {
        sources, writes, ..
    } = op
    else {
        return Ok(Vec::new());
    };
    let needed = match writes {
        OverlayWrites::ReadOnly => 2,
        _ => 1,
    };
    if sources.len() < needed {
        return Err(fail(
            i,
            MountProblem::OverlaySources {
                needed,
                got: sources.len(),
            },
        ));
    }
    let mut all = sources.clone();
    if let OverlayWrites::To { upper, work } = writes {
        all.push(upper.clone());
        all.push(work.clone());
    }
    for dir in &all {
        let meta = std::fs::metadata(dir).map_err(|e| {
            fail(
                i,
                MountProblem::Source {
                    path: dir.clone(),
                    errno: e.raw_os_error().unwrap_or(libc::EIO),
                },
            )
        })?;
        if !meta.is_dir() {
            return Err(fail(
                i,
                MountProblem::Source {
                    path: dir.clone(),
                    errno: libc::ENOTDIR,
                },
            ));
        }
    }
    Ok(all)
}

/// [`MountOp::Proc`] without a PID namespace of the sandbox's own: the caller's /proc
/// (opened into `src`) bound recursively on `inside`, nosuid, nodev and noexec, with the
/// same protections as a new procfs ([`super::PROC_READ_ONLY`], [`super::PROC_MASKED`]).
pub(super) fn bind_proc(steps: &mut Vec<Step>, src: Slot, inside: &Path, empty: Slot) {
    let shown = inside.display();
    steps.push(bind(
        src,
        inside,
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        0,
        true,
        format!("bind the caller's /proc on {shown} (no PID namespace of its own)"),
    ));
    for name in super::PROC_READ_ONLY {
        steps.push(Step::new(
            Op::ReadOnlyAt {
                root: ROOT,
                path: relative_at(&inside.join(name)),
            },
            format!("make {shown}/{name} read-only"),
        ));
    }
    for name in super::PROC_MASKED {
        steps.push(Step::new(
            Op::MaskAt {
                root: ROOT,
                path: relative_at(&inside.join(name)),
                empty,
            },
            format!("hide {shown}/{name}"),
        ));
    }
}

/// Compiles one of this file's operations; `src` is its first source slot.
pub(super) fn compile(
    i: usize,
    op: &MountOp,
    (src, inside, owner): (Slot, &Path, Option<(u32, u32)>),
    model: &mut Model,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let dst = op.dst();
    let shown = dst.display();
    let (uid, gid) = owner_ids(owner);
    match op {
        MountOp::BindFd { fd, read_only, .. } => {
            let (meta, path) = caller_fd(i, *fd)?;
            match (meta.is_dir(), model.kind(inside)) {
                (true, Kind::Other) => {
                    return Err(fail(
                        i,
                        MountProblem::DirectoryOntoFile {
                            src: path,
                            dst: dst.to_path_buf(),
                        },
                    ))
                }
                (false, Kind::Dir) => {
                    return Err(fail(
                        i,
                        MountProblem::FileOntoDirectory {
                            suggestion: inside.join(path.file_name().unwrap_or_default()),
                            src: path,
                            dst: dst.to_path_buf(),
                        },
                    ))
                }
                (true, _) => model.ensure_dir(steps, inside, i, dst)?,
                (false, _) => model.ensure_file(steps, inside, 0o644, i, dst)?,
            }
            let (set, clear) = if *read_only {
                (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV, 0)
            } else if host_writable(&PathBuf::from(format!("/proc/self/fd/{fd}"))) {
                (MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY)
            } else {
                (MOUNT_ATTR_NODEV, 0)
            };
            steps.push(bind(
                src,
                inside,
                set,
                clear,
                true,
                format!("bind fd {fd} ({}) on {shown}", path.display()),
            ));
            if meta.is_dir() {
                model.mounted(inside, Backing::Host(path));
            } else {
                // A file: nothing to resolve below it, but it covers what was there (a
                // masked /proc path) or lies under a read-only one.
                model.covered(inside);
            }
        }
        MountOp::File { fd, mode, .. } => {
            caller_fd(i, *fd)?;
            let mode = check_mode(i, dst, *mode)?;
            if let Some(parent) = inside.parent() {
                model.ensure_dir(steps, parent, i, dst)?;
            }
            match model.kind(inside) {
                Kind::Missing if model.creatable(inside) => {}
                Kind::Missing => return Err(model.refuse_create(inside, i, dst)),
                _ => return Err(fail(i, MountProblem::Occupied(dst.to_path_buf()))),
            }
            model.before_create(steps, inside.parent().unwrap_or(Path::new("/")), i)?;
            let (root, parent, name) = entry(inside);
            steps.push(Step::new(
                Op::CopyFileAt {
                    root,
                    parent,
                    name,
                    mode,
                    uid,
                    gid,
                    fd: *fd,
                },
                format!("create {shown} from fd {fd}"),
            ));
            model.created(inside, Kind::Other);
        }
        MountOp::BindData {
            fd,
            mode,
            read_only,
            ..
        } => {
            caller_fd(i, *fd)?;
            let mode = check_mode(i, dst, *mode)?;
            if model.kind(inside) == Kind::Dir {
                return Err(fail(
                    i,
                    MountProblem::FileOntoDirectory {
                        src: PathBuf::from(format!("the data of fd {fd}")),
                        dst: dst.to_path_buf(),
                        suggestion: inside.join("FILE"),
                    },
                ));
            }
            model.ensure_file(steps, inside, 0o644, i, dst)?;
            let ro = if *read_only { MOUNT_ATTR_RDONLY } else { 0 };
            steps.push(Step::new(
                Op::BindData {
                    fd: *fd,
                    mode,
                    uid,
                    gid,
                    root: ROOT,
                    dst: relative_at(inside),
                    set: ro | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID,
                },
                format!("bind the data of fd {fd} on {shown}"),
            ));
            model.covered(inside);
        }
        MountOp::Mqueue { .. } => {
            model.ensure_dir(steps, inside, i, dst)?;
            steps.push(fs_mount(
                "mqueue",
                &[],
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                inside,
                None,
                format!("mount an mqueue on {shown}"),
            ));
            model.mounted(inside, Backing::Opaque);
        }
        MountOp::Overlay {
            sources, writes, ..
        } => {
            model.ensure_dir(steps, inside, i, dst)?;
            let n = sources.len() as Slot;
            // The kernel's lowerdir order: the top layer first.
            let lowers: Vec<u8> = (0..n).rev().flat_map(|k| (src + k).to_ne_bytes()).collect();
            let (upper, work, discard, ro) = match writes {
                OverlayWrites::To { .. } => (src + n, src + n + 1, false, 0),
                OverlayWrites::Discarded => (Slot::MAX, Slot::MAX, true, 0),
                OverlayWrites::ReadOnly => (Slot::MAX, Slot::MAX, false, MOUNT_ATTR_RDONLY),
            };
            steps.push(Step::new(
                Op::Overlay {
                    lowers,
                    upper,
                    work,
                    discard,
                    attrs: ro | MOUNT_ATTR_NODEV,
                    root: ROOT,
                    dst: relative_at(inside),
                    keep: (inside == Path::new("/")).then_some(ROOT),
                },
                format!("mount an overlay on {shown}"),
            ));
            let mut layers: Vec<PathBuf> = sources.iter().rev().cloned().collect();
            if let OverlayWrites::To { upper, .. } = writes {
                layers.insert(0, upper.clone());
            }
            let writable = !matches!(writes, OverlayWrites::ReadOnly);
            model.mounted(inside, Backing::Layers { layers, writable });
        }
        MountOp::Chmod { mode, .. } => {
            let mode = check_mode(i, dst, *mode)?;
            // The link at the last component is not followed: its parent resolved, then
            // the entry itself. `inside` followed it, and the child would have been handed
            // the path of what it points to (a file bound in from the host).
            let at = match (dst.parent(), dst.file_name()) {
                (Some(parent), Some(name)) => model.resolve(parent, i)?.join(name),
                _ => inside.to_path_buf(),
            };
            match model.kind(&at) {
                Kind::Missing => return Err(fail(i, MountProblem::Missing(dst.to_path_buf()))),
                Kind::Link(_) => return Err(fail(i, MountProblem::ModeOfLink(dst.to_path_buf()))),
                _ => {}
            }
            steps.push(Step::new(
                Op::ChmodAt {
                    root: ROOT,
                    path: relative_at(&at),
                    mode,
                },
                format!("chmod {mode:04o} {shown}"),
            ));
        }
        _ => {}
    }
    Ok(())
}
