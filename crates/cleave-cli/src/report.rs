//! How the CLI reports errors, and its exit codes.
use cleave::Error;

/// The request is invalid (bad flag, impossible combination, bad argument).
pub const EXIT_BAD_REQUEST: i32 = 125;
/// The kernel refused, or setting up the child failed.
pub const EXIT_SETUP_FAILED: i32 = 126;
/// The program could not be found or executed.
pub const EXIT_EXEC_FAILED: i32 = 127;

/// Prints the error, its causes and its hint, and returns the exit code for it.
pub fn error(err: &Error) -> i32 {
    match err {
        Error::InvalidRequest { flags, violations } => {
            eprintln!("cleave: invalid clone request {flags}:");
            for v in violations {
                eprintln!("  {v}");
            }
        }
        other => eprintln!("cleave: {other}"),
    }
    if let Some(hint) = err.hint() {
        eprintln!("  hint: {hint}");
    }
    exit_code(err)
}

/// The documented exit code for an error.
pub fn exit_code(err: &Error) -> i32 {
    match err {
        Error::InvalidRequest { .. }
        | Error::ParseFlags(_)
        | Error::InvalidArgument { .. }
        | Error::NeedsClone3 { .. } => EXIT_BAD_REQUEST,
        Error::Exec { .. } => EXIT_EXEC_FAILED,
        // The target is not there: a bad request, unlike a refusal.
        Error::Enter { source, .. } if source.raw_os_error() == Some(libc::ESRCH) => {
            EXIT_BAD_REQUEST
        }
        _ => EXIT_SETUP_FAILED,
    }
}

/// Prints a usage problem found by the CLI itself.
pub fn bad_request(msg: &str) -> i32 {
    eprintln!("cleave: {msg}");
    EXIT_BAD_REQUEST
}
