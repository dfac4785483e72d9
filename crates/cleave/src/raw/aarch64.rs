//! aarch64 clone entry points. The kernel preserves x20/x21 across `svc`, so the child finds
//! its entry function and argument there (x19 and x29 are reserved by the compiler).
use super::Entry;
use std::ffi::c_void;

const SYS_CLONE3: usize = libc::SYS_clone3 as usize;
const SYS_CLONE: usize = libc::SYS_clone as usize;

/// clone3 whose child returns 0 from this function on a copy of the caller's stack.
///
/// # Safety
/// See `raw::clone`; CLONE_VM must not be set.
#[inline(never)]
pub unsafe fn clone3_fork(args: usize, size: usize) -> isize {
    // SAFETY: caller contract.
    unsafe { cleave_child::sys::syscall2(SYS_CLONE3, args, size) }
}

/// clone3 whose child calls `f(arg)` on the stack given in `args`, then exit(2).
///
/// # Safety
/// See `raw::clone`.
pub unsafe fn clone3_entry(args: usize, size: usize, f: Entry, arg: *mut c_void) -> isize {
    // SAFETY: caller contract; the child crate's trampoline is the one that runs after clone.
    unsafe { cleave_child::sys::clone_entry(SYS_CLONE3, args, size, 0, 0, 0, f, arg) }
}

/// Legacy clone whose child returns 0 on a copy of the caller's stack.
///
/// # Safety
/// See `raw::clone`.
#[inline(never)]
pub unsafe fn clone_legacy_fork(flags: u64, sp: u64, ptid: u64, ctid: u64, tls: u64) -> isize {
    // SAFETY: caller contract; aarch64 order is flags, stack, parent_tid, tls, child_tid.
    unsafe {
        cleave_child::sys::syscall5(
            SYS_CLONE,
            flags as usize,
            sp as usize,
            ptid as usize,
            tls as usize,
            ctid as usize,
        )
    }
}

/// Legacy clone whose child calls `f(arg)` on stack top `sp`, then exit(2).
///
/// # Safety
/// See `raw::clone`.
pub unsafe fn clone_legacy_entry(
    flags: u64,
    sp: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
    f: Entry,
    arg: *mut c_void,
) -> isize {
    // SAFETY: caller contract; the kernel's argument order here is (flags, sp, ptid, tls, ctid).
    unsafe {
        cleave_child::sys::clone_entry(
            SYS_CLONE,
            flags as usize,
            sp as usize,
            ptid as usize,
            tls as usize,
            ctid as usize,
            f,
            arg,
        )
    }
}
