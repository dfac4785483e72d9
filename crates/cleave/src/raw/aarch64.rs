//! aarch64 clone entry points. The kernel preserves x20/x21 across `svc`, so the child finds
//! its entry function and argument there (x19 and x29 are reserved by the compiler).
use super::Entry;
use std::arch::asm;
use std::ffi::c_void;

const SYS_CLONE3: usize = libc::SYS_clone3 as usize;
const SYS_CLONE: usize = libc::SYS_clone as usize;
const SYS_EXIT: usize = libc::SYS_exit as usize;

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
#[inline(never)]
pub unsafe fn clone3_entry(args: usize, size: usize, f: Entry, arg: *mut c_void) -> isize {
    let ret: isize;
    // SAFETY: the child branch never falls through; it ends in exit(2).
    unsafe {
        asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x30, xzr",
            "mov x0, x21",
            "blr x20",
            "mov x8, {exit}",
            "svc 0",
            "brk #0",
            "2:",
            exit = const SYS_EXIT,
            in("x8") SYS_CLONE3,
            inlateout("x0") args as isize => ret,
            in("x1") size,
            in("x20") f,
            in("x21") arg,
        )
    };
    ret
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
#[inline(never)]
pub unsafe fn clone_legacy_entry(
    flags: u64,
    sp: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
    f: Entry,
    arg: *mut c_void,
) -> isize {
    let ret: isize;
    // SAFETY: as clone3_entry.
    unsafe {
        asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x30, xzr",
            "mov x0, x21",
            "blr x20",
            "mov x8, {exit}",
            "svc 0",
            "brk #0",
            "2:",
            exit = const SYS_EXIT,
            in("x8") SYS_CLONE,
            inlateout("x0") flags as isize => ret,
            in("x1") sp,
            in("x2") ptid,
            in("x3") tls,
            in("x4") ctid,
            in("x20") f,
            in("x21") arg,
        )
    };
    ret
}
