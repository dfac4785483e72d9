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
