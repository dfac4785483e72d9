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
use crate::sys::{self, check, syscall1, syscall2, syscall3, syscall4, syscall5};

const AT_FDCWD: usize = libc::AT_FDCWD as isize as usize;
const AT_EMPTY_PATH: usize = libc::AT_EMPTY_PATH as usize;
const AT_RECURSIVE: usize = libc::AT_RECURSIVE as usize;
const OPEN_TREE_CLONE: usize = 1;
const OPEN_TREE_CLOEXEC: usize = libc::O_CLOEXEC as usize;
const MOVE_MOUNT_F_EMPTY_PATH: usize = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: usize = 0x40;
const FSOPEN_CLOEXEC: usize = 1;
const FSMOUNT_CLOEXEC: usize = 1;
const FSCONFIG_SET_FLAG: usize = 0;
const FSCONFIG_SET_STRING: usize = 1;
const FSCONFIG_CMD_CREATE: usize = 6;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;
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

fn set(plan: &Plan, slot: Slot, fd: i32) -> Result<(), i32> {
    // SAFETY: as in `get`.
    slot_ptr(plan, slot).map(|p| unsafe { p.write_volatile(fd) })
}

/// Closes every slot that holds an fd.
pub fn close_all(plan: &Plan) {
    for i in 0..plan.n_slots as Slot {
        if let Ok(fd) = get(plan, i) {
            if fd >= 0 {
                let _ = sys::close(fd);
                let _ = set(plan, i, -1);
            }
        }
    }
}

/// A fd that is closed when dropped.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            let _ = sys::close(self.0);
        }
    }
}

impl Fd {
    fn take(mut self) -> i32 {
        core::mem::replace(&mut self.0, -1)
    }
}

/// `openat2(root, path, {flags, resolve: IN_ROOT | NO_MAGICLINKS})`: `path` never leaves
/// `root`, whatever symlinks or `..` it meets. Ok(None) when `optional` and nothing is there.
fn lookup(root: i32, path: usize, flags: u64, optional: bool) -> Result<Option<Fd>, i32> {
    // struct open_how { u64 flags; u64 mode; u64 resolve; }
    let how: [u64; 3] = [
        flags | (libc::O_PATH | libc::O_CLOEXEC) as u64,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    ];
    // SAFETY: `path` is a NUL-terminated string of the plan; `how` is a local open_how.
    let r = unsafe {
        syscall4(
            libc::SYS_openat2 as usize,
            root as isize as usize,
            path,
            how.as_ptr() as usize,
            core::mem::size_of_val(&how),
        )
    };
    match check(r) {
        Ok(fd) => Ok(Some(Fd(fd as i32))),
        Err(libc::ENOENT) if optional => Ok(None),
        Err(e) => Err(e),
    }
}

/// `open_tree(fd, "", OPEN_TREE_CLONE)`: a detached copy of the mount at `fd`.
fn clone_tree(fd: i32, recursive: bool) -> Result<Fd, i32> {
    let mut flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: an empty NUL-terminated path and numbers.
    let r = unsafe {
        syscall3(
            libc::SYS_open_tree as usize,
            fd as isize as usize,
            c"".as_ptr() as usize,
            flags,
        )
    };
    check(r).map(|fd| Fd(fd as i32))
}

/// `move_mount(mount, "", onto, "")`: attaches a detached mount on the object `onto` is.
fn attach(mount: i32, onto: i32) -> Result<(), i32> {
    let empty = c"".as_ptr() as usize;
    // SAFETY: empty NUL-terminated paths and numbers.
    let r = unsafe {
        sys::syscall5(
            libc::SYS_move_mount as usize,
            mount as usize,
            empty,
            onto as usize,
            empty,
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    check(r).map(|_| ())
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {set, clear})`.
fn set_attr(fd: i32, set: u64, clear: u64, recursive: bool) -> Result<(), i32> {
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

/// A new filesystem of type `fstype` (NUL-terminated) configured from `options`, a list of
/// NUL-terminated `key`, `value` pairs ended by an empty key (an empty value sets a flag),
/// as a detached mount with the `MOUNT_ATTR_*` bits `attrs`.
fn new_fs(fstype: usize, options: usize, attrs: u64) -> Result<Fd, i32> {
    // SAFETY: `fstype` is NUL-terminated.
    let fs =
        Fd(check(unsafe { syscall2(libc::SYS_fsopen as usize, fstype, FSOPEN_CLOEXEC) })? as i32);
    let mut p = options;
    if p != 0 {
        loop {
            let key = p;
            let klen = strlen(key);
            if klen == 0 {
                break;
            }
            let value = key + klen + 1;
            let vlen = strlen(value);
            let (cmd, v) = if vlen == 0 {
                (FSCONFIG_SET_FLAG, 0)
            } else {
                (FSCONFIG_SET_STRING, value)
            };
            // SAFETY: key and value are NUL-terminated strings of the options blob.
            check(unsafe { syscall5(libc::SYS_fsconfig as usize, fs.0 as usize, cmd, key, v, 0) })?;
            p = value + vlen + 1;
        }
    }
    // SAFETY: numbers only.
    check(unsafe {
        syscall5(
            libc::SYS_fsconfig as usize,
            fs.0 as usize,
            FSCONFIG_CMD_CREATE,
            0,
            0,
            0,
        )
    })?;
    // SAFETY: numbers only.
    let m = check(unsafe {
        syscall3(
            libc::SYS_fsmount as usize,
            fs.0 as usize,
            FSMOUNT_CLOEXEC,
            attrs as usize,
        )
    })?;
    Ok(Fd(m as i32))
}

fn strlen(p: usize) -> usize {
    let mut n = 0;
    // SAFETY: `p` points at a NUL-terminated string (the callers' contract).
    while unsafe { *((p + n) as *const u8) } != 0 {
        n += 1;
    }
    n
}

fn is_dir(fd: i32) -> Result<bool, i32> {
    // SAFETY: a zeroed stat buffer is valid to fill.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: an empty NUL-terminated path and a local, writable stat.
    check(unsafe {
        syscall4(
            libc::SYS_newfstatat as usize,
            fd as usize,
            c"".as_ptr() as usize,
            &mut st as *mut libc::stat as usize,
            AT_EMPTY_PATH,
        )
    })?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// [`crate::Op::OpenPath`].
pub fn open_path(plan: &Plan, path: Str, flags: u64, slot: Slot) -> Result<(), i32> {
    // SAFETY: `path` is NUL-terminated.
    let fd = check(unsafe {
        syscall3(
            libc::SYS_openat as usize,
            AT_FDCWD,
            path.0 as usize,
            flags as usize,
        )
    })?;
    set(plan, slot, fd as i32)
}

/// [`crate::Op::CheckIdentity`].
pub fn check_identity(plan: &Plan, slot: Slot, dev: u64, ino: u64) -> Result<(), i32> {
    let fd = get(plan, slot)?;
    // SAFETY: a zeroed stat buffer is valid to fill.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: an empty NUL-terminated path and a local, writable stat.
    check(unsafe {
        syscall4(
            libc::SYS_newfstatat as usize,
            fd as usize,
            c"".as_ptr() as usize,
            &mut st as *mut libc::stat as usize,
            AT_EMPTY_PATH,
        )
    })?;
    if st.st_dev == dev && st.st_ino == ino {
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
    set: u64,
    clear: u64,
    recursive: bool,
) -> Result<(), i32> {
    let src = get(plan, src)?;
    let root = get(plan, root)?;
    let tree = clone_tree(src, recursive)?;
    set_attr(tree.0, set, clear, recursive)?;
    let Some(dst) = lookup(root, dst.0 as usize, 0, false)? else {
        return Err(libc::ENOENT);
    };
    attach(tree.0, dst.0)
}

/// [`crate::Op::FsMount`].
pub fn fs_mount(
    plan: &Plan,
    (fstype, options, attrs): (Str, Bytes, u64),
    (root, dst): (Slot, Str),
    keep: Option<Slot>,
) -> Result<(), i32> {
    let root = get(plan, root)?;
    let mount = new_fs(fstype.0 as usize, options.ptr as usize, attrs)?;
    let Some(dst) = lookup(root, dst.0 as usize, 0, false)? else {
        return Err(libc::ENOENT);
    };
    attach(mount.0, dst.0)?;
    if let Some(slot) = keep {
        set(plan, slot, mount.take())?;
    }
    Ok(())
}

/// Looks up directory `parent` under the root in `root` (MkdirAt, CreateFileAt, SymlinkAt).
fn parent_dir(plan: &Plan, root: Slot, parent: Str) -> Result<Fd, i32> {
    let root = get(plan, root)?;
    lookup(root, parent.0 as usize, libc::O_DIRECTORY as u64, false)?.ok_or(libc::ENOENT)
}

/// [`crate::Op::MkdirAt`]: one that exists is fine (what it is decides nothing: later
/// lookups do).
pub fn mkdir_at(plan: &Plan, (root, parent, name): (Slot, Str, Str), mode: u32) -> Result<(), i32> {
    let dir = parent_dir(plan, root, parent)?;
    // SAFETY: `b` is NUL-terminated.
    let r = unsafe {
        syscall3(
            libc::SYS_mkdirat as usize,
            dir.0 as usize,
            name.0 as usize,
            mode as usize,
        )
    };
    match check(r) {
        Ok(_) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// [`crate::Op::CreateFileAt`]: a bind-mount target; mknodat never follows a symlink and
/// never opens what is there.
pub fn create_file_at(
    plan: &Plan,
    (root, parent, name): (Slot, Str, Str),
    mode: u32,
) -> Result<(), i32> {
    let dir = parent_dir(plan, root, parent)?;
    let mode = libc::S_IFREG as usize | (mode as usize & 0o7777);
    // SAFETY: `b` is NUL-terminated.
    let r = unsafe {
        syscall4(
            libc::SYS_mknodat as usize,
            dir.0 as usize,
            name.0 as usize,
            mode,
            0,
        )
    };
    match check(r) {
        Ok(_) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
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
    let dir = parent_dir(plan, root, parent)?;
    // SAFETY: umask and mknodat on numbers and a NUL-terminated name.
    let made = unsafe {
        let old = syscall1(libc::SYS_umask as usize, 0);
        let r = syscall4(
            libc::SYS_mknodat as usize,
            dir.0 as usize,
            name.0 as usize,
            mode as usize,
            dev as usize,
        );
        let _ = syscall1(libc::SYS_umask as usize, old as usize);
        r
    };
    match check(made) {
        Ok(_) => {}
        Err(libc::EEXIST) => return Ok(()),
        Err(e) => return Err(e),
    }
    // SAFETY: fchownat on a NUL-terminated name and numbers; the link is not followed.
    check(unsafe {
        syscall5(
            libc::SYS_fchownat as usize,
            dir.0 as usize,
            name.0 as usize,
            uid as usize,
            gid as usize,
            libc::AT_SYMLINK_NOFOLLOW as usize,
        )
    })
    .map(|_| ())
}

/// [`crate::Op::SymlinkAt`]: an existing entry is left alone.
pub fn symlink_at(
    plan: &Plan,
    (root, parent, name): (Slot, Str, Str),
    target: Str,
) -> Result<(), i32> {
    let dir = parent_dir(plan, root, parent)?;
    // SAFETY: `name` and `target` are NUL-terminated.
    let r = unsafe {
        syscall3(
            libc::SYS_symlinkat as usize,
            target.0 as usize,
            dir.0 as usize,
            name.0 as usize,
        )
    };
    match check(r) {
        Ok(_) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// [`crate::Op::SetAttrAt`].
pub fn set_attr_at(
    plan: &Plan,
    (root, path): (Slot, Str),
    attrs: (u64, u64, u64),
    recursive: bool,
) -> Result<(), i32> {
    let root = get(plan, root)?;
    let Some(at) = lookup(root, path.0 as usize, 0, false)? else {
        return Err(libc::ENOENT);
    };
    set_attr_prop(at.0, attrs, recursive)
}

/// [`crate::Op::MaskAt`].
pub fn mask_at(plan: &Plan, (root, path): (Slot, Str), empty: Slot) -> Result<(), i32> {
    let root = get(plan, root)?;
    let Some(at) = lookup(root, path.0 as usize, 0, true)? else {
        return Ok(());
    };
    let cover = if is_dir(at.0)? {
        new_fs(
            c"tmpfs".as_ptr() as usize,
            EMPTY_TMPFS_OPTIONS.as_ptr() as usize,
            ATTR_LOCKED_DOWN,
        )?
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
    let Some(at) = lookup(root, path.0 as usize, 0, true)? else {
        return Ok(());
    };
    let tree = clone_tree(at.0, true)?;
    set_attr(tree.0, ATTR_LOCKED_DOWN, 0, true)?;
    attach(tree.0, at.0)
}

/// [`crate::Op::PivotRoot`].
pub fn pivot_root(plan: &Plan, root: Slot) -> Result<(), i32> {
    let dir = get(plan, root)?;
    let dot = c".".as_ptr() as usize;
    // SAFETY: numbers and NUL-terminated literals.
    unsafe {
        check(sys::syscall1(libc::SYS_fchdir as usize, dir as usize))?;
        // pivot_root(".", "."): the old root ends up stacked on top of the new one at "/",
        // where a lazy unmount of "." removes it (pivot_root(2), NOTES).
        check(syscall2(libc::SYS_pivot_root as usize, dot, dot))?;
        check(syscall2(
            libc::SYS_umount2 as usize,
            dot,
            libc::MNT_DETACH as usize,
        ))?;
        check(sys::syscall1(
            libc::SYS_chdir as usize,
            c"/".as_ptr() as usize,
        ))?;
    }
    Ok(())
}
