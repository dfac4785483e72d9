//! runc's command line in the `cleave` binary: global options before the verb, then one of
//! the OCI runtime verbs (one file per verb, each a thin translation onto the library's
//! `container`, `cgroup`, `sandbox` and `enter` modules and `cleave_oci`).
//!
//! [`wants`] decides from argv whether a command line is runc's: its first word that is not
//! a global option is one of [`VERBS`] (the cleave verbs spawn/explain/inspect/enter have
//! other names, so no word is ambiguous), or it holds only global options and `-v`.
mod checkpoint;
pub mod cli;
mod common;
mod create;
mod criu;
mod delete;
mod events;
mod exec;
mod features;
mod hook_exec;
mod hooks;
mod kill;
mod list;
mod log;
mod pause;
mod ps;
mod restore;
mod resume;
mod run;
mod sandbox_ckpt;
mod spec;
mod start;
mod state;
mod update;

use clap::{CommandFactory, FromArgMatches};
use cli::RuncVerb;
use std::ffi::OsString;

/// runc's verbs.
pub const VERBS: &[&str] = &[
    "create",
    "start",
    "run",
    "state",
    "kill",
    "delete",
    "exec",
    "pause",
    "resume",
    "ps",
    "list",
    "spec",
    "features",
    "update",
    "events",
    "hook-exec",
    "checkpoint",
    "restore",
];

/// Global options that take a value.
/// Every signal but SIGKILL and SIGSTOP (bit N-1 for signal N), whose actions cannot change.
const CATCHABLE_SIGNALS: u64 = !((1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1)));

const VALUED: &[&str] = &["--root", "--log", "--log-format", "--rootless", "--criu"];
/// Global options that take none.
const SWITCHES: &[&str] = &["--debug", "--systemd-cgroup", "-v", "--version"];

/// Whether argv (without argv[0]) is runc's command line.
pub fn wants(args: &[OsString]) -> bool {
    let mut saw_global = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        let long = normalize_dash(&a);
        let name = long.split('=').next().unwrap_or_default();
        if VALUED.contains(&name) {
            saw_global = true;
            i += if long.contains('=') { 1 } else { 2 };
            continue;
        }
        if SWITCHES.contains(&name) {
            saw_global = true;
            i += 1;
            continue;
        }
        return saw_global || VERBS.contains(&a.as_ref());
    }
    saw_global
}

/// `-root` (Go's single-dash long form) as `--root`; anything else unchanged.
fn normalize_dash(a: &str) -> String {
    if a.len() > 2 && a.starts_with('-') && !a.starts_with("--") {
        format!("-{a}")
    } else {
        a.to_string()
    }
}

/// Rewrites Go's single-dash long options (`-no-subreaper`, `-bundle`) into clap's
/// `--no-subreaper` where `--NAME` is an option of the global set or of the verb; stops at
/// `--` and at the verb's first positional argument, so a program's own arguments stay.
fn normalize(cmd: &clap::Command, args: Vec<OsString>) -> Vec<OsString> {
    let known = |c: &clap::Command, name: &str| -> Option<bool> {
        c.get_arguments()
            .find(|a| a.get_long() == Some(name))
            .map(|a| a.get_action().takes_values())
    };
    let mut out = Vec::with_capacity(args.len());
    let mut verb: Option<clap::Command> = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let Some(s) = arg.to_str().map(str::to_string) else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            out.push(arg);
            break;
        }
        let scope = verb.as_ref().unwrap_or(cmd);
        if s.starts_with('-') && s.len() > 1 {
            let fixed = normalize_dash(&s);
            let name = fixed
                .trim_start_matches('-')
                .split('=')
                .next()
                .unwrap_or_default()
                .to_string();
            let takes = if fixed.starts_with("--") {
                known(scope, &name)
            } else {
                None
            };
            match takes {
                Some(takes) => {
                    out.push(if s.starts_with("--") {
                        arg
                    } else {
                        fixed.clone().into()
                    });
                    if takes && !fixed.contains('=') {
                        if let Some(v) = it.next() {
                            out.push(v);
                        }
                    }
                }
                None => {
                    // A short option: its value may follow.
                    let short = s
                        .chars()
                        .nth(1)
                        .filter(|_| s.len() == 2 && !s.starts_with("--"));
                    let takes = short.and_then(|c| {
                        scope
                            .get_arguments()
                            .find(|a| a.get_short() == Some(c))
                            .map(|a| a.get_action().takes_values())
                    });
                    out.push(arg);
                    if takes == Some(true) {
                        if let Some(v) = it.next() {
                            out.push(v);
                        }
                    }
                }
            }
            continue;
        }
        out.push(arg);
        if verb.is_none() {
            match cmd.find_subcommand(&s) {
                Some(sub) => verb = Some(sub.clone()),
                None => break,
            }
        } else {
            // The verb's first positional: what follows is the container's or a program's.
            break;
        }
    }
    out.extend(it);
    out
}

/// Runs runc's command line (argv without argv[0]); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    // A container's processes start with every signal at its default action, as runc's do:
    // a signal its caller ignored (a shell's `trap '' PIPE`, a Rust test harness's SIGPIPE)
    // stays ignored across execve and would otherwise reach the container's programs.
    cleave::set_program_default_signals(CATCHABLE_SIGNALS);
    // Built once: the definition of every verb is most of the CLI's own start-up cost.
    let mut cmd = cli::Runc::command();
    let args = normalize(&cmd, args);
    let mut argv = vec![OsString::from("cleave")];
    argv.extend(args);
    let parsed = cmd
        .try_get_matches_from_mut(argv)
        .and_then(|m| cli::Runc::from_arg_matches(&m));
    // Never dropped: freeing every verb's definition, one allocation at a time, costs more
    // than the verb itself; the process ends soon and the memory goes with it.
    std::mem::forget(cmd);
    let runc = match parsed {
        Ok(r) => r,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp => 0,
                _ => crate::report::EXIT_BAD_REQUEST,
            };
            let _ = e.print();
            return code;
        }
    };
    if let Err(msg) = log::init(&runc.global) {
        eprintln!("cleave: {msg}");
        return crate::report::EXIT_BAD_REQUEST;
    }
    if runc.global.version {
        print!("{}", version());
        return 0;
    }
    let Some(verb) = runc.verb else {
        let _ = cli::Runc::command().print_help();
        return crate::report::EXIT_BAD_REQUEST;
    };
    let ctx = match common::Ctx::new(&runc.global) {
        Ok(c) => c,
        Err(f) => return f.report(),
    };
    log::debug(&format!("{verb:?}"));
    let result = match verb {
        RuncVerb::Create(a) => create::run(&ctx, a),
        RuncVerb::Start(a) => start::run(&ctx, a),
        RuncVerb::Run(a) => run::run(&ctx, a),
        RuncVerb::State(a) => state::run(&ctx, a),
        RuncVerb::Kill(a) => kill::run(&ctx, a),
        RuncVerb::Delete(a) => delete::run(&ctx, a),
        RuncVerb::Exec(a) => exec::run(&ctx, a),
        RuncVerb::Pause(a) => pause::run(&ctx, a),
        RuncVerb::Resume(a) => resume::run(&ctx, a),
        RuncVerb::Ps(a) => ps::run(&ctx, a),
        RuncVerb::List(a) => list::run(&ctx, a),
        RuncVerb::Spec(a) => spec::run(a),
        RuncVerb::Features(_) => features::run(),
        RuncVerb::Update(a) => update::run(&ctx, a),
        RuncVerb::Events(a) => events::run(&ctx, a),
        RuncVerb::HookExec(a) => hook_exec::run(a),
        RuncVerb::Checkpoint(a) => checkpoint::run(&ctx, a, runc.global.criu.as_deref()),
        RuncVerb::Restore(a) => restore::run(&ctx, a, runc.global.criu.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(f) => f.report(),
    }
}

/// `cleave -v`, in runc's shape.
pub fn version() -> String {
    format!(
        "cleave version {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        cleave_oci::OCI_VERSION_MAX
    )
}
