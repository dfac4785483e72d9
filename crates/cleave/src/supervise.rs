//! Supervising a running child from outside: signals sent to the supervisor are passed on
//! to the program (blocked first, so none is lost before the child exists, then read from
//! a signalfd), until the program's pidfd says it has ended; and the console a container's
//! manager holds ([`console_socket`]).
#![allow(unsafe_code)]
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

mod console;
pub use console::{console_socket, recv_fd, send_fd, Pty};

/// Signals a supervisor passes on to the program: termination and the user signals.
pub const FORWARDED: [i32; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Signals blocked in the supervisor and read from a signalfd, for forwarding.
#[allow(missing_debug_implementations)]
pub struct Forwarder {
    original: libc::sigset_t,
    fd: Option<OwnedFd>,
}

fn mask_bits(set: &libc::sigset_t) -> u64 {
    let mut bits = 0u64;
    for sig in 1..=64 {
        // SAFETY: `set` is an initialised sigset_t.
        if unsafe { libc::sigismember(set, sig) } == 1 {
            bits |= 1 << (sig - 1);
        }
    }
    bits
}

impl Forwarder {
    /// Blocks `signals` so that they queue for forwarding instead of ending cleave.
    pub fn block(signals: &[i32]) -> Forwarder {
        // SAFETY: sigset_t values are initialised by sigemptyset before use; the
        // signalfd is owned right after creation.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut original: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in signals {
                libc::sigaddset(&mut set, s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut original);
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
            Forwarder {
                original,
                fd: (fd >= 0).then(|| OwnedFd::from_raw_fd(fd)),
            }
        }
    }

    /// The mask cleave had before blocking, for the program to start with.
    pub fn original_mask(&self) -> u64 {
        mask_bits(&self.original)
    }

    /// Forwards signals until the pidfd says the program has ended. A signal a terminal
    /// sent to the whole foreground process group (si_code SI_KERNEL) already reached a
    /// program in that group: it is passed on only when `same_group` is false.
    pub fn until_exit(&self, pidfd: i32, same_group: bool, mut send: impl FnMut(i32)) {
        let Some(sfd) = &self.fd else { return };
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: pidfd,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: sfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return;
            }
            if fds[1].revents & libc::POLLIN != 0 {
                // SAFETY: zeroed signalfd_siginfo is valid to read into.
                let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
                let size = std::mem::size_of::<libc::signalfd_siginfo>();
                // SAFETY: `info` is writable for `size` bytes.
                let got = unsafe {
                    libc::read(
                        sfd.as_raw_fd(),
                        (&mut info as *mut libc::signalfd_siginfo).cast(),
                        size,
                    )
                };
                let from_terminal = info.ssi_code == libc::SI_KERNEL;
                if got == size as isize && !(from_terminal && same_group) {
                    send(info.ssi_signo as i32);
                }
            }
            if fds[0].revents != 0 {
                return;
            }
        }
    }
}
