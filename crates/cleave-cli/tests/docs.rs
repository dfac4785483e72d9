//! Shell completions and man pages (issue 12), generated from the same clap definitions that
//! parse the command line: each script parses in its shell and each page in groff, and every
//! option that `--help` lists is in them. (clap's own tests check the generators' syntax;
//! these check that cleave's every option reaches them.)
mod support;
use std::process::Command;
use support::*;

const VERBS: [&str; 6] = ["spawn", "explain", "inspect", "enter", "completions", "man"];

/// The long options `cleave VERB --help` defines (the lines that start with an option).
fn options(verb: &str) -> Vec<String> {
    let help = text(&cleave(&[verb, "--help"]).stdout);
    let mut out = Vec::new();
    for line in help.lines() {
        let line = line.trim_start();
        if !line.starts_with('-') {
            continue;
        }
        for word in line.split([' ', ',', '=', '<', '[']) {
            if let Some(name) = word.strip_prefix("--") {
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    out.push(name.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    assert!(
        !out.is_empty(),
        "no options read from `cleave {verb} --help`: {help}"
    );
    out
}

/// Runs `shell -n` on the script: it parses.
fn parses(shell: &str, script: &[u8]) {
    let path =
        std::env::temp_dir().join(format!("cleave-completion-{}.{shell}", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let o = Command::new(shell).arg("-n").arg(&path).output();
    let _ = std::fs::remove_file(&path);
    let o = o.unwrap_or_else(|e| panic!("run {shell} (scripts/test.sh installs it): {e}"));
    assert!(o.status.success(), "{shell} -n: {}", text(&o.stderr));
}

#[test]
fn completions_parse_and_name_every_option() {
    for shell in ["bash", "zsh", "fish"] {
        let o = cleave(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        if shell != "fish" {
            parses(shell, &o.stdout);
        }
        let script = text(&o.stdout);
        for verb in VERBS {
            assert!(script.contains(verb), "{shell}: no verb {verb}");
            for opt in options(verb) {
                // bash and zsh write `--NAME`, fish `-l NAME`.
                let found =
                    script.contains(&format!("--{opt}")) || script.contains(&format!("-l {opt}"));
                assert!(found, "{shell}: `cleave {verb} --{opt}` is not completed");
            }
        }
    }
    let o = cleave(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn man_pages_parse_and_name_every_option() {
    for verb in VERBS {
        let o = cleave(&["man", verb]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let page = text(&o.stdout);
        assert!(page.contains(&format!(".TH cleave-{verb} 1")), "{page}");
        // groff reads it without a warning.
        let path = std::env::temp_dir().join(format!("cleave-{verb}-{}.1", std::process::id()));
        std::fs::write(&path, &o.stdout).unwrap();
        let g = Command::new("groff")
            .args(["-man", "-Tascii", "-ww", "-z"])
            .arg(&path)
            .output();
        let _ = std::fs::remove_file(&path);
        let g = g.expect("run groff (package groff-base; scripts/test.sh installs it)");
        assert!(
            g.status.success() && g.stderr.is_empty(),
            "groff: {}",
            text(&g.stderr)
        );
        let plain = page.replace("\\-", "-");
        for opt in options(verb) {
            assert!(
                plain.contains(&format!("--{opt}")),
                "cleave-{verb}(1) lacks --{opt}"
            );
        }
    }
    let o = cleave(&["man", "nosuchverb"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("choose one of spawn"),
        "{}",
        text(&o.stderr)
    );
    // One page per verb, written to a directory.
    let dir = std::env::temp_dir().join(format!("cleave-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let o = cleave(&["man", "--dir", dir.to_str().unwrap()]);
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mut want: Vec<String> = VERBS.iter().map(|v| format!("cleave-{v}.1")).collect();
    want.push("cleave.1".into());
    want.sort();
    assert_eq!(written, want);
}
