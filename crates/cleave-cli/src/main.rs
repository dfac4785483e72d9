//! `cleave`: spawn programs with exactly the clone() flags and namespaces you choose.
#![deny(unsafe_code)]
// cleave's own `main` (see below) instead of std's runtime start-up; under `cargo test` the
// test harness has the entry point.
#![cfg_attr(not(test), no_main)]

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
mod registry;
mod report;
mod runc;

use clap::{CommandFactory, FromArgMatches};

/// The C entry point, in place of std's: std's start-up reads /proc/self/maps (the main
/// thread's stack bounds, for a guard page the kernel already provides), maps an alternate
/// signal stack and installs SIGSEGV and SIGBUS handlers, only to print "stack overflow"
/// where the kernel's SIGSEGV ends cleave anyway: about a dozen syscalls and 50 µs of every
/// sandbox's start (issue 13). What of it cleave needs is done here: fds 0-2 open (so that
/// no descriptor cleave opens can become the program's stdio) and SIGPIPE ignored (a write
/// to a closed pipe is an error cleave reports, not its death). std::env::args_os works
/// without std's start-up on Linux (the C library hands the arguments to std's init hook).
#[cfg(not(test))]
#[allow(unsafe_code)]
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    start_up();
    run()
}

/// The test harness replaces this one; it keeps the same code reachable in a test build.
#[cfg(test)]
fn main() {
    start_up();
    run();
}

#[allow(unsafe_code)]
fn start_up() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll(2) on a local array of three pollfds; open(2) of a constant path; signal(2)
    // setting a disposition before any thread exists.
    unsafe {
        let polled = libc::poll(fds.as_mut_ptr(), 3, 0) >= 0;
        for p in &fds {
            let closed = if polled {
                p.revents & libc::POLLNVAL != 0
            } else {
                libc::fcntl(p.fd, libc::F_GETFD) < 0
            };
            // The lowest free descriptor: the closed one.
            if closed && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) < 0 {
                libc::abort();
            }
        }
        // The caller's own disposition is the programs' (DESIGN.md section 3): CLONE_CLEAR_SIGHAND
        // and execve would keep cleave's SIG_IGN.
        if libc::signal(libc::SIGPIPE, libc::SIG_IGN) != libc::SIG_IGN {
            cleave::set_program_default_signals(1 << (libc::SIGPIPE - 1));
        }
    }
}

fn run() -> libc::c_int {
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
    // `cleave spawn ...` builds spawn's arguments alone; anything else the whole tree.
    // The mount options' positions are read first, so that the matches are taken apart
    // without a copy.
    if args.first().is_some_and(|a| a == "spawn") {
        let mut matches = cli::SpawnCli::command()
            .try_get_matches()
            .unwrap_or_else(|e| usage_exit(e));
        let positions = cmd::spawn::Positions::of(matches.subcommand_matches("spawn"));
        let cli =
            cli::SpawnCli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| usage_exit(e));
        let cli::SpawnVerb::Spawn(a) = cli.command;
        std::process::exit(cmd::spawn::run(*a, positions));
    }
    drop(args);
    let (cli, matches) = parse::<cli::Cli>();
    let code = match cli.command {
        cli::Verb::Spawn(args) => {
            let positions = cmd::spawn::Positions::of(matches.subcommand_matches("spawn"));
            cmd::spawn::run(*args, positions)
        }
        cli::Verb::Explain(args) => cmd::explain::run(args),
        cli::Verb::Inspect(args) => cmd::inspect::run(args),
        cli::Verb::Enter(args) => cmd::enter::run(args),
        cli::Verb::Completions(args) => cmd::docs::completions(args),
        cli::Verb::Man(args) => cmd::docs::man(args),
    };
    std::process::exit(code);
}

/// The command line parsed by `C`, or exit: 0 after --help and --version, 125 after a usage
/// error, with clap's message.
fn parse<C: CommandFactory + FromArgMatches>() -> (C, clap::ArgMatches) {
    let parsed = C::command()
        .try_get_matches()
        .and_then(|m| C::from_arg_matches(&m).map(|c| (c, m)));
    parsed.unwrap_or_else(|e| usage_exit(e))
}

/// clap's message for `e`, then exit: 0 after --help and --version, else 125.
fn usage_exit(e: clap::Error) -> ! {
    let code = match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
        _ => report::EXIT_BAD_REQUEST,
    };
    let _ = e.print();
    std::process::exit(code);
}

#[allow(unsafe_code)]
fn reset_sigchld() {
    // SAFETY: setting a signal's disposition to SIG_DFL at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    }
}
