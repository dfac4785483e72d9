//! Everyday use (issue 12): spawn and explain agree, what `-v` says, and the small things a
//! user of unshare, nsenter or bubblewrap runs into.
mod support;
use support::*;

/// The fast path's VM|VFORK never turns a request the kernel refuses into one that runs:
/// CLONE_SIGHAND alone is EINVAL for the kernel, so for spawn as for explain.
#[test]
fn spawn_judges_the_flags_as_asked() {
    let e = cleave(&["explain", "CLONE_SIGHAND"]);
    assert!(text(&e.stdout).contains("EINVAL"), "{}", text(&e.stdout));
    let o = cleave(&["spawn", "--flags", "CLONE_SIGHAND", "--", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("EINVAL"), "{}", text(&o.stderr));
    // Asked with VM, it is what the kernel accepts.
    let o = cleave(&["spawn", "--flags", "CLONE_SIGHAND|CLONE_VM", "--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

/// `-v` shows what was asked and what was used, with why.
#[test]
fn verbose_shows_asked_and_used_flags() {
    let o = cleave(&["spawn", "-v", "--preset", "fork", "--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(e.contains("cleave: asked for "), "{e}");
    assert!(
        e.contains("+CLONE_VM|CLONE_VFORK: posix_spawn fast path"),
        "{e}"
    );
}

/// `--monotonic` makes a time namespace the child unshares itself: `-v` names it.
#[test]
fn verbose_names_the_time_namespace() {
    let o = cleave(&["spawn", "-v", "--monotonic", "100", "--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("CLONE_NEWTIME"),
        "{}",
        text(&o.stderr)
    );
}

/// `--new pid --set-tid 42`: the kernel answers EINVAL (a new PID namespace has no init
/// yet, so only 1 is accepted there); spawn refuses it before clone, and explain agrees.
#[test]
fn set_tid_in_a_new_pid_namespace_must_start_with_1() {
    let o = cleave(&["spawn", "--new", "pid", "--set-tid", "42", "--", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(
        e.contains("--set-tid 42") && e.contains("no init yet"),
        "{e}"
    );
    // The first entry is the sandbox's init (PID 1); the program comes after it.
    let o = cleave(&[
        "spawn",
        "--new",
        "pid",
        "--set-tid",
        "1",
        "--",
        "sh",
        "-c",
        "echo $PPID",
    ]);
    assert_eq!(text(&o.stdout).trim(), "1", "{}", text(&o.stderr));
    let x = cleave(&["explain", "newpid", "--set-tid", "42"]);
    assert_eq!(x.status.code(), Some(1), "{}", text(&x.stdout));
    assert!(
        text(&x.stdout).contains("no init yet"),
        "{}",
        text(&x.stdout)
    );
    let x = cleave(&["explain", "newpid", "--set-tid", "1"]);
    assert_eq!(x.status.code(), Some(0), "{}", text(&x.stdout));
}

/// explain names the flag an old kernel predates, judges clone() where clone3 is absent,
/// reads the namespace names of `--new`, and writes "an unprivileged".
#[test]
fn explain_speaks_plainly() {
    let x = cleave(&["explain", "--kernel", "3.2", "newuser,newcgroup"]);
    let out = text(&x.stdout);
    assert!(out.contains("CLONE_NEWCGROUP needs 4.6"), "{out}");
    assert!(
        out.contains("via clone()") && !out.contains("ENOSYS"),
        "{out}"
    );
    for (word, flag) in [("net", "CLONE_NEWNET"), ("mount", "CLONE_NEWNS")] {
        let x = cleave(&["explain", word]);
        assert_eq!(x.status.code(), Some(0), "{word}: {}", text(&x.stderr));
        assert!(text(&x.stdout).starts_with(flag), "{}", text(&x.stdout));
    }
    let x = cleave(&["explain", "user,pid"]);
    assert!(
        text(&x.stdout).starts_with("CLONE_NEWUSER|CLONE_NEWPID "),
        "{}",
        text(&x.stdout)
    );
    let x = cleave(&["explain", "--unprivileged", "vm"]);
    assert!(
        text(&x.stdout).contains("for an unprivileged caller"),
        "{}",
        text(&x.stdout)
    );
}
