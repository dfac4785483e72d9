//! Everyday use (issue 12): spawn and explain agree, what `-v` says, and the small things a
//! user of unshare, nsenter or bubblewrap runs into.
mod support;
use std::process::Command;
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

/// `--kill-child SIGTERM -- echo`: the signal was read as the program; refused with the
/// spelling that works. Not-found hints never suggest a path that does not exist, and in a
/// new root look there.
#[test]
fn not_found_hints_are_true() {
    let o = cleave(&["spawn", "--kill-child", "SIGTERM", "--", "echo", "hi"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--kill-child=SIGTERM"),
        "{}",
        text(&o.stderr)
    );
    let o = cleave(&["spawn", "--", "SIGTERM"]);
    assert_eq!(o.status.code(), Some(127));
    let e = text(&o.stderr);
    assert!(
        !e.contains("/usr/bin/SIGTERM") && e.contains("signal name"),
        "{e}"
    );
    let o = cleave(&["spawn", "--", "cleave-no-such-program"]);
    let e = text(&o.stderr);
    assert!(!e.contains("/usr/bin/cleave-no-such-program"), "{e}");
    // A root holding only /bin/sh: `sh` is not in the empty PATH but /bin/sh is there;
    // bash, on the host, is not in that root.
    let root = std::env::temp_dir().join(format!("cleave-everyday-root-{}", std::process::id()));
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(root.join("bin/sh"), b"").unwrap();
    let r = root.to_str().unwrap();
    let o = cleave(&[
        "spawn", "--rootfs", r, "--setenv", "PATH", "/nowhere", "--", "bash",
    ]);
    let e = text(&o.stderr);
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(o.status.code(), Some(127), "{e}");
    assert!(
        !e.contains("/usr/bin/bash") && e.contains("inside the new root"),
        "{e}"
    );
}

/// Sizes take decimals with a unit.
#[test]
fn memory_takes_decimals() {
    let o = cleave(&[
        "spawn",
        "--memory",
        "1.5G",
        "--",
        "cat",
        "/proc/self/cgroup",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = cleave(&["spawn", "--memory", "1.5", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("K, M, G or T"),
        "{}",
        text(&o.stderr)
    );
}

/// inspect fails when nothing about sharing could be read.
#[test]
fn inspect_fails_when_every_resource_is_unknown() {
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = sleeper.id().to_string();
    let o = nobody(&["inspect", &pid, "1"]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_eq!(o.status.code(), Some(126), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("unknown"));
    assert!(
        text(&o.stderr).contains("could be compared"),
        "{}",
        text(&o.stderr)
    );
    let o = cleave(&["inspect", &std::process::id().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

/// `--unshare-all` is bubblewrap's word: a clear refusal pointing at `--new all`.
#[test]
fn unshare_all_points_to_new_all() {
    let o = cleave(&["spawn", "--unshare-all", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    let e = text(&o.stderr);
    assert!(e.contains("--new all") && !e.contains("tip"), "{e}");
}

/// With `--as-pid-1` the program is an init: the kernel drops SIGINT without a handler; a
/// second one becomes SIGKILL.
#[test]
fn as_pid_1_second_interrupt_kills() {
    use std::io::{BufRead, BufReader};
    let mut c = std::process::Command::new(BIN)
        .args([
            "spawn",
            "-v",
            "--new",
            "pid",
            "--as-pid-1",
            "--",
            "sleep",
            "60",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = c.id() as i32;
    let mut err = BufReader::new(c.stderr.take().unwrap());
    let mut line = String::new();
    let mut wait_for = |what: &str| loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "no `{what}`");
        if line.contains(what) {
            break;
        }
    };
    wait_for("started pid");
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGINT) };
    wait_for("passed on");
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGINT) };
    wait_for("SIGKILL");
    let status = c.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 9));
}

const SANDBOX: [&str; 4] = ["--new", "user,uts,ipc,net,mount", "--hostname", "inner"];

fn enter(as_nobody: bool, args: &[&str]) -> std::process::Output {
    let mut all = vec!["enter"];
    all.extend_from_slice(args);
    if as_nobody {
        nobody(&all)
    } else {
        cleave(&all)
    }
}

/// `enter -t PID` with the `cleave spawn` process's own PID enters its sandbox.
#[test]
fn enter_through_the_supervisor() {
    for as_nobody in [false, true] {
        let t = Target::start(as_nobody, &SANDBOX);
        let o = enter(as_nobody, &["-t", &t.supervisor(), "--", "hostname"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout).trim(), "inner", "nobody: {as_nobody}");
    }
}

/// Without a program, enter runs $SHELL (nsenter does).
#[test]
fn enter_without_a_program_runs_a_shell() {
    use std::io::Write;
    let t = Target::start(false, &SANDBOX);
    let mut c = std::process::Command::new(BIN)
        .args(["enter", "-t", &t.arg()])
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b"hostname\n").unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), "inner");
}

/// Unprivileged, joining one's own sandbox's uts namespace alone cannot work (setns needs
/// CAP_SYS_ADMIN in the caller's own user namespace): the error says to add user, and with
/// it the same request works.
#[test]
fn unprivileged_enter_without_user_says_add_user() {
    let t = Target::start(true, &SANDBOX);
    let o = enter(true, &["-t", &t.arg(), "--ns", "uts", "--", "hostname"]);
    let e = text(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{e}");
    assert!(e.contains("add user") && !e.contains("another user"), "{e}");
    let o = enter(
        true,
        &["-t", &t.arg(), "--ns", "user,uts", "--", "hostname"],
    );
    assert_eq!(text(&o.stdout).trim(), "inner", "{}", text(&o.stderr));
}

/// cleave inside `--preset sandbox` is uid 0 without capabilities: mapping uid 0 of its
/// namespace needs CAP_SETFCAP at creation (user_namespaces(7), 5.12+). The hint says so;
/// with SETFCAP kept, cleave nests two and three deep, and each level sees itself as root
/// of a user namespace of its own.
#[test]
fn nesting_needs_setfcap_and_works_with_it() {
    let o = cleave(&[
        "spawn", "--preset", "sandbox", "--", BIN, "spawn", "--new", "user", "--", "true",
    ]);
    let e = text(&o.stderr);
    assert_eq!(o.status.code(), Some(126), "{e}");
    assert!(
        e.contains("CAP_SETFCAP") && e.contains("--cap-add SETFCAP"),
        "{e}"
    );
    assert!(!e.contains("--map-auto"), "{e}");

    let ns = "readlink /proc/self/ns/user; id -u";
    let two = cleave(&[
        "spawn",
        "--preset",
        "sandbox",
        "--cap-add",
        "SETFCAP",
        "--",
        BIN,
        "spawn",
        "--new",
        "user",
        "--",
        "sh",
        "-c",
        ns,
    ]);
    assert_eq!(two.status.code(), Some(0), "{}", text(&two.stderr));
    let three = cleave(&[
        "spawn",
        "--preset",
        "sandbox",
        "--cap-add",
        "SETFCAP",
        "--",
        BIN,
        "spawn",
        "--new",
        "user",
        "--cap-add",
        "SETFCAP",
        "--",
        BIN,
        "spawn",
        "--new",
        "user",
        "--",
        "sh",
        "-c",
        ns,
    ]);
    assert_eq!(three.status.code(), Some(0), "{}", text(&three.stderr));
    let here = ns_link("self", "user");
    let (two, three) = (text(&two.stdout), text(&three.stdout));
    let two: Vec<&str> = two.lines().collect();
    let three: Vec<&str> = three.lines().collect();
    assert_eq!(two.len(), 2);
    assert_eq!(three.len(), 2);
    assert_eq!(two[1], "0");
    assert_eq!(three[1], "0");
    assert!(two[0] != here && three[0] != here && two[0] != three[0]);
}

/// `-v` says where the sandbox's cgroup was made, and the program is in it.
#[test]
fn verbose_says_where_the_cgroup_is() {
    let o = cleave(&[
        "spawn",
        "-v",
        "--pids",
        "64",
        "--",
        "cat",
        "/proc/self/cgroup",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    let line = e
        .lines()
        .find_map(|l| l.strip_prefix("cleave: limits in cgroup "))
        .unwrap_or_else(|| panic!("{e}"));
    // The program's own /proc/self/cgroup names a path that ends the one -v gave.
    let seen = text(&o.stdout);
    let leaf = line
        .split(" and ")
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert!(seen.contains(leaf), "{line} vs {seen}");
}

/// A reader that stops after the first line of `-v` (a pipe into `head -1`) must not kill
/// the supervisor, whose death would orphan the sandbox: cleave's later messages are lost,
/// the program's status still comes back.
#[test]
fn verbose_output_into_a_closed_pipe_does_not_kill_cleave() {
    use std::io::BufRead;
    let mut c = std::process::Command::new(BIN)
        .args([
            "spawn",
            "-v",
            "--new",
            "user,pid",
            "--",
            "sh",
            "-c",
            "sleep 0.3; exit 3",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(c.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("cleave: started pid"), "{line}");
    // The reader is gone: every later message of cleave's meets a closed pipe.
    assert_eq!(c.wait().unwrap().code(), Some(3));
}

/// Plain `cleave spawn` closes the fds above 2 it inherited, as every mode does (see
/// --preserve-fd's help): -v names them, and --preserve-fd keeps one.
#[test]
fn inherited_fds_are_closed_named_and_kept_on_request() {
    let probe = "[ -e /proc/self/fd/5 ] && echo open || echo closed";
    let run = |keep: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec 5</dev/null; exec {BIN} spawn -v {keep} -- sh -c '{probe}'"
            ))
            .output()
            .unwrap()
    };
    let o = run("");
    assert_eq!(text(&o.stdout).trim(), "closed", "{}", text(&o.stderr));
    let e = text(&o.stderr);
    let named = e
        .lines()
        .find(|l| l.contains("from cleave's caller closed"))
        .unwrap_or_else(|| panic!("{e}"));
    assert!(
        named.contains(" 5") && named.contains("--preserve-fd"),
        "{named}"
    );
    let o = run("--preserve-fd 5");
    assert_eq!(text(&o.stdout).trim(), "open", "{}", text(&o.stderr));
}

/// The program's ignored signals (SigIgn of its /proc/self/status), as the program read them.
fn program_sig_ign(out: &std::process::Output) -> u64 {
    let status = text(&out.stdout);
    assert!(out.status.success(), "{status}{}", text(&out.stderr));
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .unwrap_or_else(|| panic!("no SigIgn in {status}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

/// cleave ignores SIGPIPE for itself (to report EPIPE); the program gets the caller's
/// disposition back, in every way of starting it: a plain spawn, a sandbox whose init starts
/// it, a rootfs. A caller that ignores SIGPIPE hands that on, as a plain exec would. Mirrors
/// the kernel selftest clone3/clone3_clear_sighand.c (CLONE_CLEAR_SIGHAND keeps SIG_IGN).
#[test]
fn the_program_gets_the_callers_sigpipe_disposition() {
    let pipe = 1u64 << (libc::SIGPIPE - 1);
    let status = ["cat", "/proc/self/status"];
    for args in [
        &["spawn", "--"][..],
        &["spawn", "--new", "user,pid,mount", "--mount-proc", "--"],
        &["spawn", "--preset", "sandbox", "--"],
    ] {
        // std's Command starts cleave with SIGPIPE at SIG_DFL.
        let out = cleave(&[args, &status].concat());
        let ign = program_sig_ign(&out);
        assert_eq!(ign & pipe, 0, "{args:?}: SigIgn {ign:x}");
        // A caller that ignores SIGPIPE (the shell's `trap '' PIPE`, kept across exec).
        let out = std::process::Command::new("sh")
            .args(["-c", "trap '' PIPE; exec \"$@\"", "sh", BIN])
            .args(args)
            .args(status)
            .output()
            .unwrap();
        let ign = program_sig_ign(&out);
        assert_eq!(
            ign & pipe,
            pipe,
            "{args:?} under trap '' PIPE: SigIgn {ign:x}"
        );
    }
}

/// Root mapping a sub-id range that leaves out its own uid (`--map-user 0:100000:65536`,
/// the example in `cleave spawn --help`): the program is uid and gid 0 of the namespace
/// without `--uid 0`, and the mounts work (before, they ran as the unmapped caller and failed
/// with EOVERFLOW). A file it makes on a bound host directory belongs to host id 100000.
/// (util-linux's unshare --map-users tests check the same from outside.)
#[test]
fn sub_id_maps_as_root_run_as_mapped_root_and_mount() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "needs root (CI=true: no skipping)"
        );
        return;
    }
    let maps = [
        "--map-user",
        "0:100000:65536",
        "--map-group",
        "0:100000:65536",
    ];
    let mut args = vec!["spawn", "--new", "user"];
    args.extend(maps);
    args.extend(["--", "id", "-u"]);
    let o = cleave(&args);
    assert_eq!(text(&o.stdout), "0\n", "{}", text(&o.stderr));

    let dir = std::path::PathBuf::from(format!("/var/tmp/cleave-subid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let d = dir.to_str().unwrap();
    let mut args = vec!["spawn", "--new", "user,mount,pid"];
    args.extend(maps);
    args.extend([
        "--tmpfs",
        "/tmp",
        "--mount-proc",
        "--bind",
        d,
        "/mnt",
        "--",
        "sh",
        "-c",
        "id -u; id -g; touch /tmp/x && echo tmp; touch /mnt/f && echo bound",
    ]);
    let o = cleave(&args);
    assert_eq!(text(&o.stdout), "0\n0\ntmp\nbound\n", "{}", text(&o.stderr));
    let meta = std::fs::metadata(dir.join("f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (100000, 100000));
    let _ = std::fs::remove_dir_all(&dir);
}
