//! File descriptors a caller hands over by number: is one open, and a private duplicate of
//! one that can be written to (fcntl(2) F_GETFD, F_GETFL, F_DUPFD_CLOEXEC).
#![allow(unsafe_code)]
use crate::error::RangeError;
use rustix::fs::OFlags;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Checks that `fd` is an open descriptor of this process.
pub fn check_open(fd: RawFd) -> Result<(), RangeError> {
    if fd < 0 {
        return Err(RangeError::new(
            "descriptor",
            fd,
            "give an open descriptor number, 0 or above",
        ));
    }
    // rustix lacks a probe of a bare number (its calls take a BorrowedFd, which must be open).
    // SAFETY: F_GETFD reads the flags of any number; a closed one gives EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(RangeError::new(
            "descriptor",
            fd,
            format!("not open; open it for the command, e.g. {fd}<FILE"),
        ));
    }
    Ok(())
}

/// A close-on-exec duplicate of `fd`, which must be open for writing (`O_WRONLY` or
/// `O_RDWR`, not `O_PATH`). Writes go to the same open file (a file, pipe or socket)
/// without reopening it by path, so they get no access `fd` did not have.
pub fn dup_writable(fd: RawFd) -> Result<OwnedFd, RangeError> {
    check_open(fd).map_err(|e| RangeError {
        why: e.why.replace(&format!("{fd}<FILE"), &format!("{fd}>FILE")),
        ..e
    })?;
    // SAFETY: check_open just found `fd` open; the caller handed it over and keeps it open
    // for this call.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let fl = rustix::fs::fcntl_getfl(borrowed);
    let problem = match fl {
        Err(_) => Some("cannot be inspected (F_GETFL)"),
        Ok(fl) if fl.contains(OFlags::PATH) => {
            Some("an O_PATH descriptor, which cannot be written")
        }
        Ok(fl) if fl & OFlags::ACCMODE == OFlags::RDONLY => Some("open read-only"),
        Ok(_) => None,
    };
    if let Some(problem) = problem {
        return Err(RangeError::new(
            "descriptor",
            fd,
            format!("{problem}; open it for writing, e.g. {fd}>FILE"),
        ));
    }
    rustix::io::fcntl_dupfd_cloexec(borrowed, 3).map_err(|e| {
        RangeError::new(
            "descriptor",
            fd,
            format!("cannot be duplicated ({})", std::io::Error::from(e)),
        )
    })
}

/// A close-on-exec duplicate of `fd` (numbered 3 or above).
pub fn dup_cloexec(fd: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a number; a closed one gives EBADF.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `dup` was just created and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Opens `path` read-only inside the root directory of process `pid` (`/proc/PID/root`),
/// resolving every component inside that root (openat2(2) with `RESOLVE_IN_ROOT` and no
/// magic links), so that a symlink a sandboxed program planted cannot lead outside it. Only
/// a regular file is opened (anything else fails with `InvalidInput`), without blocking.
pub fn open_in_root_of(pid: i32, path: &std::path::Path) -> std::io::Result<OwnedFd> {
    use rustix::fs::{openat2, Mode, ResolveFlags};
    let root = rustix::fs::open(
        format!("/proc/{pid}/root"),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let relative = path.strip_prefix("/").unwrap_or(path);
    let relative = if relative.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        relative
    };
    // Non-blocking, so that a FIFO planted there cannot stall the caller; and only a regular
    // file is taken (not a device node the sandbox exposes, opened with the caller's ids).
    let fd = openat2(
        &root,
        relative,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?;
    if rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode)
        != rustix::fs::FileType::RegularFile
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(fd)
}

/// Takes a shared (read) open-file-description lock on the whole of `fd` (fcntl(2)
/// `F_OFD_SETLK`), held until the last duplicate of `fd` is closed; fails with EAGAIN when
/// another process holds a write lock.
pub fn read_lock(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    // SAFETY: a zeroed flock is a valid value; fcntl reads it and writes nothing back for
    // F_OFD_SETLK.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_RDLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    use std::os::fd::AsRawFd;
    // SAFETY: `fd` is open for the call (borrowed) and `lock` outlives it.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &lock) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Marks every descriptor from `first` up close-on-exec (close_range(2) with
/// CLOSE_RANGE_CLOEXEC), so that what this process's caller left open (a lock `flock(1)`
/// holds, a shell's redirection) does not reach a program it runs. Descriptors placed later
/// by dup2 are open across exec again, as their placer meant.
pub fn cloexec_from(first: u32) -> std::io::Result<()> {
    // SAFETY: close_range changes only descriptor flags of this process; no memory is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::net::UnixStream;

    #[test]
    fn open_and_writable() {
        assert!(check_open(-1).is_err());
        assert!(check_open(0x7fff_0000)
            .unwrap_err()
            .why
            .contains("not open"));
        assert!(dup_writable(0x7fff_0000).unwrap_err().why.contains(">FILE"));
        let ro = std::fs::File::open("/dev/null").unwrap();
        assert!(check_open(ro.as_raw_fd()).is_ok());
        let e = dup_writable(ro.as_raw_fd()).unwrap_err();
        assert!(e.why.contains("read-only"), "{e}");
        // A socket: writes reach the peer through the duplicate.
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut out = std::fs::File::from(dup_writable(b.as_raw_fd()).unwrap());
        drop(b);
        out.write_all(b"line\n").unwrap();
        drop(out);
        let mut got = String::new();
        a.read_to_string(&mut got).unwrap();
        assert_eq!(got, "line\n");
        let path = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open("/")
            .unwrap();
        assert!(dup_writable(path.as_raw_fd())
            .unwrap_err()
            .why
            .contains("O_PATH"));
    }
}
