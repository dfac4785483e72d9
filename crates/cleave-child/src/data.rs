//! Files made from the caller's fds (bubblewrap's `--file`, `--bind-data`), a
//! mode changed in place (`--chmod`) and an overlay filesystem. Same rules as fs.rs: every
//! destination is looked up under the root with RESOLVE_IN_ROOT, nothing is created through
//! a symlink, no allocation (the copy goes through a buffer on the stack).
use crate::fs::{self, attach, lookup, set_attr, Fd};
use crate::plan::{Bytes, Plan, Slot, Str};
use crate::sys::{self, borrow, errno, new_fd};
use rustix::fd::AsRawFd;
use rustix::fs::{AtFlags, Mode, OFlags};

/// Size of the copy buffer (on the child's stack).
const CHUNK: usize = 4096;

/// Options of the private tmpfs a bound data file lives on: only its creator gets in.
const DATA_TMPFS_OPTIONS: &[u8] = b"mode\x000700\0\0";

/// Options of the private tmpfs that holds a throw-away overlay's upper and work
/// directories.
const OVERLAY_TMPFS_OPTIONS: &[u8] = b"mode\x000755\0\0";

/// Everything `from` reads until end of file, written to `to`, through a buffer on the
/// stack (left uninitialised: zeroing it would call the C library's memset).
fn copy_all(from: i32, to: i32) -> Result<(), i32> {
    let mut buf = core::mem::MaybeUninit::<[u8; CHUNK]>::uninit();
    let p = buf.as_mut_ptr().cast::<u8>();
    loop {
        // rustix's read takes an initialised slice.
        // SAFETY: read(2) writes at most CHUNK bytes at `p`, which has room for CHUNK.
        let r = unsafe { sys::syscall3(libc::SYS_read as usize, from as usize, p as usize, CHUNK) };
        let n = match sys::check(r) {
            Ok(0) => return Ok(()),
            Ok(n) => n.min(CHUNK),
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
        };
        // SAFETY: the kernel initialised the first `n` bytes (n <= CHUNK).
        let data = unsafe { core::slice::from_raw_parts(p, n) };
        let mut done = 0;
        while let Some(rest) = data.get(done..).filter(|r| !r.is_empty()) {
            match sys::write(to, rest) {
                Ok(0) => return Err(libc::EIO),
                Ok(w) => done += w,
                Err(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A new regular file `name` in directory `dir` (never an existing entry, never through a
/// symlink: O_CREAT | O_EXCL), given exactly `mode` and the owner `uid`, `gid` (u32::MAX:
/// unchanged), filled from `from`.
fn new_file(dir: i32, name: Str, mode: u32, (uid, gid): (u32, u32), from: i32) -> Result<Fd, i32> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // rustix's openat asserts on the fd it returns (see sys::new_fd).
    // SAFETY: `name` is NUL-terminated and alive until exec (Op's contract).
    let fd = Fd(unsafe {
        new_fd(
            libc::SYS_openat,
            borrow(dir)?.as_raw_fd() as usize,
            name.0 as usize,
            flags.bits() as usize,
            (mode & 0o7777) as usize,
            0,
        )
    }?);
    rustix::fs::fchmod(fd.as_fd()?, Mode::from_raw_mode(mode & 0o7777)).map_err(errno)?;
    if uid != u32::MAX || gid != u32::MAX {
        let own = |id: u32| (id != u32::MAX).then_some(id);
        rustix::fs::fchown(
            fd.as_fd()?,
            own(uid).map(rustix::fs::Uid::from_raw_unchecked),
            own(gid).map(rustix::fs::Gid::from_raw_unchecked),
        )
        .map_err(errno)?;
    }
    copy_all(from, fd.0)?;
    Ok(fd)
}

/// [`crate::Op::CopyFileAt`].
pub fn copy_file_at(
    plan: &Plan,
    (root, parent, name): (Slot, Str, Str),
    mode: u32,
    owner: (u32, u32),
    from: i32,
) -> Result<(), i32> {
    let root = fs::get(plan, root)?;
    let dir = lookup(root, parent, OFlags::DIRECTORY, false)?.ok_or(libc::ENOENT)?;
    new_file(dir.0, name, mode, owner, from).map(drop)
}

/// [`crate::Op::BindData`]: the file lives on a tmpfs of its own that is never attached
/// anywhere (only the bind of its one file is), so nothing else can reach it.
pub fn bind_data(
    plan: &Plan,
    (from, mode, owner): (i32, u32, (u32, u32)),
    (root, dst): (Slot, Str),
    set: u64,
) -> Result<(), i32> {
    let root = fs::get(plan, root)?;
    // SAFETY: a static, NUL-terminated key/value list.
    let tmp = unsafe { fs::new_fs(c"tmpfs", DATA_TMPFS_OPTIONS.as_ptr(), 0)? };
    new_file(tmp.0, Str(c"data".as_ptr().cast()), mode, owner, from)?;
    let file = clone_at(tmp.0, c"data")?;
    set_attr(file.0, set, 0, false)?;
    let dst = lookup(root, dst, OFlags::empty(), false)?.ok_or(libc::ENOENT)?;
    attach(file.0, dst.0)
}

/// `open_tree(dir, name, OPEN_TREE_CLONE)`: a detached bind of one entry of `dir` (a
/// detached mount itself: Linux 6.15 or newer).
fn clone_at(dir: i32, name: &core::ffi::CStr) -> Result<Fd, i32> {
    use rustix::mount::OpenTreeFlags as F;
    let flags = F::OPEN_TREE_CLONE | F::OPEN_TREE_CLOEXEC | F::AT_SYMLINK_NOFOLLOW;
    // rustix's open_tree asserts on the fd it returns (see sys::new_fd).
    // SAFETY: `name` is a NUL-terminated string.
    unsafe {
        new_fd(
            libc::SYS_open_tree,
            borrow(dir)?.as_raw_fd() as usize,
            name.as_ptr() as usize,
            flags.bits() as usize,
            0,
            0,
        )
    }
    .map(Fd)
}

/// [`crate::Op::ChmodAt`]: `fchmodat2(fd, "", mode, AT_EMPTY_PATH)` on the object looked up
/// under the root (Linux 6.6 or newer), so that no path is followed outside it. A symlink
/// at the last component is not followed (the kernel refuses to chmod the link itself,
/// EOPNOTSUPP): a link planted in the rootfs cannot aim the mode at a file bound in from
/// the host.
pub fn chmod_at(plan: &Plan, (root, path): (Slot, Str), mode: u32) -> Result<(), i32> {
    let root = fs::get(plan, root)?;
    let at = lookup(root, path, OFlags::NOFOLLOW, false)?.ok_or(libc::ENOENT)?;
    // rustix has no fchmodat2 with AT_EMPTY_PATH on an O_PATH fd.
    // SAFETY: an empty NUL-terminated path and numbers.
    let r = unsafe {
        sys::syscall4(
            452, // fchmodat2, the same number on every architecture
            at.0 as usize,
            c"".as_ptr() as usize,
            (mode & 0o7777) as usize,
            AtFlags::EMPTY_PATH.bits() as usize,
        )
    };
    sys::check(r).map(drop)
}

/// What an overlay's writes go to.
#[derive(Clone, Copy)]
pub enum Upper {
    /// Read-only: lower layers only.
    None,
    /// Directories opened into these slots (upper, work).
    Dirs(Slot, Slot),
    /// A private tmpfs made here, never attached anywhere.
    Discarded,
}

/// [`crate::Op::Overlay`]: `lowers` holds native-endian u32 slots, the top layer first.
pub fn overlay(
    plan: &Plan,
    lowers: Bytes,
    upper: Upper,
    attrs: u64,
    (root, dst, keep): (Slot, Str, Option<Slot>),
) -> Result<(), i32> {
    use rustix::mount::{fsconfig_create, fsconfig_set_fd};
    let root = fs::get(plan, root)?;
    // rustix's fsopen asserts on the fd it returns (see sys::new_fd).
    // SAFETY: a NUL-terminated string.
    let ovl = Fd(unsafe {
        new_fd(
            libc::SYS_fsopen,
            c"overlay".as_ptr() as usize,
            rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC.bits() as usize,
            0,
            0,
            0,
        )
    }?);
    let mut at = 0;
    while at + 4 <= lowers.len {
        let mut word = [0u8; 4];
        for (i, b) in word.iter_mut().enumerate() {
            // SAFETY: `lowers` holds `len` bytes alive until exec (Op's contract), and
            // at + i < len.
            *b = unsafe { lowers.ptr.add(at + i).read() };
        }
        let layer = fs::get(plan, u32::from_ne_bytes(word))?;
        fsconfig_set_fd(ovl.as_fd()?, c"lowerdir+", borrow(layer)?).map_err(errno)?;
        at += 4;
    }
    // Kept open until the overlay exists.
    let mut held = [Fd(-1), Fd(-1), Fd(-1)];
    let dirs = match upper {
        Upper::None => None,
        Upper::Dirs(u, w) => Some((fs::get(plan, u)?, fs::get(plan, w)?)),
        Upper::Discarded => {
            // SAFETY: a static, NUL-terminated key/value list.
            let tmp = unsafe { fs::new_fs(c"tmpfs", OVERLAY_TMPFS_OPTIONS.as_ptr(), 0)? };
            for name in [c"upper", c"work"] {
                rustix::fs::mkdirat(tmp.as_fd()?, name, Mode::from_raw_mode(0o755))
                    .map_err(errno)?;
            }
            let open = |name: &core::ffi::CStr| -> Result<Fd, i32> {
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                // rustix's openat asserts on the fd it returns (see sys::new_fd).
                // SAFETY: `name` is a NUL-terminated string.
                unsafe {
                    new_fd(
                        libc::SYS_openat,
                        tmp.0 as usize,
                        name.as_ptr() as usize,
                        flags.bits() as usize,
                        0,
                        0,
                    )
                }
                .map(Fd)
            };
            let (u, w) = (open(c"upper")?, open(c"work")?);
            let pair = (u.0, w.0);
            held = [tmp, u, w];
            Some(pair)
        }
    };
    if let Some((u, w)) = dirs {
        fsconfig_set_fd(ovl.as_fd()?, c"upperdir", borrow(u)?).map_err(errno)?;
        fsconfig_set_fd(ovl.as_fd()?, c"workdir", borrow(w)?).map_err(errno)?;
    }
    fsconfig_create(ovl.as_fd()?).map_err(errno)?;
    // rustix's fsmount asserts on the fd it returns (see sys::new_fd).
    // SAFETY: numbers only.
    let mount = Fd(unsafe {
        new_fd(
            libc::SYS_fsmount,
            ovl.0 as usize,
            rustix::mount::FsMountFlags::FSMOUNT_CLOEXEC.bits() as usize,
            attrs as usize,
            0,
            0,
        )
    }?);
    drop(held);
    let dst = lookup(root, dst, OFlags::empty(), false)?.ok_or(libc::ENOENT)?;
    attach(mount.0, dst.0)?;
    if let Some(slot) = keep {
        fs::set(plan, slot, mount.take())?;
    }
    Ok(())
}
