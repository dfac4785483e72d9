//! The options of `cleave completions` and `cleave man`.
use clap::Args;
use std::path::PathBuf;

const COMPLETIONS_HELP: &str = "\
Install (as root, for every user; or source the output from your shell's rc file):
  cleave completions bash > /usr/share/bash-completion/completions/cleave
  cleave completions zsh  > /usr/local/share/zsh/site-functions/_cleave
  cleave completions fish > /usr/share/fish/vendor_completions.d/cleave.fish
The scripts cover cleave's own verbs (spawn, explain, inspect, enter, completions, man);
the runc verbs (create, start, ...) are for container engines and are not completed.";

#[derive(Args, Debug)]
#[command(after_help = COMPLETIONS_HELP)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh or fish
    #[arg(value_name = "SHELL", value_parser = ["bash", "zsh", "fish"])]
    pub shell: String,
}

const MAN_HELP: &str = "\
Examples:
  cleave man spawn | man -l -                 # read one page now
  cleave man --dir /usr/local/share/man/man1  # install cleave.1 and cleave-VERB.1 for each verb
  mandb -q; man cleave-spawn";

#[derive(Args, Debug)]
#[command(after_help = MAN_HELP)]
pub struct ManArgs {
    /// The verb whose page to print (spawn, explain, inspect, enter, completions, man);
    /// without it, cleave's own page
    #[arg(value_name = "VERB", conflicts_with = "dir")]
    pub verb: Option<String>,
    /// Write every page (cleave.1, cleave-spawn.1, ...) into DIR instead, and list them
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}
