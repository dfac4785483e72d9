//! The mount lock ([`crate::Op::LockMounts`]) and the procfs it writes through
//! ([`crate::Op::OpenProc`]). Same rules as ops.rs: raw system calls, no allocation.
//!
//! The nested user namespace's maps are written through a procfs the child opened before
//! the new root existed, so a root built from nothing (`--tmpfs /`) or a read-only one
//! (`--ro-bind / /`) needs no /proc of its own. That fd reaches the host's whole process
//! tree, so it never outlives the lock: the init closes it with every other fd before the
//! program's process may go on, this op closes it before its first write, and it is
//! close-on-exec besides.
use crate::fs::{self, Fd};
use crate::plan::{Bytes, Plan, Slot};
use crate::sys::{self, errno, new_fd};
use rustix::fs::OFlags;
use rustix::process::DumpableBehavior;

/// [`crate::Op::OpenProc`].
pub fn open_proc(plan: &Plan, slot: Slot) -> Result<(), i32> {
    // A detached copy of the mount (and those below it): the mounts that follow may make
    // the original read-only (a preset's read-only "/" reaches the /proc it covers), never
    // this copy, which only this slot holds; closing it unmounts it.
    let fd = match open_procfs(libc::AT_FDCWD, c"/proc").and_then(|p| fs::clone_tree(p.0, true)) {
        Ok(fd) => fd.take(),
        // Nothing usable: the lock falls back on the new root's /proc.
        Err(_) => -1,
    };
    fs::set(plan, slot, fd)
}

/// `openat(dir, path, O_PATH | O_DIRECTORY | O_CLOEXEC)`, kept only if it is a procfs
/// (ENOENT otherwise: no procfs there).
fn open_procfs(dir: i32, path: &core::ffi::CStr) -> Result<Fd, i32> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    // rustix's openat asserts on the fd it returns (see sys::new_fd).
    // SAFETY: `path` is a NUL-terminated string; the rest are numbers.
    let fd = Fd(unsafe {
        new_fd(
            libc::SYS_openat,
            dir as isize as usize,
            path.as_ptr() as usize,
            flags.bits() as usize,
            0,
            0,
        )
    }?);
    let st = rustix::fs::fstatfs(fd.as_fd()?).map_err(errno)?;
    if st.f_type == rustix::fs::PROC_SUPER_MAGIC {
        Ok(fd)
    } else {
        Err(libc::ENOENT)
    }
}

/// [`crate::Op::LockMounts`].
pub fn lock_mounts(plan: &Plan, proc: Slot, uid_map: Bytes, gid_map: Bytes) -> Result<(), i32> {
    // Empty maps: the ids this process has now, read before the unshare (after it they
    // read as the overflow ids until mapped).
    let mut own_uid = [0u8; 32];
    let mut own_gid = [0u8; 32];
    let own_uid = self_map(&mut own_uid, rustix::process::getuid().as_raw());
    let own_gid = self_map(&mut own_gid, rustix::process::getgid().as_raw());
    let held = Fd(fs::get(plan, proc).unwrap_or(-1));
    let _ = fs::set(plan, proc, -1);
    // /proc/self/*_map must belong to this process's own ids (a change of uid, or an init
    // sharing this memory, made it not dumpable): exec sets the flag again anyway.
    rustix::process::set_dumpable_behavior(DumpableBehavior::Dumpable).map_err(errno)?;
    unshare_user_and_mount()?;
    let [setgroups, gid, uid] = match open_maps(&held) {
        // No procfs from before the pivot (EBADF), one whose PID namespace does not see
        // this process (a caller in a mount namespace it entered without its PID
        // namespace), or a read-only one: the new root's /proc, the lock's only way before.
        Err(libc::EBADF | libc::ENOENT | libc::EROFS) => {
            drop(held);
            open_maps(&open_procfs(libc::AT_FDCWD, c"/proc")?)?
        }
        opened => {
            drop(held);
            opened?
        }
    };
    // SAFETY: the maps hold `len` bytes the parent keeps alive until exec (Op's contract).
    let (uid_map, gid_map) = unsafe { (crate::ops::bytes(uid_map), crate::ops::bytes(gid_map)) };
    let uid_map = if uid_map.is_empty() { own_uid } else { uid_map };
    let gid_map = if gid_map.is_empty() { own_gid } else { gid_map };
    write_all(&setgroups, b"deny")?;
    write_all(&gid, gid_map)?;
    write_all(&uid, uid_map)
}

/// "ID ID 1\n" in `buf`: the id mapped to itself.
fn self_map(buf: &mut [u8; 32], id: u32) -> &[u8] {
    let mut digits = [0u8; 10];
    let mut n = 0;
    let mut v = id;
    loop {
        if let Some(d) = digits.get_mut(n) {
            *d = b'0' + (v % 10) as u8;
        }
        n += 1;
        v /= 10;
        if v == 0 || n == digits.len() {
            break;
        }
    }
    let mut len = 0;
    let mut put = |b: u8| {
        if let Some(slot) = buf.get_mut(len) {
            *slot = b;
            len += 1;
        }
    };
    for _ in 0..2 {
        for i in (0..n).rev() {
            put(digits.get(i).copied().unwrap_or(b'0'));
        }
        put(b' ');
    }
    put(b'1');
    put(b'\n');
    buf.get(..len).unwrap_or(&[])
}

/// setgroups, gid_map and uid_map under `self/` of the procfs `dir`, opened for writing.
/// "self" resolves in the procfs' PID namespace (an ancestor of this process's, or its
/// own, sees it), and each file belongs to the user namespace this process is in at the
/// open: the nested one.
fn open_maps(dir: &Fd) -> Result<[Fd; 3], i32> {
    Ok([
        open_write(dir.0, c"self/setgroups")?,
        open_write(dir.0, c"self/gid_map")?,
        open_write(dir.0, c"self/uid_map")?,
    ])
}

fn unshare_user_and_mount() -> Result<(), i32> {
    let flags = rustix::thread::UnshareFlags::NEWUSER | rustix::thread::UnshareFlags::NEWNS;
    // SAFETY: the child is the only thread of its process here, and neither flag unshares
    // the fd table.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(errno)
}

/// `openat(dir, path, O_WRONLY | O_CLOEXEC | O_NOCTTY)`.
fn open_write(dir: i32, path: &core::ffi::CStr) -> Result<Fd, i32> {
    let flags = OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    // rustix's openat asserts on the fd it returns (see sys::new_fd).
    // SAFETY: `path` is a NUL-terminated string; `dir` is a number (EBADF unless an fd).
    let fd = unsafe {
        new_fd(
            libc::SYS_openat,
            dir as isize as usize,
            path.as_ptr() as usize,
            flags.bits() as usize,
            0,
            0,
        )
    }?;
    Ok(Fd(fd))
}

/// One write of all of `data` (a short write is EIO).
fn write_all(fd: &Fd, data: &[u8]) -> Result<(), i32> {
    match sys::write(fd.0, data) {
        Ok(n) if n == data.len() => Ok(()),
        Ok(_) => Err(libc::EIO),
        Err(e) => Err(e),
    }
}
