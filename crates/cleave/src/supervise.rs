//! Supervising a running child from outside: signals sent to the supervisor are passed on
//! to the program (blocked first, so none is lost before the child exists, then read from
//! a signalfd), until the program's pidfd says it has ended; and the console a container's
//! manager holds ([`console_socket`]).
#![allow(unsafe_code)]
use rustix::event::{PollFd, PollFlags};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

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
        // rustix lacks sigset_t, pthread_sigmask and signalfd: libc's.
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
    pub fn until_exit(&self, pidfd: impl AsFd, same_group: bool, mut send: impl FnMut(i32)) {
        self.until_exit_each(pidfd, |signo, from_terminal| {
            if !(from_terminal && same_group) {
                send(signo);
            }
        });
    }

    /// Calls `each(signal, from_terminal)` for every signal received until the pidfd says
    /// the program has ended; `from_terminal` is true for one a terminal sent to its whole
    /// foreground process group (si_code SI_KERNEL). The caller decides what to pass on.
    pub fn until_exit_each(&self, pidfd: impl AsFd, mut each: impl FnMut(i32, bool)) {
        let Some(sfd) = &self.fd else { return };
        // struct signalfd_siginfo: 128 bytes, ssi_signo (u32) at 0, ssi_code (i32) at 8.
        const INFO_SIZE: usize = 128;
        loop {
            let mut fds = [
                PollFd::new(&pidfd, PollFlags::IN),
                PollFd::new(sfd, PollFlags::IN),
            ];
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return,
            }
            let ended = !fds[0].revents().is_empty();
            if fds[1].revents().contains(PollFlags::IN) {
                let mut info = [0u8; INFO_SIZE];
                let got = rustix::io::read(sfd, &mut info);
                let word = |at: usize| [info[at], info[at + 1], info[at + 2], info[at + 3]];
                let signo = u32::from_ne_bytes(word(0));
                let code = i32::from_ne_bytes(word(8));
                let from_terminal = code == libc::SI_KERNEL;
                if got == Ok(INFO_SIZE) {
                    each(signo as i32, from_terminal);
                }
            }
            if ended {
                return;
            }
        }
    }
}
