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
    assert!(text(&o.stderr).contains("CLONE_NEWTIME"), "{}", text(&o.stderr));
}
