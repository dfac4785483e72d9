//! [`Child`]: a created process or task, its pidfd, and how to wait for it.
use crate::error::{Error, Result};
use crate::raw;
use std::any::Any;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// It called exit with this code.
    Exited(i32),
    /// A signal ended it.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

impl ExitStatus {
    /// The exit code, if it exited.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(c) => Some(c),
            ExitStatus::Signaled { .. } => None,
        }
    }

    /// The signal that ended it, if any.
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Signaled { signal, .. } => Some(signal),
            ExitStatus::Exited(_) => None,
        }
    }

    /// Exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// The shell's convention: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled { signal, .. } => 128 + signal,
        }
    }

    /// From waitid(2)'s `si_code` and `si_status`.
    pub(crate) fn from_waitid(w: raw::Waited) -> ExitStatus {
        match w.code {
            libc::CLD_EXITED => ExitStatus::Exited(w.status),
            libc::CLD_DUMPED => ExitStatus::Signaled {
                signal: w.status,
                core_dumped: true,
            },
            _ => ExitStatus::Signaled {
                signal: w.status,
                core_dumped: false,
            },
        }
    }

    /// From a waitpid(2) status word.
    pub fn from_wait_status(status: i32) -> ExitStatus {
        if libc::WIFEXITED(status) {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        } else {
            ExitStatus::Signaled {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            }
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exit code {c}"),
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => write!(
                f,
                "killed by {}{}",
                crate::flags::signal_name(*signal),
                if *core_dumped { " (core dumped)" } else { "" }
            ),
        }
    }
}

/// Who can collect the child's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaper {
    /// This process (the usual case).
    Caller,
    /// The caller's parent (CLONE_PARENT): this process can only await the exit through the
    /// pidfd, and gets no status.
    CallersParent,
    /// Nobody: a CLONE_THREAD child is part of this thread group and is released on exit.
    ThreadGroup,
}

/// A child created by cleave.
#[derive(Debug)]
pub struct Child {
    pid: i32,
    pidfd: Option<OwnedFd>,
    exit_signal: i32,
    reaper: Reaper,
    parent_tid: Option<i32>,
    status: Option<ExitStatus>,
    /// Set once the child is known to have ended (wait_exit), for children this process
    /// does not reap.
    ended: std::cell::Cell<bool>,
    keepalive: Option<Box<dyn Any + Send>>,
    notes: u32,
}

impl Drop for Child {
    /// A child that may still run on memory we handed it (a CLONE_VM child that has not
    /// exec'd, such as a PID namespace's init) must never see it unmapped: unless the child
    /// has been reaped, that memory is leaked rather than freed.
    fn drop(&mut self) {
        if self.status.is_none() && !self.ended.get() {
            if let Some(keep) = self.keepalive.take() {
                std::mem::forget(keep);
            }
        }
    }
}

impl Child {
    pub(crate) fn new(
        pid: i32,
        pidfd: Option<OwnedFd>,
        exit_signal: i32,
        reaper: Reaper,
        parent_tid: Option<i32>,
    ) -> Child {
        Child {
            pid,
            pidfd,
            exit_signal,
            reaper,
            parent_tid,
            status: None,
            ended: std::cell::Cell::new(false),
            keepalive: None,
            notes: 0,
        }
    }

    pub(crate) fn set_notes(&mut self, notes: u32) {
        self.notes = notes;
    }

    /// Whether the program was started in "/" because the working directory asked for (by
    /// default the caller's) does not exist in its filesystem.
    pub fn started_in_root_instead(&self) -> bool {
        self.notes & cleave_child::Notes::CWD_FALLBACK != 0
    }

    /// Keeps memory the child may still use (its stack, its plan) until it is reaped.
    pub(crate) fn keep_alive(&mut self, what: Box<dyn Any + Send>) {
        self.keepalive = Some(what);
    }

    /// The child's PID (its TID for a CLONE_THREAD child), as seen from the caller's PID
    /// namespace.
    pub fn id(&self) -> i32 {
        self.pid
    }

    /// The TID the kernel stored with CLONE_PARENT_SETTID before clone returned.
    pub fn parent_tid(&self) -> Option<i32> {
        self.parent_tid
    }

    /// The pidfd (CLONE_PIDFD), close-on-exec.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    /// Takes ownership of the pidfd.
    pub fn take_pidfd(&mut self) -> Option<OwnedFd> {
        self.pidfd.take()
    }

    /// The signal the parent gets when the child ends (0: none).
    pub fn exit_signal(&self) -> i32 {
        self.exit_signal
    }

    /// Who reaps this child.
    pub fn reaper(&self) -> Reaper {
        self.reaper
    }

    /// The wait(2) option this child needs: none for SIGCHLD children; `__WALL` for "clone
    /// children" (any other exit signal, or none). `__WCLONE` alone is not enough: once such a
    /// child has exec'd, the kernel reports its exit with SIGCHLD and it is no longer a clone
    /// child (see the `wait_clone_children` example).
    pub fn wait_option(&self) -> i32 {
        if self.exit_signal == libc::SIGCHLD {
            0
        } else {
            libc::__WALL
        }
    }

    /// Waits for the child to end and reaps it.
    ///
    /// For a CLONE_PARENT or CLONE_THREAD child, which this process cannot reap, this fails
    /// with [`Error::NotWaitable`]; use [`Child::wait_exit`].
    pub fn wait(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        self.check_waitable()?;
        let options = libc::WEXITED | self.wait_option();
        let waited = match &self.pidfd {
            Some(fd) => raw::waitid(libc::P_PIDFD, fd.as_raw_fd() as u32, options),
            None => raw::waitid(libc::P_PID, self.pid as u32, options),
        }
        .map_err(|e| self.wait_error(e))?;
        let status = ExitStatus::from_waitid(waited.ok_or(self.wait_error(libc::ECHILD))?);
        self.reaped(status);
        Ok(status)
    }

    /// Reaps the child if it has ended, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        self.check_waitable()?;
        let options = libc::WEXITED | libc::WNOHANG | self.wait_option();
        let waited = match &self.pidfd {
            Some(fd) => raw::waitid(libc::P_PIDFD, fd.as_raw_fd() as u32, options),
            None => raw::waitid(libc::P_PID, self.pid as u32, options),
        }
        .map_err(|e| self.wait_error(e))?;
        Ok(waited.map(|w| {
            let s = ExitStatus::from_waitid(w);
            self.reaped(s);
            s
        }))
    }

    /// Blocks until the child has ended, without reaping it: polls the pidfd. Works for
    /// every child that has a pidfd, including CLONE_PARENT children.
    pub fn wait_exit(&self) -> Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let Some(fd) = &self.pidfd else {
            return Err(Error::NotWaitable {
                pid: self.pid,
                why: "awaiting the exit of a child this process does not reap needs its pidfd",
            });
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            #[allow(unsafe_code)]
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, -1) };
            if r >= 0 {
                self.ended.set(true);
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::Wait {
                    pid: self.pid,
                    source: e,
                });
            }
        }
    }

    /// Sends `signal` (through the pidfd when there is one, which cannot hit a recycled PID).
    pub fn signal(&self, signal: i32) -> Result<()> {
        if self.status.is_some() {
            return Err(Error::Signal {
                pid: self.pid,
                signal,
                source: io::Error::from_raw_os_error(libc::ESRCH),
            });
        }
        let r = match &self.pidfd {
            Some(fd) => raw::pidfd_send_signal(fd.as_raw_fd(), signal),
            None => {
                #[allow(unsafe_code)]
                // SAFETY: kill has no memory effects; the child is not reaped yet, so its PID
                // cannot have been reused.
                let r = unsafe { libc::kill(self.pid, signal) };
                if r == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error()
                        .raw_os_error()
                        .unwrap_or(libc::EIO))
                }
            }
        };
        r.map_err(|e| Error::Signal {
            pid: self.pid,
            signal,
            source: io::Error::from_raw_os_error(e),
        })
    }

    /// Sends SIGKILL.
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    fn check_waitable(&self) -> Result<()> {
        match self.reaper {
            Reaper::Caller => Ok(()),
            Reaper::CallersParent => Err(Error::NotWaitable {
                pid: self.pid,
                why: "it was created with CLONE_PARENT, so the caller's parent reaps it; use wait_exit() to await its end",
            }),
            Reaper::ThreadGroup => Err(Error::NotWaitable {
                pid: self.pid,
                why: "it is a thread of this process (CLONE_THREAD); threads are not waited for",
            }),
        }
    }

    fn wait_error(&self, errno: i32) -> Error {
        Error::Wait {
            pid: self.pid,
            source: io::Error::from_raw_os_error(errno),
        }
    }

    fn reaped(&mut self, status: ExitStatus) {
        self.status = Some(status);
        self.keepalive = None;
    }
}
