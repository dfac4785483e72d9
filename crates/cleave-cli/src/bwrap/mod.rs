//! bubblewrap 0.8's command line, a thin front end onto [`cleave::sandbox`]: reached as
//! `cleave bwrap ...` or through a link named `bwrap`. [`parse`] reads the options in
//! bubblewrap's order, [`lower`] fills a `SandboxSpec` with their meaning, [`run`] supervises
//! the sandbox. Failures of cleave's own exit with 1, as bubblewrap's do.
mod help;
mod lower;
mod parse;
mod run;

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};

/// Whether this binary was run under the name `bwrap`.
pub fn invoked_as_bwrap() -> bool {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == "bwrap"))
        .unwrap_or(false)
}

/// Runs a bubblewrap command line (argv without argv[0]); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    // Before anything here opens a descriptor: what the caller handed over.
    let inherited = run::inherited_fds();
    let level_prefix = args.iter().any(|a| a == "--level-prefix");
    let inv = match parse::parse(args, &mut read_args) {
        Ok(inv) => inv,
        Err(parse::Usage(msg)) => return run::fail(level_prefix, &msg),
    };
    if inv.help {
        print!("{}", help::HELP);
        return 0;
    }
    if inv.version {
        println!("bubblewrap 0.8.0 (cleave {})", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    run::run(inv, &inherited)
}

/// The words of an `--args FD`: read to its end, then closed (bubblewrap closes it too).
fn read_args(fd: i32) -> Result<Vec<OsString>, String> {
    cleave::fd::check_open(fd).map_err(|e| e.named("--args"))?;
    // SAFETY: the fd is open and handed over to be consumed: --args takes ownership of it.
    #[allow(unsafe_code)]
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut data = Vec::new();
    std::fs::File::from(owned)
        .read_to_end(&mut data)
        .map_err(|e| format!("--args {fd}: cannot read it: {e}"))?;
    Ok(parse::split_args(&data))
}
