//! `cleave enter`: join a target started by `cleave spawn`, and look from the inside.
mod support;
use support::*;

const FULL: [&str; 4] = ["--new", "user,uts,ipc,net,mount", "--hostname", "inner"];

fn enter_ok(as_nobody: bool, args: &[&str]) -> String {
    let mut all = vec!["enter"];
    all.extend_from_slice(args);
    let o = if as_nobody {
        nobody(&all)
    } else {
        cleave(&all)
    };
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
    text(&o.stdout).trim().to_string()
}

fn joins_uts_user_and_more(as_nobody: bool) {
    let t = Target::start(as_nobody, &FULL);
    let p = t.arg();
    assert_eq!(
        enter_ok(as_nobody, &["--target", &p, "--", "hostname"]),
        "inner"
    );
    for ns in ["uts", "user", "net", "ipc", "mnt"] {
        let link = format!("/proc/self/ns/{ns}");
        assert_eq!(
            enter_ok(as_nobody, &["-t", &p, "--", "readlink", &link]),
            ns_link(t.pid, ns),
            "{ns}"
        );
    }
    // --ns uts only: net stays this test's own.
    let out = enter_ok(
        as_nobody,
        &[
            "-t",
            &p,
            "--ns",
            "uts,user",
            "--",
            "sh",
            "-c",
            "hostname; readlink /proc/self/ns/uts /proc/self/ns/net",
        ],
    );
    assert_eq!(
        out,
        format!(
            "inner\n{}\n{}",
            ns_link(t.pid, "uts"),
            ns_link("self", "net")
        )
    );
}

#[test]
fn root_joins_the_targets_namespaces() {
    joins_uts_user_and_more(false);
}

#[test]
fn nobody_joins_its_own_targets_namespaces() {
    joins_uts_user_and_more(true);
}

#[test]
fn uts_only_leaves_net_unchanged() {
    let t = Target::start(false, &FULL);
    let out = enter_ok(
        false,
        &[
            "-t",
            &t.arg(),
            "--ns",
            "uts",
            "--",
            "sh",
            "-c",
            "hostname; readlink /proc/self/ns/net",
        ],
    );
    assert_eq!(out, format!("inner\n{}", ns_link("self", "net")));
}

#[test]
fn pid_namespace_applies_to_the_program() {
    let t = Target::start(false, &["--new", "user,pid"]);
    // The target (sleep) is PID 1 in its namespace; the program gets the next PIDs.
    for args in [vec!["--ns", "pid"], vec![]] {
        let mut a = vec!["-t".to_string(), t.arg()];
        a.extend(args.iter().map(|s| s.to_string()));
        a.extend(["--", "sh", "-c", "echo $$"].map(String::from));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let pid: i32 = enter_ok(false, &a).parse().unwrap();
        assert!((2..100).contains(&pid), "{args:?}: pid {pid} inside");
    }
    let t = Target::start(true, &["--new", "user,pid"]);
    let pid: i32 = enter_ok(true, &["-t", &t.arg(), "--", "sh", "-c", "echo $$"])
        .parse()
        .unwrap();
    assert!((2..100).contains(&pid), "nobody: pid {pid} inside");
}

#[test]
fn root_and_cwd_are_the_targets() {
    let t = Target::start(false, &["--new", "user,mount", "--chdir", "/usr"]);
    assert_eq!(enter_ok(false, &["-t", &t.arg(), "--", "pwd"]), "/usr");
    // --no-root keeps cleave's cwd, unless a mount namespace is joined: setns(2) then puts
    // the caller at that namespace's root.
    assert_eq!(
        enter_ok(
            false,
            &["-t", &t.arg(), "--no-root", "--ns", "user", "--", "pwd"]
        ),
        std::env::current_dir().unwrap().to_string_lossy()
    );
    assert_eq!(
        enter_ok(false, &["-t", &t.arg(), "--no-root", "--", "pwd"]),
        "/"
    );
}

#[test]
fn cgroups_v1_and_v2_are_joined() {
    let name = format!("cleave-enter-test-{}", std::process::id());
    let v2 = format!("/sys/fs/cgroup/unified/{name}");
    let v1 = format!("/sys/fs/cgroup/pids/{name}");
    std::fs::create_dir(&v2).expect("a cgroup2 hierarchy at /sys/fs/cgroup/unified");
    std::fs::create_dir(&v1).expect("a v1 pids hierarchy at /sys/fs/cgroup/pids");
    let out = {
        let t = Target::start(false, &["--new", "uts", "--into-cgroup", &v2]);
        std::fs::write(format!("{v1}/cgroup.procs"), t.arg()).unwrap();
        let out = enter_ok(false, &["-t", &t.arg(), "--", "cat", "/proc/self/cgroup"]);
        let skipped = enter_ok(
            false,
            &[
                "-t",
                &t.arg(),
                "--no-cgroup",
                "--",
                "cat",
                "/proc/self/cgroup",
            ],
        );
        assert!(!skipped.contains(&name), "{skipped}");
        out
    };
    let _ = std::fs::remove_dir(&v1);
    let _ = std::fs::remove_dir(&v2);
    assert!(out.lines().any(|l| l == format!("0::/{name}")), "{out}");
    assert!(
        out.lines().any(|l| l.ends_with(&format!(":pids:/{name}"))),
        "{out}"
    );
}

#[test]
fn errors_have_their_exit_codes() {
    let t = Target::start(false, &["--new", "user,uts"]);
    let o = cleave(&["enter", "-t", &t.arg(), "--ns", "uts,bogus", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("mount,uts,ipc,net,pid,user,cgroup,time"));
    // Another user's namespaces: refused with the hint.
    let o = nobody(&["enter", "-t", &t.arg(), "--", "true"]);
    assert_eq!(o.status.code(), Some(126), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("needs root or CAP_SYS_ADMIN in them"),
        "{}",
        text(&o.stderr)
    );
    // The target is gone.
    let gone = t.pid;
    drop(t);
    let o = cleave(&["enter", "-t", &gone.to_string(), "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("ESRCH"));
    // The program's status is cleave's.
    let t = Target::start(false, &["--new", "user,uts"]);
    let o = cleave(&["enter", "-t", &t.arg(), "--", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let o = cleave(&["enter", "-t", &t.arg(), "--", "cleave-no-such-program"]);
    assert_eq!(o.status.code(), Some(127));
}

#[test]
fn help_teaches_with_examples() {
    let o = cleave(&["enter", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let h = text(&o.stdout);
    assert!(h.contains("Examples:") && h.contains("--no-cgroup") && h.contains("--ns"));
}

#[test]
fn a_chrooted_targets_root_is_taken() {
    // A root with no /proc mounted: busybox alone (the binary scripts/mkrootfs.sh uses too).
    let root = std::env::temp_dir().join(format!("cleave-enter-root-{}", std::process::id()));
    for d in ["bin", "home", "proc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).expect("busybox installed");
    for tool in ["sh", "sleep", "pwd", "ls"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(tool)).unwrap();
    }
    let mut target = std::process::Command::new("chroot")
        .arg(&root)
        .args(["/bin/sh", "-c", "cd /home && exec /bin/sleep 30"])
        .spawn()
        .unwrap();
    let p = target.id().to_string();
    // Wait until the target has exec'd sleep inside its root.
    for _ in 0..200 {
        if std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let inside = cleave(&["enter", "-t", &p, "--", "/bin/sh", "-c", "pwd; ls /"]);
    let kept = cleave(&["enter", "-t", &p, "--no-root", "--", "pwd"]);
    let _ = target.kill();
    let _ = target.wait();
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(
        text(&inside.stdout),
        "/home\nbin\nhome\nproc\n",
        "{}",
        text(&inside.stderr)
    );
    assert_eq!(
        text(&kept.stdout).trim(),
        std::env::current_dir().unwrap().to_string_lossy()
    );
}
