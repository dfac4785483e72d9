//! Raw system calls: no libc wrapper, no errno, no state. Each returns the kernel's raw
//! answer, where values in `-4095..=-1` are negated errnos.
//!
//! These are the only calls code running after clone() may make (DESIGN.md section 3).

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
pub use aarch64::*;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

/// Splits a raw return value into `Ok(value)` or `Err(errno)`.
#[inline(always)]
pub fn check(ret: isize) -> Result<usize, i32> {
    if (-4095..0).contains(&ret) {
        Err((-ret) as i32)
    } else {
        Ok(ret as usize)
    }
}

/// `exit_group(2)` without running any user-space exit handler.
#[inline(always)]
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes a plain integer and never returns.
    unsafe { syscall1(libc::SYS_exit_group as usize, code as usize) };
    // The kernel never returns from exit_group; keep the compiler content without panicking.
    #[allow(clippy::empty_loop)]
    loop {}
}

/// `exit(2)`: ends only the calling task (a thread-like task must not end its whole group).
#[inline(always)]
pub fn exit_task(code: i32) -> ! {
    // SAFETY: exit takes a plain integer and never returns.
    unsafe { syscall1(libc::SYS_exit as usize, code as usize) };
    #[allow(clippy::empty_loop)]
    loop {}
}

/// `write(2)` of a whole buffer (one attempt; callers write small records).
#[inline(always)]
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: the pointer and length come from a live slice.
    check(unsafe {
        syscall3(
            libc::SYS_write as usize,
            fd as usize,
            buf.as_ptr() as usize,
            buf.len(),
        )
    })
}

/// `read(2)` into a buffer.
#[inline(always)]
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: the pointer and length come from a live, writable slice.
    check(unsafe {
        syscall3(
            libc::SYS_read as usize,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
        )
    })
}

/// `close(2)`.
#[inline(always)]
pub fn close(fd: i32) -> Result<usize, i32> {
    // SAFETY: closing a number has no memory effects.
    check(unsafe { syscall1(libc::SYS_close as usize, fd as usize) })
}

/// `gettid(2)`.
#[inline(always)]
pub fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall0(libc::SYS_gettid as usize) as i32 }
}

/// `getpid(2)`.
#[inline(always)]
pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall0(libc::SYS_getpid as usize) as i32 }
}

/// `getppid(2)`.
#[inline(always)]
pub fn getppid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall0(libc::SYS_getppid as usize) as i32 }
}
