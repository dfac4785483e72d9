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
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
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

// ---- The program gets the target's security context (docker exec), not cleave's ----

/// The program's PID behind a target: the init's only child when the target is cleave's
/// init (a new PID namespace), else the target itself. Waits for it to have exec'd.
fn program_of(t: &Target) -> String {
    let init = t.pid;
    for _ in 0..500 {
        let kids = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children"))
            .unwrap_or_default();
        let pid = kids.split_whitespace().next().map(str::to_string);
        let pid = pid.unwrap_or_else(|| init.to_string());
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep") {
            return pid;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no sleep behind target {init}");
}

/// The value of `key:` in a /proc/PID/status text.
fn field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
}

const CAP_SETS: [&str; 5] = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];

/// Every capability this kernel knows, as /proc/PID/status prints a full set.
fn full_caps() -> String {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    format!("{:016x}", (1u64 << (last + 1)) - 1)
}

/// What a hostile program tries once entered: its own status, then remounting the
/// sandbox's read-only host root read-write and writing into /usr. `probe` is the file it
/// tries to create (removed afterwards whatever happened).
fn attack(probe: &str) -> String {
    format!(
        "cat /proc/self/status; \
         mount -o remount,bind,rw / 2>/dev/null && echo REMOUNTED || echo REMOUNT_REFUSED; \
         touch {probe} 2>/dev/null && echo WROTE || echo WRITE_REFUSED"
    )
}

fn takes_the_sandbox_targets_context(as_nobody: bool) {
    let t = Target::start(as_nobody, &["--preset", "sandbox"]);
    let p = program_of(&t);
    let theirs = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap();
    let probe = format!("/usr/cleave-enter-probe-{}", std::process::id());
    let out = {
        let mut all = vec!["enter", "-t", &p, "--", "sh", "-c"];
        let script = attack(&probe);
        all.push(&script);
        if as_nobody {
            nobody(&all)
        } else {
            cleave(&all)
        }
    };
    let _ = std::fs::remove_file(&probe);
    let inside = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for set in CAP_SETS {
        assert_eq!(field(&inside, set), field(&theirs, set), "{set}: {inside}");
        assert_eq!(field(&inside, set), "0000000000000000", "{set}: {inside}");
    }
    assert_eq!(field(&inside, "NoNewPrivs"), "1", "{inside}");
    assert!(inside.contains("REMOUNT_REFUSED"), "{inside}");
    assert!(inside.contains("WRITE_REFUSED"), "{inside}");
}

#[test]
fn root_entering_a_sandbox_gets_its_capabilities_and_no_new_privs() {
    takes_the_sandbox_targets_context(false);
}

#[test]
fn nobody_entering_its_sandbox_gets_its_capabilities_and_no_new_privs() {
    takes_the_sandbox_targets_context(true);
}

fn keep_privileges_is_nsenters_behaviour(as_nobody: bool) {
    // --map-root: root's sandbox maps root inside to nobody by default, and mount(8) refuses
    // to act for an euid that shows as 65534 whatever its capabilities.
    let t = Target::start(as_nobody, &["--preset", "sandbox", "--map-root"]);
    let p = program_of(&t);
    // Remount only (in the sandbox's own mount namespace): no write into the host.
    let script = "cat /proc/self/status; mount -o remount,bind,rw / && echo REMOUNTED";
    let out = enter_ok(
        as_nobody,
        &["-t", &p, "--keep-privileges", "--", "sh", "-c", script],
    );
    let full = full_caps();
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(field(&out, set), full, "{set}: {out}");
    }
    assert_eq!(field(&out, "NoNewPrivs"), "0", "{out}");
    assert!(out.contains("REMOUNTED"), "{out}");
}

#[test]
fn root_keep_privileges_gives_every_capability_in_the_user_namespace() {
    keep_privileges_is_nsenters_behaviour(false);
}

#[test]
fn nobody_keep_privileges_gives_every_capability_in_the_user_namespace() {
    keep_privileges_is_nsenters_behaviour(true);
}

#[test]
fn root_entering_nobodys_sandbox_takes_its_ids_and_groups() {
    let t = Target::start(true, &["--preset", "sandbox"]);
    let p = program_of(&t);
    let out = enter_ok(
        false,
        &[
            "-t",
            &p,
            "--",
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/status",
        ],
    );
    // Inside nobody's user namespace the target is root (host uid 65534): so is the program,
    // with none of cleave's groups (root's 0 would show as the overflow gid 65534).
    assert!(out.starts_with("0\n0\n"), "{out}");
    assert_eq!(field(&out, "Groups"), "", "{out}");
    assert_eq!(field(&out, "CapEff"), "0000000000000000", "{out}");
    assert_eq!(field(&out, "NoNewPrivs"), "1", "{out}");
}

#[test]
fn another_user_namespace_left_unjoined_gives_no_capabilities() {
    // The target is root with every capability in its own user namespace; the program
    // joins only its uts namespace and stays in cleave's, where the target has none.
    let t = Target::start(false, &["--new", "user,uts", "--hostname", "inner"]);
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
            "hostname; cat /proc/self/status",
        ],
    );
    assert!(out.starts_with("inner\n"), "{out}");
    for set in ["CapPrm", "CapEff", "CapInh", "CapAmb"] {
        assert_eq!(field(&out, set), "0000000000000000", "{set}: {out}");
    }
    assert_eq!(field(&out, "NoNewPrivs"), "1", "{out}");
}

/// `sleep 30` under a seccomp filter that refuses mkdir/mkdirat with EPERM, optionally as
/// nobody with no_new_privs; killed when dropped.
struct Filtered(std::process::Child);

impl Filtered {
    fn start(as_nobody: bool) -> Filtered {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30");
        // SAFETY: only raw system calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if as_nobody
                    && (libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<u32>()) != 0
                        || libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) != 0
                        || libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) != 0
                        || libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                let mk = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
                #[cfg(target_arch = "x86_64")]
                let mkdir = libc::SYS_mkdir as u32;
                #[cfg(not(target_arch = "x86_64"))]
                let mkdir = libc::SYS_mkdirat as u32;
                let filter = [
                    mk(0x20, 0, 0, 0),                                // ld nr
                    mk(0x15, 1, 0, libc::SYS_mkdirat as u32),         // jeq mkdirat
                    mk(0x15, 0, 1, mkdir),                            // jeq mkdir
                    mk(0x06, 0, 0, 0x0005_0000 | libc::EPERM as u32), // ret ERRNO(EPERM)
                    mk(0x06, 0, 0, 0x7fff_0000),                      // ret ALLOW
                ];
                let prog = libc::sock_fprog {
                    len: filter.len() as u16,
                    filter: filter.as_ptr() as *mut _,
                };
                if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start sleep under a seccomp filter");
        let pid = child.id();
        for _ in 0..500 {
            if std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Filtered(child)
    }

    fn arg(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Filtered {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lists the program's seccomp lines, then tries mkdir.
fn seccomp_probe(dir: &str) -> String {
    format!(
        "grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs|Uid|Gid|Groups|CapEff):' /proc/self/status; \
         mkdir {dir} && echo MADE || echo MKDIR_REFUSED"
    )
}

#[test]
fn root_copies_the_targets_seccomp_filter() {
    let dir = format!("/tmp/cleave-enter-seccomp-{}", std::process::id());
    let script = seccomp_probe(&dir);
    // A root target without no_new_privs: the filter goes on before anything else.
    let t = Filtered::start(false);
    let out = enter_ok(false, &["-t", &t.arg(), "--", "sh", "-c", &script]);
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(field(&out, "Seccomp"), "2", "{out}");
    assert_eq!(field(&out, "Seccomp_filters"), "1", "{out}");
    assert!(out.contains("MKDIR_REFUSED"), "{out}");
    drop(t);
    // A nobody target with no_new_privs: its ids, groups and filter.
    let t = Filtered::start(true);
    let out = enter_ok(false, &["-t", &t.arg(), "--", "sh", "-c", &script]);
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(field(&out, "Seccomp_filters"), "1", "{out}");
    assert_eq!(field(&out, "NoNewPrivs"), "1", "{out}");
    assert_eq!(field(&out, "Uid"), "65534\t65534\t65534\t65534", "{out}");
    assert_eq!(field(&out, "Gid"), "65534\t65534\t65534\t65534", "{out}");
    assert_eq!(field(&out, "Groups"), "", "{out}");
    assert_eq!(field(&out, "CapEff"), "0000000000000000", "{out}");
    assert!(out.contains("MKDIR_REFUSED"), "{out}");
}

#[test]
fn nobody_is_refused_a_filter_it_cannot_copy() {
    let t = Filtered::start(true);
    let o = nobody(&["enter", "-t", &t.arg(), "--", "true"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(126), "{err}");
    assert!(err.contains("seccomp filters could not be copied"), "{err}");
    assert!(err.contains("--keep-privileges"), "{err}");
    assert_eq!(
        err.lines().filter(|l| !l.starts_with("  ")).count(),
        1,
        "{err}"
    );
    // The explicit option enters without it, as nsenter would.
    let dir = format!("/tmp/cleave-enter-seccomp-nobody-{}", std::process::id());
    let out = enter_ok(
        true,
        &[
            "-t",
            &t.arg(),
            "--keep-privileges",
            "--",
            "sh",
            "-c",
            &seccomp_probe(&dir),
        ],
    );
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(field(&out, "Seccomp"), "0", "{out}");
    assert!(out.contains("MADE"), "{out}");
}

#[test]
fn help_names_the_privileges_option() {
    let o = cleave(&["enter", "--help"]);
    let h = text(&o.stdout);
    assert!(
        h.contains("--keep-privileges") && h.contains("nsenter") && h.contains("docker exec"),
        "{h}"
    );
}
