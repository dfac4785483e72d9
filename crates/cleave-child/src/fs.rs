//! Filesystem setup through file descriptors: every destination is looked up under the new
//! root with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, every mount is attached with
//! `move_mount` onto the fd that lookup returned, and every source was opened once, before
//! the first change to the tree. A rootfs whose owner swaps a directory for a symlink while
//! this runs can only move a mount somewhere else *inside* the root, never outside it.
//!
//! Fds live in the plan's slot table (see [`crate::Plan::slots`]); an op names slots by
//! index. A slot holding -1 is "absent": an optional lookup that found nothing leaves it so,
//! and the ops that would use it do nothing.
use crate::plan::{Bytes, Plan, Slot, Str};
use crate::sys::{self, borrow, check, cstr, errno, new_fd, syscall5};
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MoveMountFlags, OpenTreeFlags, UnmountFlags};

const AT_EMPTY_PATH: usize = libc::AT_EMPTY_PATH as usize;
const AT_RECURSIVE: usize = libc::AT_RECURSIVE as usize;
const MOUNT_ATTR_NODEV: u64 = 0x4;
/// MOUNT_ATTR_RDONLY | NOSUID | NODEV | NOEXEC.
const ATTR_LOCKED_DOWN: u64 = 0x1 | 0x2 | MOUNT_ATTR_NODEV | 0x8;

/// Options of the tmpfs that hides a directory: tiny, and nobody may create in it.
const EMPTY_TMPFS_OPTIONS: &[u8] = b"size\x004k\0mode\x000555\0\0";

fn slot_ptr(plan: &Plan, slot: Slot) -> Result<*mut i32, i32> {
    if (slot as usize) < plan.n_slots {
        // SAFETY: in bounds of the slot table (Plan's contract).
        Ok(unsafe { plan.slots.add(slot as usize) })
    } else {
        Err(libc::EINVAL)
    }
}

/// The fd in `slot` (-1 when absent).
pub fn get(plan: &Plan, slot: Slot) -> Result<i32, i32> {
    // SAFETY: slot_ptr checked the bounds; the table is writable memory of this process.
    slot_ptr(plan, slot).map(|p| unsafe { p.read_volatile() })
}

pub(crate) fn set(plan: &Plan, slot: Slot, fd: i32) -> Result<(), i32> {
    // SAFETY: as in `get`.
    slot_ptr(plan, slot).map(|p| unsafe { p.write_volatile(fd) })
}

/// Whether some slot below `keep` holds `fd`.
fn in_slots(plan: &Plan, fd: i32, keep: Slot) -> bool {
    (0..plan.n_slots as Slot).any(|i| i < keep && get(plan, i) == Ok(fd))
}

/// Closes every slot below `keep` that holds an fd (the slots from `keep` up stay open):
/// each run of consecutive numbers that are all such slots' (the sources, opened one after
/// the other, make one) with a single close_range.
pub fn close_all(plan: &Plan, keep: Slot) {
    for i in (0..plan.n_slots as Slot).filter(|&i| i < keep) {
        let Ok(fd) = get(plan, i) else { continue };
        if fd < 0 {
            continue;
        }
        let (mut first, mut last) = (fd, fd);
        while first > 0 && in_slots(plan, first - 1, keep) {
            first -= 1;
        }
        while last < i32::MAX && in_slots(plan, last + 1, keep) {
            last += 1;
        }
        if sys::close_range(first as u32, last as u32, 0).is_err() {
            sys::close(fd);
            first = fd;
            last = fd;
        }
        for j in 0..plan.n_slots as Slot {
            if j < keep && get(plan, j).is_ok_and(|f| f >= first && f <= last) {
                let _ = set(plan, j, -1);
            }
        }
    }
}

/// A fd that is closed when dropped (with a raw close: never std's `OwnedFd`, whose drop
/// would go through the C library).
pub(crate) struct Fd(pub(crate) i32);

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            sys::close(self.0);
        }
    }
}

impl Fd {
    pub(crate) fn take(mut self) -> i32 {
        core::mem::replace(&mut self.0, -1)
    }

    pub(crate) fn as_fd(&self) -> Result<BorrowedFd<'_>, i32> {
        borrow(self.0)
    }
}

/// `openat2(root, path, {flags, resolve: IN_ROOT | NO_MAGICLINKS})`: `path` never leaves
/// `root`, whatever symlinks or `..` it meets. Ok(None) when `optional` and nothing is there.
pub(crate) fn lookup(
    root: i32,
    path: Str,
    flags: OFlags,
    optional: bool,
) -> Result<Option<Fd>, i32> {
    // struct open_how { u64 flags; u64 mode; u64 resolve; }
    let how: [u64; 3] = [
        u64::from((flags | OFlags::PATH | OFlags::CLOEXEC).bits()),
        0,
        (ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS).bits(),
    ];
    // rustix's openat2 asserts on the fd it returns (see sys::new_fd).
    // SAFETY: `path` is a NUL-terminated string of the plan; `how` is a local open_how.
    let r = unsafe {
        new_fd(
            libc::SYS_openat2,
            borrow(root)?.as_raw_fd() as usize,
            path.0 as usize,
            how.as_ptr() as usize,
            core::mem::size_of_val(&how),
            0,
        )
    };
    match r {
        Ok(fd) => Ok(Some(Fd(fd))),
        Err(libc::ENOENT) if optional => Ok(None),
        Err(e) => Err(e),
    }
}

/// `open_tree(fd, "", OPEN_TREE_CLONE)`: a detached copy of the mount at `fd`.
pub(crate) fn clone_tree(fd: i32, recursive: bool) -> Result<Fd, i32> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    // rustix's open_tree asserts on the fd it returns (see sys::new_fd).
    // SAFETY: an empty NUL-terminated path and numbers.
    let r = unsafe {
        new_fd(
            libc::SYS_open_tree,
            borrow(fd)?.as_raw_fd() as usize,
            c"".as_ptr() as usize,
            flags.bits() as usize,
            0,
            0,
        )
    };
    r.map(Fd)
}

/// `move_mount(mount, "", onto, "")`: attaches a detached mount on the object `onto` is.
pub(crate) fn attach(mount: i32, onto: i32) -> Result<(), i32> {
    rustix::mount::move_mount(
        borrow(mount)?,
        c"",
        borrow(onto)?,
        c"",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(errno)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {set, clear})`.
pub(crate) fn set_attr(fd: i32, set: u64, clear: u64, recursive: bool) -> Result<(), i32> {
    set_attr_prop(fd, (set, clear, 0), recursive)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {set, clear, propagation})`.
fn set_attr_prop(
    fd: i32,
    (set, clear, propagation): (u64, u64, u64),
    recursive: bool,
) -> Result<(), i32> {
    if set == 0 && clear == 0 && propagation == 0 {
        return Ok(());
    }
    // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }
    let attr: [u64; 4] = [set, clear, propagation, 0];
    let mut flags = AT_EMPTY_PATH;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // rustix lacks mount_setattr.
    // SAFETY: an empty NUL-terminated path and a local mount_attr.
    let r = unsafe {
        syscall5(
            libc::SYS_mount_setattr as usize,
            fd as usize,
            c"".as_ptr() as usize,
            flags,
            attr.as_ptr() as usize,
            core::mem::size_of_val(&attr),
        )
    };
    check(r).map(|_| ())
}

/// A new filesystem of type `fstype` configured from `options`, a list of NUL-terminated
/// `key`, `value` pairs ended by an empty key (an empty value sets a flag), as a detached
/// mount with the `MOUNT_ATTR_*` bits `attrs`.
///
/// # Safety
/// `options` is null or such a list, alive and unchanged while this runs.
pub(crate) unsafe fn new_fs(
    fstype: &core::ffi::CStr,
    options: *const u8,
    attrs: u64,
) -> Result<Fd, i32> {
    // rustix's fsopen asserts on the fd it returns (see sys::new_fd).
    // SAFETY: `fstype` is a NUL-terminated string.
    let fs = Fd(unsafe {
        new_fd(
            libc::SYS_fsopen,
            fstype.as_ptr() as usize,
            FsOpenFlags::FSOPEN_CLOEXEC.bits() as usize,
            0,
            0,
            0,
        )
    }?);
    let mut p = options;
    if !p.is_null() {
        loop {
            // SAFETY: `p` is at the next key of the list (the caller's contract, then the
            // arithmetic below, which steps over one NUL-terminated key and value).
            let key = unsafe { cstr(p) };
            let klen = key.to_bytes().len();
            if klen == 0 {
                break;
            }
            // SAFETY: as above: the value follows its key's NUL.
            let value = unsafe { cstr(p.add(klen + 1)) };
            let vlen = value.to_bytes().len();
            if vlen == 0 {
                rustix::mount::fsconfig_set_flag(fs.as_fd()?, key)
            } else {
                rustix::mount::fsconfig_set_string(fs.as_fd()?, key, value)
            }
            .map_err(errno)?;
            // SAFETY: the next key follows the value's NUL, inside the list.
            p = unsafe { p.add(klen + 1 + vlen + 1) };
        }
    }
    rustix::mount::fsconfig_create(fs.as_fd()?).map_err(errno)?;
    // rustix's fsmount asserts on the fd it returns (see sys::new_fd).
    // SAFETY: numbers only.
    let m = unsafe {
        new_fd(
            libc::SYS_fsmount,
            fs.0 as usize,
            FsMountFlags::FSMOUNT_CLOEXEC.bits() as usize,
            attrs as usize,
            0,
            0,
        )
    };
    m.map(Fd)
}

/// `fstatat(fd, "", AT_EMPTY_PATH)`: the object's `(st_dev, st_ino, st_mode)`.
pub(crate) fn stat(fd: i32) -> Result<(u64, u64, u32), i32> {
    let st = rustix::fs::statat(borrow(fd)?, c"", AtFlags::EMPTY_PATH).map_err(errno)?;
    Ok((st.st_dev as u64, st.st_ino as u64, st.st_mode as u32))
}

fn is_dir(fd: i32) -> Result<bool, i32> {
    let (_, _, mode) = stat(fd)?;
    Ok(mode & libc::S_IFMT == libc::S_IFDIR)
}

/// [`crate::Op::OpenPath`].
pub fn open_path(plan: &Plan, path: Str, flags: u64, slot: Slot) -> Result<(), i32> {
    // rustix's openat asserts on the fd it returns (see sys::new_fd).
    // SAFETY: `path` is NUL-terminated and alive until exec (Op's contract).
    let fd = unsafe {
        new_fd(
            libc::SYS_openat,
            libc::AT_FDCWD as isize as usize,
            path.0 as usize,
            flags as usize,
            0,
            0,
        )
    }?;
    set(plan, slot, fd)
}

/// [`crate::Op::OpenAt`].
pub fn open_at(plan: &Plan, (root, path): (Slot, Str), flags: u64, slot: Slot) -> Result<(), i32> {
    let root = get(plan, root)?;
    let flags = OFlags::from_bits_retain(flags as _);
    let fd = lookup(root, path, flags, false)?.ok_or(libc::ENOENT)?;
    set(plan, slot, fd.take())
}

/// [`crate::Op::CheckIdentity`].
pub fn check_identity(plan: &Plan, slot: Slot, dev: u64, ino: u64) -> Result<(), i32> {
    let (st_dev, st_ino, _) = stat(get(plan, slot)?)?;
    if st_dev == dev && st_ino == ino {
        Ok(())
    } else {
        Err(libc::ESTALE)
    }
}

/// [`crate::Op::BindRoot`].
pub fn bind_root(plan: &Plan, dir: Slot, root: Slot) -> Result<(), i32> {
    let dir = get(plan, dir)?;
    let tree = clone_tree(dir, true)?;
    // Device nodes a rootfs carries do not open: devices come from what the sandbox binds.
    set_attr(tree.0, MOUNT_ATTR_NODEV, 0, true)?;
    attach(tree.0, dir)?;
    set(plan, root, tree.take())
}

/// [`crate::Op::Bind`].
pub fn bind(
    plan: &Plan,
    (src, root, dst): (Slot, Slot, Str),
    (attr_set, attr_clear): (u64, u64),
    recursive: bool,
    keep: Option<Slot>,
) -> Result<(), i32> {
    let src = get(plan, src)?;
    let root = get(plan, root)?;
    let tree = clone_tree(src, recursive)?;
    set_attr(tree.0, attr_set, attr_clear, recursive)?;
    let Some(dst) = lookup(root, dst, OFlags::empty(), false)? else {
        return Err(libc::ENOENT);
    };
    attach(tree.0, dst.0)?;
    if let Some(slot) = keep {
        set(plan, slot, tree.take())?;
    }
    Ok(())
}

/// [`crate::Op::FsMount`].
pub fn fs_mount(
    plan: &Plan,
    (fstype, options, attrs): (Str, Bytes, u64),
    (root, dst): (Slot, Str),
    keep: Option<Slot>,
) -> Result<(), i32> {
    let root = get(plan, root)?;
    // SAFETY: `fstype` is NUL-terminated and `options` null or a key/value list, both alive
    // until exec (Op::FsMount's contract).
    let mount = unsafe { new_fs(cstr(fstype.0), options.ptr, attrs)? };
    let Some(dst) = lookup(root, dst, OFlags::empty(), false)? else {
        return Err(libc::ENOENT);
    };
    attach(mount.0, dst.0)?;
    if let Some(slot) = keep {
        set(plan, slot, mount.take())?;
    }
    Ok(())
}

/// Looks up directory `parent` under the root in `root` (MkdirAt, CreateFileAt, SymlinkAt,
/// MknodAt): the fd to use, and what owns it. For "." that is `root`'s own fd, which the
/// slot keeps (a lookup would only open the same directory again).
fn parent_dir(plan: &Plan, root: Slot, parent: Str) -> Result<(Fd, i32), i32> {
    let root = get(plan, root)?;
    // SAFETY: `parent` is NUL-terminated and alive until exec (Op's contract).
    if unsafe { cstr(parent.0) }.to_bytes() == b"." {
        borrow(root)?;
        return Ok((Fd(-1), root));
    }
    let dir = lookup(root, parent, OFlags::DIRECTORY, false)?.ok_or(libc::ENOENT)?;
    let fd = dir.0;
    Ok((dir, fd))
}

/// An existing entry is fine for the ops that create one.
fn created(r: rustix::io::Result<()>) -> Result<(), i32> {
    match r.map_err(errno) {
        Ok(()) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// [`crate::Op::MkdirAt`]: one that exists is fine (what it is decides nothing: later
/// lookups do).
pub fn mkdir_at(plan: &Plan, (root, parent, name): (Slot, Str, Str), mode: u32) -> Result<(), i32> {
    let (_owned, dir) = parent_dir(plan, root, parent)?;
    // SAFETY: `name` is NUL-terminated and alive until exec (Op's contract).
    let name = unsafe { cstr(name.0) };
    created(rustix::fs::mkdirat(
        borrow(dir)?,
        name,
        Mode::from_raw_mode(mode),
    ))
}

/// [`crate::Op::CreateFileAt`]: a bind-mount target; mknodat never follows a symlink and
/// never opens what is there.
pub fn create_file_at(
    plan: &Plan,
    (root, parent, name): (Slot, Str, Str),
    mode: u32,
) -> Result<(), i32> {
    let (_owned, dir) = parent_dir(plan, root, parent)?;
    // SAFETY: `name` is NUL-terminated and alive until exec (Op's contract).
    let name = unsafe { cstr(name.0) };
    let mode = Mode::from_raw_mode(mode);
    created(rustix::fs::mknodat(
        borrow(dir)?,
        name,
        FileType::RegularFile,
        mode,
        0,
    ))
}

/// [`crate::Op::MknodAt`]: the node is made with the umask at 0, so that its mode is the
/// one asked for, then given its owner; an existing entry is left alone.
pub fn mknod_at(
    plan: &Plan,
    (root, parent, name): (Slot, Str, Str),
    mode: u32,
    dev: u32,
    (uid, gid): (u32, u32),
) -> Result<(), i32> {
    let (_owned, dir) = parent_dir(plan, root, parent)?;
    // SAFETY: `name` is NUL-terminated and alive until exec (Op's contract).
    let name = unsafe { cstr(name.0) };
    // mknod(2): no type bits is a regular file.
    let kind = match mode & libc::S_IFMT {
        0 => FileType::RegularFile,
        _ => FileType::from_raw_mode(mode),
    };
    let old = rustix::process::umask(Mode::empty());
    let made = rustix::fs::mknodat(
        borrow(dir)?,
        name,
        kind,
        Mode::from_raw_mode(mode),
        u64::from(dev),
    );
    let _ = rustix::process::umask(old);
    match made.map_err(errno) {
        Ok(()) => {}
        Err(libc::EEXIST) => return Ok(()),
        Err(e) => return Err(e),
    }
    rustix::fs::chownat(
        borrow(dir)?,
        name,
        Some(rustix::fs::Uid::from_raw_unchecked(uid)),
        Some(rustix::fs::Gid::from_raw_unchecked(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(errno)
}

/// [`crate::Op::SymlinkAt`]: an existing entry is left alone.
pub fn symlink_at(
    plan: &Plan,
    (root, parent, name): (Slot, Str, Str),
    target: Str,
) -> Result<(), i32> {
    let (_owned, dir) = parent_dir(plan, root, parent)?;
    // SAFETY: `name` and `target` are NUL-terminated and alive until exec (Op's contract).
    let (name, target) = unsafe { (cstr(name.0), cstr(target.0)) };
    created(rustix::fs::symlinkat(target, borrow(dir)?, name))
}

/// [`crate::Op::SetAttrAt`].
pub fn set_attr_at(
    plan: &Plan,
    (root, path): (Slot, Str),
    attrs: (u64, u64, u64),
    recursive: bool,
) -> Result<(), i32> {
    let root = get(plan, root)?;
    let Some(at) = lookup(root, path, OFlags::empty(), false)? else {
        return Err(libc::ENOENT);
    };
    set_attr_prop(at.0, attrs, recursive)
}

/// [`crate::Op::MaskAt`].
pub fn mask_at(plan: &Plan, (root, path): (Slot, Str), empty: Slot) -> Result<(), i32> {
    let root = get(plan, root)?;
    let Some(at) = lookup(root, path, OFlags::empty(), true)? else {
        return Ok(());
    };
    let cover = if is_dir(at.0)? {
        // SAFETY: a static, NUL-terminated key/value list.
        unsafe { new_fs(c"tmpfs", EMPTY_TMPFS_OPTIONS.as_ptr(), ATTR_LOCKED_DOWN)? }
    } else {
        // Not nodev: the empty device must open, so that the path reads as empty.
        let tree = clone_tree(get(plan, empty)?, false)?;
        set_attr(
            tree.0,
            ATTR_LOCKED_DOWN & !MOUNT_ATTR_NODEV,
            MOUNT_ATTR_NODEV,
            false,
        )?;
        tree
    };
    attach(cover.0, at.0)
}

/// [`crate::Op::ReadOnlyAt`]: a recursive copy of `path` attached on itself.
pub fn read_only_at(plan: &Plan, (root, path): (Slot, Str)) -> Result<(), i32> {
    let root = get(plan, root)?;
    let Some(at) = lookup(root, path, OFlags::empty(), true)? else {
        return Ok(());
    };
    let tree = clone_tree(at.0, true)?;
    set_attr(tree.0, ATTR_LOCKED_DOWN, 0, true)?;
    attach(tree.0, at.0)
}

/// [`crate::Op::UnstackRoot`].
pub fn unstack_root(plan: &Plan, root: Slot, count: u32) -> Result<(), i32> {
    for _ in 0..count {
        // "/" is this process's root, the mount the sandbox's mounts on "/" are stacked on;
        // the unmount of "." reaches the topmost of them.
        rustix::process::chdir(c"/").map_err(errno)?;
        rustix::mount::unmount(c".", UnmountFlags::DETACH).map_err(errno)?;
    }
    rustix::process::chdir(c"/").map_err(errno)?;
    // rustix's openat asserts on the fd it returns (see sys::new_fd).
    // SAFETY: a NUL-terminated path and numbers.
    let fd = unsafe {
        new_fd(
            libc::SYS_openat,
            libc::AT_FDCWD as isize as usize,
            c"/".as_ptr() as usize,
            (OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC).bits() as usize,
            0,
            0,
        )
    }?;
    // The fd held before (the detached top) is left to the close of every slot: another
    // slot may hold the same number.
    set(plan, root, fd)
}

/// [`crate::Op::UnstackAt`].
pub fn unstack_at(plan: &Plan, root: Slot, dst: Str, count: u32) -> Result<(), i32> {
    let root = get(plan, root)?;
    for _ in 0..count {
        // The lookup ends on the topmost mount at `dst`; "." is then its root, which a lazy
        // unmount detaches (with what is mounted below it in that copy).
        let Some(at) = lookup(root, dst, OFlags::DIRECTORY, false)? else {
            return Err(libc::ENOENT);
        };
        rustix::process::fchdir(borrow(at.0)?).map_err(errno)?;
        rustix::mount::unmount(c".", UnmountFlags::DETACH).map_err(errno)?;
    }
    rustix::process::chdir(c"/").map_err(errno)
}

/// [`crate::Op::PivotRoot`].
pub fn pivot_root(plan: &Plan, root: Slot) -> Result<(), i32> {
    rustix::process::fchdir(borrow(get(plan, root)?)?).map_err(errno)?;
    // pivot_root(".", "."): the old root ends up stacked on top of the new one at "/",
    // where a lazy unmount of "." removes it (pivot_root(2), NOTES).
    rustix::process::pivot_root(c".", c".").map_err(errno)?;
    rustix::mount::unmount(c".", UnmountFlags::DETACH).map_err(errno)?;
    rustix::process::chdir(c"/").map_err(errno)
}
