//! aarch64 system call entry: number in x8, arguments in x0..x5, result in x0.
use core::arch::asm;

/// # Safety
/// The caller guarantees the call has no effect that breaks Rust's memory model.
#[inline(always)]
pub unsafe fn syscall0(n: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call; the asm follows the kernel ABI.
    unsafe { asm!("svc 0", in("x8") n, lateout("x0") ret, options(nostack)) };
    ret
}

/// # Safety
/// As [`syscall0`].
#[inline(always)]
pub unsafe fn syscall1(n: usize, a: usize) -> isize {
    let ret: isize;
    // SAFETY: as syscall0.
    unsafe { asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, options(nostack)) };
    ret
}

/// # Safety
/// As [`syscall0`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a: usize, b: usize) -> isize {
    let ret: isize;
    // SAFETY: as syscall0.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, options(nostack))
    };
    ret
}

/// # Safety
/// As [`syscall0`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: as syscall0.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
             options(nostack))
    };
    ret
}

/// # Safety
/// As [`syscall0`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: as syscall0.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
             in("x3") d, options(nostack))
    };
    ret
}

/// # Safety
/// As [`syscall0`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    // SAFETY: as syscall0.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
             in("x3") d, in("x4") e, options(nostack))
    };
    ret
}

/// # Safety
/// As [`syscall0`].
#[inline(always)]
pub unsafe fn syscall6(
    n: usize,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
    f: usize,
) -> isize {
    let ret: isize;
    // SAFETY: as syscall0.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
             in("x3") d, in("x4") e, in("x5") f, options(nostack))
    };
    ret
}

/// A clone system call `nr` (clone or clone3) with arguments `a`..`e` in the kernel's
/// order, whose child calls `f(arg)` on the stack the arguments give it, then exit(2) with
/// its result. Returns the child's PID (or a negated errno) in the caller.
///
/// # Safety
/// The arguments must give the child a stack it may use until it execs or exits, `f` must be
/// safe to run there with `arg` (with CLONE_VM it shares the caller's memory), and every
/// pointer among the arguments must be valid for the flags that use it.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub unsafe fn clone_entry(
    nr: usize,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
    f: unsafe extern "C" fn(*mut core::ffi::c_void) -> i32,
    arg: *mut core::ffi::c_void,
) -> isize {
    let ret: isize;
    // SAFETY: the child branch never falls through: it runs on its own stack and ends in
    // exit(2); the parent branch only receives x0. x20/x21 survive the svc.
    unsafe {
        core::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            // Child: a clean frame chain and a 16-byte aligned stack, as on x86_64.
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x9, sp",
            "and x9, x9, #-16",
            "mov sp, x9",
            "mov x0, x21",
            "blr x20",
            "mov x8, {exit}",
            "svc 0",
            "brk #0",
            "2:",
            exit = const libc::SYS_exit as usize,
            in("x8") nr,
            inlateout("x0") a as isize => ret,
            in("x1") b,
            in("x2") c,
            in("x3") d,
            in("x4") e,
            in("x20") f,
            in("x21") arg,
        )
    };
    ret
}
