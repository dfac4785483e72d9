//! System calls without libc: no wrapper with state, no errno variable. The child makes them
//! through rustix (its raw-syscall backend, built without std or alloc); this module holds the
//! glue (an fd number as a borrowed fd, a plan's string as a `&CStr`, an error as an errno)
//! and the hand-written calls: clone and its trampoline, and what rustix lacks. The raw
//! `syscallN` return the kernel's answer, where values in `-4095..=-1` are negated errnos.
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
    // rustix lacks exit_group outside its unstable runtime module.
    // SAFETY: exit_group takes a plain integer and never returns.
    unsafe { syscall1(libc::SYS_exit_group as usize, code as usize) };
    // The kernel never returns from exit_group; keep the compiler content without panicking.
    #[allow(clippy::empty_loop)]
    loop {}
}

/// `exit(2)`: ends only the calling task (a thread-like task must not end its whole group).
#[inline(always)]
pub fn exit_task(code: i32) -> ! {
    // rustix lacks exit(2) outside its unstable runtime module.
    // SAFETY: exit takes a plain integer and never returns.
    unsafe { syscall1(libc::SYS_exit as usize, code as usize) };
    #[allow(clippy::empty_loop)]
    loop {}
}

/// `write(2)` of a whole buffer (one attempt; callers write small records).
#[inline(always)]
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, i32> {
    rustix::io::write(borrow(fd)?, buf).map_err(errno)
}

/// `read(2)` into a buffer.
#[inline(always)]
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, i32> {
    rustix::io::read(borrow(fd)?, buf).map_err(errno)
}

/// `close(2)`; like every caller here, it ignores the answer (the fd is gone either way).
#[inline(always)]
pub fn close(fd: i32) {
    if fd >= 0 {
        // SAFETY: the callers own `fd` and never use the number again.
        unsafe { rustix::io::close(fd) }
    }
}

/// `gettid(2)`.
#[inline(always)]
pub fn gettid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

/// `getpid(2)`.
#[inline(always)]
pub fn getpid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// `getppid(2)` (0 when the parent is outside this PID namespace).
#[inline(always)]
pub fn getppid() -> i32 {
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get())
}

/// `close_range(first, last, flags)`.
#[inline(always)]
pub fn close_range(first: u32, last: u32, flags: u32) -> Result<usize, i32> {
    // rustix lacks close_range.
    // SAFETY: close_range on numbers; the callers no longer use the fds it closes.
    check(unsafe {
        syscall3(
            libc::SYS_close_range as usize,
            first as usize,
            last as usize,
            flags as usize,
        )
    })
}

/// A system call that returns a new fd (`nr` with up to five arguments), as the fd number.
///
/// rustix's fd-returning wrappers (openat, openat2, open_tree, fsopen, fsmount, pipe2,
/// socket) build an `OwnedFd`, whose constructor asserts that the number is not -1: a panic
/// path the child must not have (DESIGN.md section 3). These calls stay hand-written.
///
/// # Safety
/// As [`syscall5`], for this call and these arguments.
#[inline(always)]
pub unsafe fn new_fd(
    nr: i64,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
) -> Result<i32, i32> {
    // SAFETY: the caller's contract.
    check(unsafe { syscall5(nr as usize, a, b, c, d, e) }).map(|fd| fd as i32)
}

/// The errno a rustix error stands for.
#[inline(always)]
pub fn errno(e: rustix::io::Errno) -> i32 {
    e.raw_os_error()
}

/// `fd` as the borrowed fd rustix takes. A negative number is EBADF here, as the kernel would
/// answer: checking first also keeps `borrow_raw`'s assertion (not -1) from ever panicking.
#[inline(always)]
pub fn borrow<'a>(fd: i32) -> Result<rustix::fd::BorrowedFd<'a>, i32> {
    if fd < 0 {
        return Err(libc::EBADF);
    }
    // SAFETY: a non-negative number; the callers keep the fd open for as long as they use
    // the borrow (each is passed to one system call).
    Ok(unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) })
}

/// The NUL-terminated string at `p` as a `&CStr`, so that rustix passes the pointer on as it
/// is (a `&CStr` path is never copied, so no buffer is allocated for it).
///
/// # Safety
/// `p` points at a NUL-terminated string that lives, unchanged, for `'a`.
#[inline(always)]
pub unsafe fn cstr<'a>(p: *const u8) -> &'a core::ffi::CStr {
    let mut n = 0;
    // Volatile reads: the optimiser would otherwise turn this loop into a call to the C
    // library's strlen, which the child does not link.
    // SAFETY: the caller guarantees a NUL within the string, so every byte read up to and
    // including it is in bounds.
    while unsafe { p.add(n).read_volatile() } != 0 {
        n += 1;
    }
    // SAFETY: the `n + 1` bytes up to and including the first NUL are in bounds (above).
    unsafe { core::ffi::CStr::from_bytes_with_nul_unchecked(core::slice::from_raw_parts(p, n + 1)) }
}
