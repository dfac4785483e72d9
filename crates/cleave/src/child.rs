//! [`Child`]: a created (or adopted) process or task, its pidfd, and how to wait for it.
use crate::error::{Error, Result};
use crate::raw;
use rustix::event::{PollFd, PollFlags};
use std::any::Any;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::process::{ChildStderr, ChildStdin, ChildStdout};

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
    /// Another process: an [adopted](Child::adopt) process that is not a child of this one.
    /// This process can await its end through the pidfd and signal it, but gets no status.
    Other,
}

impl Reaper {
    /// Why this process cannot collect the status of a child with this reaper.
    pub(crate) fn why_not_here(self) -> &'static str {
        match self {
            Reaper::Caller => "this process reaps it",
            Reaper::CallersParent => "CLONE_PARENT gives its exit status to this process's parent; await its end with Child::wait_exit",
            Reaper::ThreadGroup => "CLONE_THREAD makes it a thread of this process, which nobody waits for; await its end with Child::wait_exit",
            Reaper::Other => "it is not a child of this process; await its end with Child::wait_exit",
        }
    }
}

/// What a finished program wrote and how it ended: the result of [`Child::wait_with_output`]
/// and [`crate::Command::output`], as [`std::process::Output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout (empty unless stdout was piped).
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr (empty unless stderr was piped).
    pub stderr: Vec<u8>,
}

/// A child created by cleave, or a process [adopted](Child::adopt) by PID.
#[derive(Debug)]
pub struct Child {
    /// The writing end of the program's stdin, when it was [piped](crate::Stdio::Piped).
    /// Dropping it (take it first) closes the pipe: the program reads end-of-file.
    pub stdin: Option<ChildStdin>,
    /// The reading end of the program's stdout, when it was [piped](crate::Stdio::Piped).
    pub stdout: Option<ChildStdout>,
    /// The reading end of the program's stderr, when it was [piped](crate::Stdio::Piped).
    pub stderr: Option<ChildStderr>,
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
            stdin: None,
            stdout: None,
            stderr: None,
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

    /// A handle for process `pid`, which this process need not have created (or not in
    /// this run): the handle an OCI runtime's `kill` or `delete` needs for the container
    /// its `create` started and left running.
    ///
    /// It holds a pidfd (pidfd_open(2), Linux 5.3+) taken now, so a later [`Child::signal`]
    /// (pidfd_send_signal) or [`Child::wait_exit`] (poll) reaches this process even if the
    /// PID is reused after it ends. When the process is a child of this one,
    /// [`Child::wait`] reaps it and gives its status; otherwise [`Child::reaper`] is
    /// [`Reaper::Other`] and only `wait_exit` can await its end. `pid` must be a process
    /// (a thread group leader), not another thread's TID.
    pub fn adopt(pid: i32) -> Result<Child> {
        let adopt_error = |errno| Error::Adopt {
            pid,
            source: io::Error::from_raw_os_error(errno),
        };
        if pid <= 0 {
            return Err(adopt_error(libc::EINVAL));
        }
        let pidfd = raw::pidfd_open(pid).map_err(adopt_error)?;
        // Only our own children can be waited for: waitid answers ECHILD for any other
        // process. WNOWAIT leaves an ended child for the wait that reaps it.
        let probe = raw::waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as u32,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        );
        let reaper = match probe {
            Ok(_) => Reaper::Caller,
            Err(libc::ECHILD) => Reaper::Other,
            Err(e) => return Err(adopt_error(e)),
        };
        let exit_signal = exit_signal_of(pid);
        // The /proc entry read above belongs to this process only if it has not been
        // reaped since pidfd_open (else the PID may name another process by now).
        let exit_signal = match raw::pidfd_send_signal(pidfd.as_raw_fd(), 0) {
            Ok(()) => exit_signal,
            Err(_) => None,
        };
        Ok(Child::new(
            pid,
            Some(pidfd),
            exit_signal.unwrap_or(0),
            reaper,
            None,
        ))
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
            return Err(Error::NoPidfd { pid: self.pid });
        };
        loop {
            let mut pfd = [PollFd::new(fd, PollFlags::IN)];
            match rustix::event::poll(&mut pfd, None) {
                Ok(_) => {
                    self.ended.set(true);
                    return Ok(());
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    return Err(Error::Wait {
                        pid: self.pid,
                        source: e.into(),
                    })
                }
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
                // rustix lacks signal 0 and unnamed (real-time) signals without unsafe.
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

    /// Closes the program's stdin (if piped), reads its stdout and stderr (if piped) to
    /// their ends, both at once so that neither pipe can fill and stall the program, then
    /// waits for it, as [`std::process::Child::wait_with_output`]. A read that fails is
    /// reported as [`Error::Wait`].
    pub fn wait_with_output(mut self) -> Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) =
            read_both(self.stdout.take(), self.stderr.take()).map_err(|e| Error::Wait {
                pid: self.pid,
                source: e,
            })?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    fn check_waitable(&self) -> Result<()> {
        match self.reaper {
            Reaper::Caller => Ok(()),
            reaper => Err(Error::NotWaitable {
                pid: Some(self.pid),
                reaper,
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

/// The exit signal of process `pid` (field 38 of /proc/PID/stat), if it can be read.
fn exit_signal_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces and parentheses) start at 3.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace()
        .nth(38 - 3)
        .and_then(|f| f.parse().ok())
}

/// Reads both pipes to their ends at once (poll(2)), so that a program that fills one
/// while this process waits on the other cannot stall.
fn read_both(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    use std::io::Read;
    let mut files: [Option<std::fs::File>; 2] = [
        stdout.map(|p| OwnedFd::from(p).into()),
        stderr.map(|p| OwnedFd::from(p).into()),
    ];
    let mut bufs = [Vec::new(), Vec::new()];
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let mut pfds = Vec::with_capacity(2);
        let mut which = Vec::with_capacity(2);
        for (i, f) in files.iter().enumerate() {
            if let Some(f) = f {
                pfds.push(PollFd::new(f, PollFlags::IN));
                which.push(i);
            }
        }
        if pfds.is_empty() {
            return Ok((std::mem::take(&mut bufs[0]), std::mem::take(&mut bufs[1])));
        }
        match rustix::event::poll(&mut pfds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = pfds.iter().map(|p| !p.revents().is_empty()).collect();
        drop(pfds);
        for (&ready, &i) in ready.iter().zip(&which) {
            if !ready {
                continue;
            }
            let Some(f) = files[i].as_mut() else { continue };
            // poll said readable (or hung up): this read does not block.
            match f.read(&mut chunk) {
                Ok(0) => files[i] = None,
                Ok(n) => bufs[i].extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
