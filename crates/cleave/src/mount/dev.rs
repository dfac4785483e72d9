//! Device nodes ([`MountOp::Device`]): made with mknod where the sandbox may, else the
//! host's node at the same path bound in its place (a user namespace cannot make device
//! nodes; runc does the same).
use super::compile::{
    bind, entry, fs_mount, host_writable, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID,
    MOUNT_ATTR_RDONLY,
};
use super::model::{fail, Backing, Kind, Model};
use super::MountOp;
use crate::error::{MountProblem, Result};
use crate::plan::{Step, What};
use cleave_child::{Op, Slot};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The kind of a device node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A character device (S_IFCHR; OCI type `c` or `u`).
    Char,
    /// A block device (S_IFBLK; OCI type `b`).
    Block,
    /// A FIFO (S_IFIFO; OCI type `p`): made with mknod everywhere, since making one needs
    /// no privilege; its numbers are ignored.
    Fifo,
}

impl DeviceKind {
    /// The file type bits of mknod(2).
    pub fn file_type(self) -> u32 {
        match self {
            DeviceKind::Char => libc::S_IFCHR,
            DeviceKind::Block => libc::S_IFBLK,
            DeviceKind::Fifo => libc::S_IFIFO,
        }
    }

    /// "character" or "block".
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Char => "character",
            DeviceKind::Block => "block",
            DeviceKind::Fifo => "FIFO",
        }
    }
}

/// The largest major and minor the kernel's 32-bit device number holds.
const MAX_MAJOR: u32 = (1 << 12) - 1;
const MAX_MINOR: u32 = (1 << 20) - 1;

/// The kernel's 32-bit encoding of a device number (new_encode_dev), what mknodat(2)
/// takes: minor bits 0-7, major bits 8-19, minor bits 8-19 at 20-31.
pub(super) fn encode(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// The checked fields of a device op: file type | mode, the encoded number.
fn checked(i: usize, op: &MountOp) -> Result<Option<(DeviceKind, u32, u32, u32)>> {
    let MountOp::Device {
        dst,
        kind,
        major,
        minor,
        mode,
        ..
    } = op
    else {
        return Ok(None);
    };
    if *major > MAX_MAJOR || *minor > MAX_MINOR {
        return Err(fail(
            i,
            MountProblem::DeviceNumber {
                dst: dst.clone(),
                major: *major,
                minor: *minor,
            },
        ));
    }
    if *mode & !0o7777 != 0 {
        return Err(fail(
            i,
            MountProblem::DeviceMode {
                dst: dst.clone(),
                mode: *mode,
            },
        ));
    }
    Ok(Some((*kind, *major, *minor, *mode)))
}

/// For a sandbox that cannot make device nodes: the host's node at the device's path, to
/// bind, checked to be the device asked for. `None` for other ops.
pub(super) fn host_source(i: usize, op: &MountOp) -> Result<Option<PathBuf>> {
    let Some((kind, major, minor, _)) = checked(i, op)? else {
        return Ok(None);
    };
    let path = op.dst().to_path_buf();
    let meta = std::fs::metadata(&path).map_err(|e| {
        fail(
            i,
            MountProblem::Source {
                path: path.clone(),
                errno: e.raw_os_error().unwrap_or(libc::EIO),
            },
        )
    })?;
    let ft = meta.file_type();
    let found_kind = if ft.is_char_device() {
        Some(DeviceKind::Char)
    } else if ft.is_block_device() {
        Some(DeviceKind::Block)
    } else {
        None
    };
    let rdev = meta.rdev();
    let found = found_kind.map(|k| (k, libc::major(rdev), libc::minor(rdev)));
    if found != Some((kind, major, minor)) {
        return Err(fail(
            i,
            MountProblem::HostDevice {
                path,
                want: (kind.name(), major, minor),
                found: found.map(|(k, ma, mi)| (k.name(), ma, mi)),
            },
        ));
    }
    Ok(Some(path))
}

/// The steps of a device op at `inside` (its resolved path) when the sandbox may make
/// device nodes: its parent directories, then the node.
pub(super) fn mknod_steps(
    i: usize,
    op: &MountOp,
    inside: &Path,
    model: &mut Model,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let (Some((kind, major, minor, mode)), MountOp::Device { dst, uid, gid, .. }) =
        (checked(i, op)?, op)
    else {
        return Ok(());
    };
    if let Some(parent) = inside.parent() {
        model.ensure_dir(steps, parent, i, dst)?;
    }
    match model.kind(inside) {
        Kind::Missing if !model.creatable(inside) => {
            return Err(model.refuse_create(inside, i, dst))
        }
        Kind::Dir | Kind::Link(_) => return Err(fail(i, MountProblem::Occupied(dst.clone()))),
        Kind::Missing => {
            model.before_create(steps, inside.parent().unwrap_or(Path::new("/")), i)?
        }
        _ => {}
    }
    let (root, parent, name) = entry(inside);
    steps.push(Step::new(
        Op::MknodAt {
            root,
            parent,
            name,
            mode: kind.file_type() | mode,
            dev: if kind == DeviceKind::Fifo {
                0
            } else {
                encode(major, minor)
            },
            uid: *uid,
            gid: *gid,
        },
        format!(
            "make the {} device {major}:{minor} at {}",
            kind.name(),
            dst.display()
        ),
    ));
    model.created(inside, Kind::Other);
    Ok(())
}

/// Devices a minimal /dev carries, bound from the host's.
pub(super) const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// A minimal /dev at `inside`: a tmpfs, the host's devices bound from the sources opened
/// at `first_source`, the usual links, a private devpts and a tmpfs shm.
pub(super) fn minimal_dev(
    steps: &mut Vec<Step>,
    model: &mut Model,
    inside: &Path,
    first_source: Slot,
    index: usize,
) -> Result<()> {
    let dst = inside;
    // The tmpfs's mount fd stays in a slot: every entry below is made and every device
    // bound from it, not looked up from the root again each time.
    let dev = model.next_slot;
    model.next_slot += 1;
    steps.push(fs_mount(
        "tmpfs",
        &[("mode", "0755")],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
        inside,
        Some(dev),
        What::path(["mount a tmpfs for a minimal /dev on "], inside, []),
    ));
    model.mounted_kept(inside, Backing::Fresh, dev);
    for (slot, dev) in (first_source..).zip(DEVICES) {
        let node = inside.join(dev);
        model.ensure_file(steps, &node, 0o666, index, dst)?;
        let host = Path::new("/dev").join(dev);
        // An earlier read-only remount of "/" (--preset sandbox) reached the host's /dev
        // too: the device stays writable where the host's is.
        let rdonly = if host_writable(&host) {
            MOUNT_ATTR_RDONLY
        } else {
            0
        };
        let clear = rdonly | MOUNT_ATTR_NODEV;
        steps.push(in_kept(
            model,
            bind(
                slot,
                &node,
                0,
                clear,
                false,
                What::path(["bind /dev/", dev, " on "], &node, []),
            ),
            &node,
        ));
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let what = What::path(["symlink "], inside, ["/", link, " -> ", to]);
        model.symlink(steps, Path::new(to), &inside.join(link), what, index, dst)?;
    }
    let pts = inside.join("pts");
    model.ensure_dir(steps, &pts, index, dst)?;
    let devpts = fs_mount(
        "devpts",
        &[("newinstance", ""), ("ptmxmode", "0666"), ("mode", "620")],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
        &pts,
        None,
        What::path(["mount a devpts on "], inside, ["/pts"]),
    );
    steps.push(in_kept(model, devpts, &pts));
    model.mounted(&pts, Backing::Opaque);
    let shm = inside.join("shm");
    model.ensure_dir(steps, &shm, index, dst)?;
    let tmpfs = fs_mount(
        "tmpfs",
        &[("mode", "1777")],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        &shm,
        None,
        What::path(["mount a tmpfs on "], inside, ["/shm"]),
    );
    steps.push(in_kept(model, tmpfs, &shm));
    model.mounted(&shm, Backing::Fresh);
    Ok(())
}

/// `step` (a bind or a new filesystem mounted on `at`) with its destination looked up where
/// [`Model::lookup_of`] says.
fn in_kept(model: &Model, mut step: Step, at: &Path) -> Step {
    if let Op::Bind { root, dst, .. } | Op::FsMount { root, dst, .. } = &mut step.op {
        (*root, *dst) = model.lookup_of(at);
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_encode_as_the_kernel_decodes_them() {
        for (ma, mi) in [(1, 3), (10, 229), (4095, 0), (0, 1_048_575), (259, 70_000)] {
            assert_eq!(
                u64::from(encode(ma, mi)),
                libc::makedev(ma, mi),
                "{ma}:{mi}"
            );
        }
    }

    #[test]
    fn bad_numbers_and_modes_are_refused() {
        let op = |major, minor, mode| MountOp::Device {
            dst: "/dev/x".into(),
            kind: DeviceKind::Char,
            major,
            minor,
            mode,
            uid: 0,
            gid: 0,
        };
        let e = checked(0, &op(4096, 0, 0o666)).unwrap_err().to_string();
        assert!(e.contains("device 4096:0 is out of range"), "{e}");
        assert!(checked(0, &op(1, 1 << 20, 0o666)).is_err());
        let e = checked(0, &op(1, 3, 0o10666)).unwrap_err().to_string();
        assert!(e.contains("mode 10666"), "{e}");
        // The host's node must be the device asked for.
        let e = host_source(0, &{
            let mut o = op(1, 5, 0o666);
            if let MountOp::Device { dst, .. } = &mut o {
                *dst = "/dev/null".into();
            }
            o
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("it is character device 1:3, not character device 1:5"),
            "{e}"
        );
    }
}
