//! The console of a container: a pseudo-terminal pair whose master goes to whoever manages
//! the container (over a unix socket, with SCM_RIGHTS: the OCI `--console-socket`), and
//! whose slave becomes the program's terminal
//! ([`crate::sandbox::Process::terminal`]). See pty(7), unix(7).
use crate::error::{Error, Result};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// A pseudo-terminal pair, both ends close-on-exec and neither the caller's controlling
/// terminal.
#[derive(Debug)]
pub struct Pty {
    /// The master: what the terminal emulator (or the container's manager) holds.
    pub master: OwnedFd,
    /// The slave: the program's terminal.
    pub slave: OwnedFd,
}

fn console(what: impl Into<String>, source: io::Error) -> Error {
    Error::Console {
        what: what.into(),
        source,
    }
}

fn ioctl_int(fd: BorrowedFd<'_>, request: libc::Ioctl, value: &mut libc::c_int) -> io::Result<()> {
    // SAFETY: the requests used here read or write one int at the given address.
    if unsafe { libc::ioctl(fd.as_raw_fd(), request, value as *mut libc::c_int) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn open_cloexec(path: &std::ffi::CStr) -> io::Result<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated path; the fd is owned right away.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Pty {
    /// Opens a new pair: /dev/ptmx, unlocked (TIOCSPTLCK), and its slave opened through
    /// the master (TIOCGPTPEER, so that it is the peer of this very master whatever is
    /// mounted on /dev/pts), or by its number (TIOCGPTN) on kernels before 4.13.
    pub fn open() -> Result<Pty> {
        let master = open_cloexec(c"/dev/ptmx").map_err(|e| console("open /dev/ptmx", e))?;
        let mut unlock: libc::c_int = 0;
        ioctl_int(master.as_fd(), libc::TIOCSPTLCK, &mut unlock)
            .map_err(|e| console("unlock the pseudo-terminal (TIOCSPTLCK)", e))?;
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: TIOCGPTPEER takes open(2) flags by value and returns a new fd.
        let peer = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
        let slave = if peer >= 0 {
            // SAFETY: the ioctl just returned this new fd.
            unsafe { OwnedFd::from_raw_fd(peer) }
        } else {
            let mut n: libc::c_int = 0;
            ioctl_int(master.as_fd(), libc::TIOCGPTN, &mut n)
                .map_err(|e| console("read the pseudo-terminal's number (TIOCGPTN)", e))?;
            let path = format!("/dev/pts/{n}");
            let c = std::ffi::CString::new(path.clone()).unwrap_or_default();
            open_cloexec(&c).map_err(|e| console(format!("open {path}"), e))?
        };
        Ok(Pty { master, slave })
    }
}

/// Sends `fd` over the connected unix socket `socket` (SCM_RIGHTS), with one byte of data
/// (a stream socket carries no ancillary data alone). The receiver gets its own fd for
/// the same open file.
pub fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let raw = fd.as_raw_fd();
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of_val(&raw) as u32) } as usize;
    // u64 words: cmsghdr alignment.
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: msghdr is plain data; zeroed is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer holds one cmsghdr with room for one int (CMSG_SPACE),
    // so CMSG_FIRSTHDR is non-null and CMSG_DATA points inside the buffer.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(&raw) as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), raw);
    }
    loop {
        // SAFETY: `msg` points at live buffers for the duration of the call.
        let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Receives one fd sent with [`send_fd`] (or any SCM_RIGHTS message carrying one), close-on-
/// exec. Fails with EBADMSG when the message carries none.
pub fn recv_fd(socket: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: msghdr is plain data; zeroed is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    loop {
        // SAFETY: `msg` points at live, writable buffers for the duration of the call.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    // SAFETY: the kernel filled `msg`; CMSG_FIRSTHDR checks msg_controllen, and a
    // SCM_RIGHTS header of at least CMSG_LEN(int) holds an fd now owned by this process.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
            || ((*cmsg).cmsg_len as usize)
                < libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as usize
        {
            return Err(io::Error::from_raw_os_error(libc::EBADMSG));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// The OCI console socket: opens a [`Pty`], connects to the unix socket at `path`, sends
/// it the master and returns the slave, for [`crate::sandbox::Process::terminal`]. The
/// master is closed here once sent: the receiver holds the terminal's only master.
pub fn console_socket(path: &Path) -> Result<OwnedFd> {
    let pty = Pty::open()?;
    let socket = UnixStream::connect(path).map_err(|e| {
        console(
            format!("connect to the console socket {}", path.display()),
            e,
        )
    })?;
    send_fd(socket.as_fd(), pty.master.as_fd()).map_err(|e| {
        console(
            format!("send the terminal to the console socket {}", path.display()),
            e,
        )
    })?;
    Ok(pty.slave)
}
