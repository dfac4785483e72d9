//! `cleave completions` and `cleave man`: shell completion scripts and man pages, generated
//! from the same clap definitions that parse the command line, so they cannot drift from it.
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::report;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

/// Prints the completion script for the shell asked for.
pub fn completions(a: CompletionsArgs) -> i32 {
    let shell = match a.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cleave", &mut out);
    write_stdout(&out)
}

/// Prints one man page (cleave's, or a verb's), or writes every page into a directory.
pub fn man(a: ManArgs) -> i32 {
    // `cleave help VERB` is --help's twin, with no page of its own.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Builds the tree: each verb's display name becomes `cleave-VERB`, its page's name.
    cmd.build();
    if let Some(dir) = a.dir {
        let mut pages = vec![cmd.clone()];
        pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        for page in pages {
            match clap_mangen::Man::new(page).generate_to(&dir) {
                Ok(path) => println!("{}", path.display()),
                Err(e) => {
                    return report::bad_request(&format!(
                        "man --dir {}: {e}; give an existing directory you can write to",
                        dir.display()
                    ))
                }
            }
        }
        return 0;
    }
    let page = match a.verb.as_deref() {
        None => cmd,
        Some(verb) => match cmd.find_subcommand(verb) {
            Some(sub) if !sub.is_hide_set() => sub.clone(),
            _ => {
                let verbs: Vec<&str> = cmd
                    .get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .map(|s| s.get_name())
                    .collect();
                return report::bad_request(&format!(
                    "man {verb}: no such verb; choose one of {}",
                    verbs.join(", ")
                ));
            }
        },
    };
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page).render(&mut out) {
        return report::bad_request(&format!("man: {e}"));
    }
    write_stdout(&out)
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a message.
fn write_stdout(bytes: &[u8]) -> i32 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("cleave: failed to write to stdout: {e}");
            1
        }
    }
}
