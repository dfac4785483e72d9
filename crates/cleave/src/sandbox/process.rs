//! The program's process, last before exec: its umask, its controlling terminal and the
//! start barrier, checked and lowered into steps.
//!
//! Order, and why: the terminal comes with the new session ([`Stage::Session`]), right
//! after the init forks the program's process; the umask after the ids and capabilities
//! ([`Stage::Umask`]), so that every directory and node cleave made for the sandbox keeps
//! the mode it was given; the barrier last of all ([`Stage::Start`]), so that a `create`
//! that returns has seen every setup step succeed. Only the seccomp filters, the stdio
//! fds, closing inherited fds, the signal mask and exec come after it: none of them can
//! block, and the filters come after so that they need not allow the read(2) the barrier
//! makes (an OCI filter is the user's and may refuse it).
use super::prepare::Stage;
use super::spec::Process;
use crate::error::{Error, Origin, Problem, RangeError, Result};
use crate::plan::Step;
use cleave_child::Op;

fn invalid(origin: Origin, problem: impl Into<Problem>) -> Error {
    Error::Invalid {
        origin,
        problem: problem.into(),
    }
}

/// Checks the umask, the terminal and the barrier fd.
pub(super) fn check(p: &Process) -> Result<()> {
    if let Some(mask) = p.umask {
        if mask > 0o777 {
            return Err(invalid(
                Origin::Umask,
                RangeError::new("umask", format!("{mask:o}"), "give at most 777 (octal)"),
            ));
        }
    }
    if let Some(fd) = p.start_barrier {
        crate::fd::check_open(fd).map_err(|e| invalid(Origin::StartBarrier, e))?;
    }
    if let Some(fd) = p.terminal {
        crate::fd::check_open(fd).map_err(|e| invalid(Origin::Terminal, e))?;
        // SAFETY: isatty on a number.
        #[allow(unsafe_code)]
        if unsafe { libc::isatty(fd) } != 1 {
            return Err(invalid(Origin::Terminal, Problem::NotATerminal(fd)));
        }
    }
    Ok(())
}

/// The steps, each with its stage. `new_session`: the security settings already start a
/// new session (one setsid serves both).
pub(super) fn steps(p: &Process, new_session: bool) -> Vec<(Stage, Step)> {
    let mut out = Vec::new();
    if let Some(fd) = p.terminal {
        if !new_session {
            out.push((
                Stage::Session,
                Step::new(Op::Setsid, "setsid").at(Origin::Terminal),
            ));
        }
        out.push((
            Stage::Session,
            Step::new(
                Op::ControllingTerminal { fd },
                "make the terminal the controlling terminal",
            )
            .at(Origin::Terminal),
        ));
    }
    if let Some(mask) = p.umask {
        out.push((
            Stage::Umask,
            Step::new(Op::Umask { mask }, format!("set the umask to {mask:03o}")).at(Origin::Umask),
        ));
    }
    if let Some(fd) = p.start_barrier {
        out.push((
            Stage::Start,
            Step::new(
                Op::WaitForStart { fd },
                format!("wait for the go-ahead on fd {fd}"),
            )
            .at(Origin::StartBarrier),
        ));
    }
    out
}
