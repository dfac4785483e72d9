//! The program's standard fds: what the caller asks for ([`Stdio`]), what it resolves to at
//! spawn, and the pipes and duplicates that carry it into the child.
use crate::error::{Error, Result};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// What to connect to one of the child's standard fds, as [`std::process::Stdio`] does.
///
/// Whatever end of a pipe or file the program gets is closed in this process as soon as
/// the program has started (or failed to), so that reading a pipe to its end ends when
/// the program (and whatever it passed the fd to) closes it.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The caller's own fd (the default of [`Command::spawn`](crate::Command::spawn) and [`Command::status`](crate::Command::status)).
    #[default]
    Inherit,
    /// `/dev/null`, opened for reading and writing.
    Null,
    /// A new pipe: the program gets one end, the [`Child`](crate::Child) the other, as
    /// [`Child::stdin`](crate::Child::stdin), [`Child::stdout`](crate::Child::stdout) or [`Child::stderr`](crate::Child::stderr).
    Piped,
    /// This fd, installed as 0, 1 or 2 in the program. It is moved into the first child
    /// spawned with it and closed in this process once that child has started: a later
    /// spawn of the same [`Command`](crate::Command) uses the default again unless it is given a new one.
    Fd(OwnedFd),
}

impl Stdio {
    /// A new pipe to the program (see [`Stdio::Piped`]).
    pub fn piped() -> Stdio {
        Stdio::Piped
    }

    /// `/dev/null`.
    pub fn null() -> Stdio {
        Stdio::Null
    }

    /// The caller's own fd.
    pub fn inherit() -> Stdio {
        Stdio::Inherit
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio::Fd(fd)
    }
}

impl From<std::fs::File> for Stdio {
    fn from(file: std::fs::File) -> Stdio {
        Stdio::Fd(file.into())
    }
}

impl From<std::process::ChildStdin> for Stdio {
    fn from(pipe: std::process::ChildStdin) -> Stdio {
        Stdio::Fd(pipe.into())
    }
}

impl From<std::process::ChildStdout> for Stdio {
    /// Another child's output as this program's input (or output): a pipeline.
    fn from(pipe: std::process::ChildStdout) -> Stdio {
        Stdio::Fd(pipe.into())
    }
}

impl From<std::process::ChildStderr> for Stdio {
    fn from(pipe: std::process::ChildStderr) -> Stdio {
        Stdio::Fd(pipe.into())
    }
}

/// One standard fd of the program, resolved at spawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Io {
    Inherit,
    Null,
    Piped,
    Fd(RawFd),
}

/// What [`Command::spawn`](crate::Command::spawn) and [`Command::status`](crate::Command::status) give an fd left unset.
pub(super) const INHERIT_ALL: [Io; 3] = [Io::Inherit; 3];
/// What [`Command::output`](crate::Command::output) gives an fd left unset (std's choice): no input, both outputs
/// captured.
pub(super) const CAPTURE: [Io; 3] = [Io::Null, Io::Piped, Io::Piped];

/// Each standard fd as asked for, or `defaults`.
pub(super) fn resolve(asked: &[Option<Stdio>; 3], defaults: [Io; 3]) -> [Io; 3] {
    std::array::from_fn(|i| match &asked[i] {
        None => defaults[i],
        Some(Stdio::Inherit) => Io::Inherit,
        Some(Stdio::Null) => Io::Null,
        Some(Stdio::Piped) => Io::Piped,
        Some(Stdio::Fd(f)) => Io::Fd(f.as_raw_fd()),
    })
}

/// The program's fds 0, 1 and 2 (-1: inherited), the fds that hold them until clone (each
/// the program's alone: close them right after clone), and this process's end of each pipe.
pub(super) type Opened = ([RawFd; 3], Vec<OwnedFd>, [Option<OwnedFd>; 3]);

/// Opens what `io` asks for: pipes, /dev/null, and sources moved above 2 when they would be
/// overwritten before use.
pub(super) fn open(io: &[Io; 3]) -> Result<Opened> {
    let mut holders: Vec<OwnedFd> = Vec::new();
    let mut parent_ends: [Option<OwnedFd>; 3] = Default::default();
    let mut stdio = [-1; 3];
    for (i, s) in io.iter().enumerate() {
        let fd = match *s {
            Io::Inherit => continue,
            Io::Piped => {
                let (r, w) = pipe_cloexec().map_err(|e| prepare("create a pipe for stdio", e))?;
                let (theirs, ours) = if i == 0 { (r, w) } else { (w, r) };
                parent_ends[i] = Some(ours);
                holders.push(theirs);
                holders.last().map(|f| f.as_raw_fd()).unwrap_or(-1)
            }
            Io::Null => {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/null")
                    .map_err(|e| prepare("open /dev/null", e))?;
                holders.push(f.into());
                holders.last().map(|f| f.as_raw_fd()).unwrap_or(-1)
            }
            Io::Fd(fd) => fd,
        };
        let fd = if fd < 3 && fd != i as i32 {
            let dup = f_dupfd_cloexec(fd).map_err(|e| prepare("duplicate a stdio fd", e))?;
            let raw = dup.as_raw_fd();
            holders.push(dup);
            raw
        } else {
            fd
        };
        stdio[i] = fd;
    }
    Ok((stdio, holders, parent_ends))
}

pub(super) fn prepare(what: &str, source: io::Error) -> Error {
    Error::Prepare {
        what: what.to_string(),
        source,
    }
}

pub(super) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// A close-on-exec duplicate of `fd` numbered 3 or above. `fd` belongs to a value the
/// caller holds (a stdio holder or the command's own `Stdio::Fd`), open for this call.
fn f_dupfd_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    #[allow(unsafe_code)]
    // SAFETY: the caller's value keeps `fd` open for the duration of this call.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 3)?)
}
