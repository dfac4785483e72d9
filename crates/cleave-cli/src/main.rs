//! `cleave`: spawn programs with exactly the clone() flags and namespaces you choose.
#![deny(unsafe_code)]

/// std's `eprintln!` panics when stderr is gone (a closed pipe: `cleave spawn -v ... 2>&1 |
/// head -1`), and a supervisor that dies that way leaves its sandbox behind: cleave's
/// messages are written where they can be, and lost where they cannot.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod bwrap;
mod cli;
mod cli_mounts;
mod cmd;
mod report;
mod runc;

use clap::{CommandFactory, FromArgMatches};

fn main() {
    // A caller that ignores SIGCHLD would have the kernel reap cleave's children before
    // cleave can wait for them; programs then start with the default too.
    reset_sigchld();
    // runc's command line (global options, then an OCI verb) goes to its own parser.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // bubblewrap's command line: run as `bwrap`, or `cleave bwrap ...`.
    if bwrap::invoked_as_bwrap() {
        std::process::exit(bwrap::main(args));
    }
    if args.first().is_some_and(|a| a == "bwrap") {
        std::process::exit(bwrap::main(args[1..].to_vec()));
    }
    if runc::wants(&args) {
        std::process::exit(runc::main(args));
    }
    let parsed = cli::Cli::command()
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => report::EXIT_BAD_REQUEST,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match cli.command {
        cli::Verb::Spawn(args) => cmd::spawn::run(*args, matches.subcommand_matches("spawn")),
        cli::Verb::Explain(args) => cmd::explain::run(args),
        cli::Verb::Inspect(args) => cmd::inspect::run(args),
        cli::Verb::Enter(args) => cmd::enter::run(args),
        cli::Verb::Completions(args) => cmd::docs::completions(args),
        cli::Verb::Man(args) => cmd::docs::man(args),
    };
    std::process::exit(code);
}

#[allow(unsafe_code)]
fn reset_sigchld() {
    // SAFETY: setting a signal's disposition to SIG_DFL at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    }
}
