//! How the CLI reports errors, and its exit codes.
use crate::cmd::spawn::Labels;
use cleave::error::{IdKind, IdMapProblem, Origin, Problem};
use cleave::Error;

/// The request is invalid (bad flag, impossible combination, bad argument).
pub const EXIT_BAD_REQUEST: i32 = 125;
/// The kernel refused, or setting up the child failed.
pub const EXIT_SETUP_FAILED: i32 = 126;
/// The program could not be found or executed.
pub const EXIT_EXEC_FAILED: i32 = 127;

/// Prints an error of a sandbox specification in the command line's words: the option a
/// problem came from, and what to add.
pub fn error_at(err: &Error, labels: &Labels) -> i32 {
    match err {
        // "--umask 1000: give at most 777": the option and its value.
        Error::Invalid {
            origin,
            problem: Problem::Range(e),
        } => eprintln!("cleave: {}", e.named(&labels.name(origin))),
        // "--group 5 is not mapped ...": the option with the group that is not.
        Error::Invalid {
            origin: Origin::Groups,
            problem: problem @ Problem::NotMapped(g),
        } => eprintln!("cleave: --group {g} {}", labels.problem(problem)),
        Error::Invalid { origin, problem } => {
            // "--uid 7 is not mapped ...": the value is the subject of the sentence.
            let sep = if matches!(problem, cleave::error::Problem::NotMapped(_)) {
                " "
            } else {
                ": "
            };
            // A limit names the one option it came from.
            let name = match (origin, problem) {
                (cleave::error::Origin::Limits, cleave::error::Problem::Limit(p)) => {
                    Labels::limit(p).to_string()
                }
                _ => labels.name(origin),
            };
            eprintln!("cleave: {name}{sep}{}", labels.problem(problem));
        }
        Error::ChildSetup {
            step,
            origin: Some(origin),
            source,
        } => {
            eprintln!(
                "cleave: child setup failed: {}: {step} ({})",
                labels.name(origin),
                errno_text(source)
            );
        }
        Error::IdMapping(
            p @ (IdMapProblem::BadRange { kind, .. }
            | IdMapProblem::TooMany { kind, .. }
            | IdMapProblem::Overlap { kind, .. }),
        ) => {
            let option = match kind {
                IdKind::User => "--map-user",
                _ => "--map-group",
            };
            eprintln!("cleave: {option}: {p}");
        }
        Error::Exec { program, source }
            if source.raw_os_error() == Some(libc::ENOENT) && !program.contains('/') =>
        {
            eprintln!("cleave: {err}");
            eprintln!("  hint: {}", labels.not_found(program));
            return exit_code(err);
        }
        _ => return error(err),
    }
    if let Some(hint) = err.hint() {
        eprintln!("  hint: {}", in_cli_words(&hint));
    }
    exit_code(err)
}

/// The library's advice, with the options of this command line named where the library
/// speaks of what they set.
fn in_cli_words(hint: &str) -> String {
    [
        ("ask for a new user namespace too", "add user to --new"),
        ("ask for a new PID namespace too", "add pid to --new"),
        ("give a cgroup parent:", "pass --cgroup-parent DIR,"),
        (
            "mount a tmpfs over its parent first",
            "mount a --tmpfs over its parent first",
        ),
        (
            "keep CAP_SETFCAP for this process",
            "keep CAP_SETFCAP for this process (in an outer cleave sandbox: --cap-add SETFCAP)",
        ),
        (
            "run it as a uid other than 0 and map that one",
            "run it as a uid other than 0 (the outer sandbox's --uid) and map that one (--map-current)",
        ),
        (
            "ranges need newuidmap and /etc/subuid",
            "use --map-auto for ranges from /etc/subuid",
        ),
    ]
    .iter()
    .fold(hint.to_string(), |h, (lib, cli)| h.replace(lib, cli))
}

fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!(
            "{}: {}",
            cleave::flags::rules::errno_name(n),
            std::io::Error::from_raw_os_error(n)
                .to_string()
                .split(" (os error")
                .next()
                .unwrap_or_default()
        ),
        None => e.to_string(),
    }
}

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
        eprintln!("  hint: {}", in_cli_words(&hint));
    }
    exit_code(err)
}

/// The documented exit code for an error.
pub fn exit_code(err: &Error) -> i32 {
    match err {
        Error::InvalidRequest { .. }
        | Error::ParseFlags(_)
        | Error::Invalid { .. }
        | Error::NeedsClone3 { .. }
        | Error::OutOfRange(_)
        | Error::IdMapping(_)
        | Error::Limit(_)
        | Error::CgroupRequest(_)
        | Error::Capability(_)
        | Error::Rlimit(_)
        | Error::Target(_)
        | Error::Request(_) => EXIT_BAD_REQUEST,
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
