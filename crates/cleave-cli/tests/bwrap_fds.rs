//! bubblewrap's command line (issue 12), the options that hand over descriptors or shape
//! the sandbox's lifetime: --seccomp/--add-seccomp-fd, --info-fd/--json-status-fd,
//! --block-fd/--sync-fd, --userns/--pidns, --lock-file, --disable-userns, and the exit codes;
//! each run through `cleave bwrap`, a link named `bwrap` and /usr/bin/bwrap, and compared
//! (bubblewrap's tests/test-run.sh, test-specifying-userns.sh, test-specifying-pidns.sh and
//! test-seccomp.py check the same behaviours). Needs root and bubblewrap; with CI=true a
//! missing one is a failure, not a skip.
#[path = "support/bwrap.rs"]
mod common;
mod support;

use common::*;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;
use support::text;

/// A seccomp program read from an fd (--seccomp, --add-seccomp-fd) refuses mkdir with
/// EPERM inside, as bubblewrap's does (tests/test-seccomp.py loads one the same way).
#[cfg(target_arch = "x86_64")]
#[test]
fn seccomp_programs_from_fds() {
    if !ready() {
        return;
    }
    let dir = scratch("seccomp");
    // ld [nr]; jeq mkdir (83) -> errno; jeq mkdirat (258) -> errno; allow; errno EPERM.
    let prog: [(u16, u8, u8, u32); 5] = [
        (0x20, 0, 0, 0),
        (0x15, 2, 0, 83),
        (0x15, 1, 0, 258),
        (0x06, 0, 0, 0x7fff_0000),
        (0x06, 0, 0, 0x0005_0000 | libc::EPERM as u32),
    ];
    let mut bytes = Vec::new();
    for (code, jt, jf, k) in prog {
        bytes.extend(code.to_ne_bytes());
        bytes.extend([jt, jf]);
        bytes.extend(k.to_ne_bytes());
    }
    let file = dir.join("filter");
    std::fs::write(&file, &bytes).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    for option in ["--seccomp", "--add-seccomp-fd"] {
        for nobody in [false, true] {
            let mut argv = words(USR);
            argv.extend(words(&[
                "--dev",
                "/dev",
                "--tmpfs",
                "/tmp",
                option,
                "9",
                "/bin/sh",
                "-c",
                "mkdir /tmp/d 2>/dev/null; echo mkdir=$?; touch /tmp/f; echo touch=$?",
            ]));
            let fds = format!("9<{}", file.display());
            let outs: Vec<String> = ALL
                .iter()
                .map(|via| {
                    let o = run(&dir, *via, nobody, &fds, &argv);
                    assert!(o.status.success(), "{via:?}: {}", text(&o.stderr));
                    text(&o.stdout)
                })
                .collect();
            assert_eq!(outs[2], "mkdir=1\ntouch=0\n", "bubblewrap's own view");
            assert_eq!(outs[0], outs[2], "{option} through cleave bwrap");
            assert_eq!(outs[1], outs[2], "{option} through the bwrap link");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// --json-status-fd says the child's pid and namespaces first, its exit code last; --info-fd
/// the pid (bubblewrap's tests/test-run.sh "info and json-status fd").
#[test]
fn status_and_info_fds() {
    if !ready() {
        return;
    }
    let dir = scratch("status");
    for via in ALL {
        let json = dir.join("json");
        let info = dir.join("info");
        let mut argv = words(USR);
        argv.extend(words(&[
            "--unshare-pid",
            "--unshare-net",
            "--json-status-fd",
            "7",
            "--info-fd",
            "6",
            "/bin/sh",
            "-c",
            "exit 42",
        ]));
        let fds = format!("7>{} 6>{}", json.display(), info.display());
        let out = run(&dir, via, false, &fds, &argv);
        assert_eq!(
            out.status.code(),
            Some(42),
            "{via:?}: {}",
            text(&out.stderr)
        );
        let json = std::fs::read_to_string(&json).unwrap();
        let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&json)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{via:?}: `{json}`: {e}"));
        assert_eq!(docs.len(), 2, "{via:?}: {json}");
        assert!(
            docs[0]["child-pid"].as_i64().unwrap_or(0) > 0,
            "{via:?}: {json}"
        );
        assert!(
            docs[0]["net-namespace"].as_u64().is_some(),
            "{via:?}: {json}"
        );
        assert_eq!(docs[1]["exit-code"], 42, "{via:?}: {json}");
        let info = std::fs::read_to_string(&info).unwrap();
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert!(info["child-pid"].as_i64().unwrap_or(0) > 0, "{via:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Exit codes: the program's own (128+N by signal N), 1 for every failure of the sandbox's
/// own, with one line naming what was wrong.
#[test]
fn exit_codes_and_refusals() {
    if !ready() {
        return;
    }
    let dir = scratch("codes");
    let cases: &[(&[&str], i32)] = &[
        (&["--ro-bind", "/", "/", "sh", "-c", "exit 7"], 7),
        (&["--ro-bind", "/", "/", "sh", "-c", "kill -9 $$"], 137),
        (&["--frob", "true"], 1),
        (&["--ro-bind", "/", "/", "--disable-userns", "true"], 1),
        (&["--ro-bind", "/"], 1),
        (&["--ro-bind", "/", "/", "--hostname", "x", "true"], 1),
        (&["--ro-bind", "/", "/", "--uid", "5", "true"], 1),
        (&["--ro-bind", "/nonexistent-src", "/x", "true"], 1),
        (&["--perms", "0700", "--ro-bind", "/", "/", "true"], 1),
        (&["--ro-bind", "/", "/", "/nonexistent-program"], 1),
        (&["--ro-bind", "/", "/"], 1),
    ];
    for (argv, code) in cases {
        for via in ALL {
            let out = run(&dir, via, false, "", &words(argv));
            assert_eq!(
                out.status.code(),
                Some(*code),
                "{via:?} {argv:?}: {}",
                text(&out.stderr)
            );
            if *code == 1 && !matches!(via, Via::Real) {
                let err = text(&out.stderr);
                assert!(!err.trim().is_empty(), "{via:?} {argv:?}: no message");
            }
        }
    }
    // SELinux labels are refused by cleave, naming the option and saying why (bubblewrap
    // refuses them too where SELinux is off, as on the test machines: "labeling not
    // supported on this system").
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    for option in ["--exec-label", "--file-label"] {
        for via in ALL {
            let argv = words(&["--ro-bind", "/", "/", option, "x", "true"]);
            let out = run(&dir, via, false, "", &argv);
            if selinux && matches!(via, Via::Real) {
                continue;
            }
            assert_eq!(out.status.code(), Some(1), "{via:?} {option}");
            if !matches!(via, Via::Real) {
                let err = text(&out.stderr);
                assert!(
                    err.contains(option) && err.contains("SELinux"),
                    "{via:?} {option}: {err}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// --block-fd: the program runs once the fd has data; the fd, like --sync-fd's, does not
/// reach the program, while the caller's other descriptors do.
#[test]
fn block_and_sync_fds_are_consumed() {
    if !ready() {
        return;
    }
    let dir = scratch("block");
    let mut argv = words(USR);
    argv.extend(words(&[
        "--proc",
        "/proc",
        "--block-fd",
        "9",
        "--sync-fd",
        "7",
        "/bin/sh",
        "-c",
        "for f in 7 8 9; do [ -e /proc/self/fd/$f ] && echo has $f; done; echo ran",
    ]));
    let go = dir.join("go");
    std::fs::write(&go, "x").unwrap();
    let fds = format!("9<{} 8</dev/null 7</dev/null", go.display());
    let outs: Vec<String> = ALL
        .iter()
        .map(|via| {
            let o = run(&dir, *via, false, &fds, &argv);
            assert!(o.status.success(), "{via:?}: {}", text(&o.stderr));
            text(&o.stdout)
        })
        .collect();
    assert_eq!(outs[2], "has 8\nran\n", "bubblewrap's own view");
    assert_eq!(outs[0], outs[2]);
    assert_eq!(outs[1], outs[2]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// --userns FD and --pidns FD join another sandbox's user and PID namespaces, and the new
/// mount namespace belongs to the joined user namespace (bubblewrap's
/// tests/test-specifying-userns.sh and test-specifying-pidns.sh).
#[test]
fn userns_and_pidns_fds_join_another_sandbox() {
    if !ready() {
        return;
    }
    let dir = scratch("join");
    for nobody in [true, false] {
        let target = Target::start(&dir, nobody);
        let want: Vec<String> = ["user", "pid"]
            .iter()
            .map(|n| support::ns_link(target.pid, n))
            .collect();
        let argv = words(&[
            "--userns",
            "7",
            "--pidns",
            "8",
            "--ro-bind",
            "/",
            "/",
            "--tmpfs",
            "/tmp",
            "sh",
            "-c",
            "readlink /proc/self/ns/user /proc/self/ns/pid; id -u; touch /tmp/x && echo made",
        ]);
        let fds = format!("7</proc/{0}/ns/user 8</proc/{0}/ns/pid", target.pid);
        for via in ALL {
            let out = run(&dir, via, nobody, &fds, &argv);
            assert!(
                out.status.success(),
                "{via:?} (nobody: {nobody}): {}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            let uid = if nobody { "65534" } else { "0" };
            assert_eq!(
                text(&out.stdout),
                format!("{}\n{}\n{uid}\nmade\n", want[0], want[1]),
                "{via:?} (nobody: {nobody})"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// --lock-file: a read lock on a file inside the sandbox is held while it runs (a write
/// lock from elsewhere is refused); the path is resolved inside the sandbox, so a symlink
/// planted in a bound directory cannot point the lock at a host file.
#[test]
fn lock_file_is_held_inside() {
    if !ready() {
        return;
    }
    let dir = scratch("lock");
    let data = dir.join("work");
    std::fs::write(data.join("lock"), "").unwrap();
    // perl is Debian's essential perl-base: a write lock attempt with fcntl(F_SETLK).
    let try_lock = r#"perl -e 'use Fcntl; open(my $f, ">>", $ARGV[0]) or die "open: $!"; my $l = pack("s s x4 q q l x4", F_WRLCK, 0, 0, 0, 0); print fcntl($f, F_SETLK, $l) ? "free\n" : "held\n"' "#;
    let mut argv = words(USR);
    argv.extend(words(&[
        "--dev",
        "/dev",
        "--bind",
        &data.display().to_string(),
        "/data",
        "--lock-file",
        "/data/lock",
        "sh",
        "-c",
    ]));
    argv.push(format!("{try_lock} /data/lock"));
    for via in ALL {
        let out = run(&dir, via, false, "", &argv);
        assert!(out.status.success(), "{via:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "held\n", "{via:?}");
    }
    // Unlocked again once the sandbox is gone.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{try_lock} {}", data.join("lock").display()))
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "free\n");
    // A planted absolute symlink resolves inside the sandbox, where /etc/cleave-host-only
    // does not exist: the lock fails instead of landing on the host's file.
    let host_file = dir.join("host-only");
    std::fs::write(&host_file, "").unwrap();
    std::fs::remove_file(data.join("lock")).unwrap();
    symlink(&host_file, data.join("lock")).unwrap();
    for via in [Via::Verb, Via::Link] {
        let out = run(&dir, via, false, "", &argv);
        assert_eq!(out.status.code(), Some(1), "{via:?}: {}", text(&out.stdout));
        assert!(
            text(&out.stderr).contains("--lock-file"),
            "{}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// --lock-file on a FIFO planted at the path (whoever owns the bound directory can): the
/// lock is taken only on a regular file, opened without blocking, so cleave refuses at
/// once instead of waiting forever for a writer (bubblewrap opens its lock files the same
/// blocking way; its tests/test-run.sh checks --lock-file only on a plain file). A run
/// still going after two minutes is killed and fails the test: it would never end.
#[test]
fn lock_file_refuses_a_planted_fifo_without_blocking() {
    if !ready() {
        return;
    }
    let dir = scratch("lock-fifo");
    let data = dir.join("work");
    let fifo = std::ffi::CString::new(data.join("lock").display().to_string()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o666) }, 0);
    let mut argv = words(USR);
    argv.extend(words(&[
        "--bind",
        &data.display().to_string(),
        "/data",
        "--lock-file",
        "/data/lock",
        "/usr/bin/true",
    ]));
    let mut child = Command::new(support::BIN)
        .arg("bwrap")
        .args(&argv)
        .current_dir("/")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
            panic!("cleave bwrap --lock-file blocked on the FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--lock-file /data/lock") && err.contains("not a regular file"),
        "{err}"
    );
}

/// --disable-userns: the program cannot make a user namespace, not even after raising its
/// own limit; without the option it can (bubblewrap's tests/test-run.sh "--disable-userns").
#[test]
fn disable_userns_refuses_nested_user_namespaces() {
    if !ready() {
        return;
    }
    let dir = scratch("nouserns");
    let probe = "unshare -U true 2>/dev/null && echo made || echo refused; \
                 echo 100 > /proc/sys/user/max_user_namespaces 2>/dev/null; \
                 unshare -U true 2>/dev/null && echo made || echo refused";
    for nobody in [false, true] {
        for (disable, want) in [(true, "refused\nrefused\n"), (false, "made\nmade\n")] {
            let mut argv = words(USR);
            argv.extend(words(&[
                "--unshare-user",
                "--unshare-pid",
                "--proc",
                "/proc",
                "--dev",
                "/dev",
            ]));
            if disable {
                argv.push("--disable-userns".into());
            }
            argv.extend(words(&["/bin/sh", "-c", probe]));
            for via in ALL {
                let out = run(&dir, via, nobody, "", &argv);
                assert!(out.status.success(), "{via:?}: {}", text(&out.stderr));
                assert_eq!(
                    text(&out.stdout),
                    want,
                    "{via:?} (nobody: {nobody}, --disable-userns: {disable})"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// --userns2 FD: the program runs in a descendant of the user namespace the sandbox was set
/// up in (joined with --userns), the mounts made before the switch; a namespace that is no
/// descendant is refused (bubblewrap's tests/test-specifying-userns.sh makes the same pair).
#[test]
fn userns2_switches_to_a_descendant_after_setup() {
    if !ready() {
        return;
    }
    let dir = scratch("userns2");
    for nobody in [true, false] {
        // bubblewrap's init in the sandbox's user namespace, its program in a nested one.
        let target = Target::running(&dir, nobody, "unshare -U sleep 60");
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", target.pid)).unwrap();
        let nested = children.split_whitespace().next().unwrap().to_string();
        assert_ne!(
            support::ns_link(&nested, "user"),
            support::ns_link(target.pid, "user")
        );
        let want = support::ns_link(&nested, "user");
        let argv = words(&[
            "--userns",
            "7",
            "--userns2",
            "8",
            "--ro-bind",
            "/",
            "/",
            "--tmpfs",
            "/tmp",
            "sh",
            "-c",
            "readlink /proc/self/ns/user; cat /proc/self/uid_map | wc -l; id -u; ls -d /tmp/; \
             unshare -U true 2>/dev/null && echo nests || echo unmapped",
        ]);
        // The nested namespace maps nothing: the program is the overflow uid there, and
        // the kernel lets an unmapped process make no user namespace.
        let fds = format!("7</proc/{}/ns/user 8</proc/{nested}/ns/user", target.pid);
        for via in ALL {
            let out = run(&dir, via, nobody, &fds, &argv);
            assert!(out.status.success(), "{via:?}: {}", text(&out.stderr));
            assert_eq!(
                text(&out.stdout),
                format!("{want}\n0\n65534\n/tmp/\nunmapped\n"),
                "{via:?} (nobody: {nobody})"
            );
        }
        // The caller's own user namespace is no descendant of the sandbox's new one: refused
        // (bubblewrap 0.8 says so too, but its child then waits forever: not run here).
        let argv = words(&[
            "--unshare-user",
            "--userns2",
            "7",
            "--ro-bind",
            "/",
            "/",
            "true",
        ]);
        for via in [Via::Verb, Via::Link] {
            let out = run(&dir, via, nobody, "7</proc/self/ns/user", &argv);
            assert_eq!(out.status.code(), Some(1), "{via:?}");
            assert!(
                text(&out.stderr).contains("userns2")
                    || text(&out.stderr).contains("user namespace"),
                "{via:?}: {}",
                text(&out.stderr)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// --assert-userns-disabled: the sandbox fails unless its program cannot make a user
/// namespace: it runs with --disable-userns, or in a joined namespace where they are
/// disabled (another sandbox's, made with --disable-userns), and fails (exit 1) in a plain
/// new user namespace (bubblewrap's tests/test-run.sh "--assert-userns-disabled").
#[test]
fn assert_userns_disabled_checks_from_inside() {
    if !ready() {
        return;
    }
    let dir = scratch("assertuserns");
    let probe = "unshare -U true 2>/dev/null && echo made || echo refused";
    for nobody in [false, true] {
        // bubblewrap's init in the sandbox's user namespace, sleep in the nested one where
        // no further one can be made.
        let target = Target::running(&dir, nobody, "--disable-userns sleep 60");
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", target.pid)).unwrap();
        let limited = children.split_whitespace().next().unwrap().to_string();
        let fds = format!("7</proc/{limited}/ns/user");
        for (options, fds, ok) in [
            ("--unshare-user --disable-userns", "", true),
            ("--userns 7", fds.as_str(), true),
            ("--unshare-user", "", false),
        ] {
            let mut argv = words(&["--ro-bind", "/", "/"]);
            argv.extend(options.split(' ').map(String::from));
            argv.extend(words(&["--assert-userns-disabled", "sh", "-c", probe]));
            for via in ALL {
                let out = run(&dir, via, nobody, fds, &argv);
                let what = format!("{via:?} {options} (nobody: {nobody})");
                if ok {
                    assert!(out.status.success(), "{what}: {}", text(&out.stderr));
                    assert_eq!(text(&out.stdout), "refused\n", "{what}");
                } else {
                    assert_eq!(out.status.code(), Some(1), "{what}");
                    assert_eq!(text(&out.stdout), "", "{what}: the program ran");
                    assert!(
                        text(&out.stderr).contains("user namespaces"),
                        "{what}: {}",
                        text(&out.stderr)
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
