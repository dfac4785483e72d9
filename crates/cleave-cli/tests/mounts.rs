//! Mount behaviour a bubblewrap user expects (issue 12), seen from inside the sandbox: /proc
//! without a PID namespace, tmpfs ownership and modes, the operations fed by fds, mqueue
//! and overlays. The cases mirror bubblewrap's tests/test-run.sh (--file, --bind-data,
//! --perms, --size, --chmod, --overlay) where it has one.
mod support;
use std::path::PathBuf;
use std::process::{Command, Output};
use support::*;

/// Scratch space (not under /tmp, which a preset hides), one directory per test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(format!(
        "/var/tmp/cleave-mounts-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Readable by nobody too.
    run_ok("chmod", &["755", dir.to_str().unwrap()]);
    dir
}

fn run_ok(program: &str, args: &[&str]) {
    let o = Command::new(program).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{program} {args:?}: {}",
        text(&o.stderr)
    );
}

/// `sh -c SCRIPT` with `$C` the cleave binary, as root or as nobody: the script opens the
/// fds the sandbox reads (`3<FILE`).
fn sh(as_nobody: bool, script: &str) -> Output {
    let mut c = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(NOBODY).arg("sh");
        c
    } else {
        Command::new("sh")
    };
    c.arg("-c")
        .arg(script)
        .env("C", BIN)
        .output()
        .expect("run sh")
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// The mountinfo line of the mount at `point`, as the program printed it.
fn mount_line<'a>(out: &'a str, point: &str) -> &'a str {
    out.lines()
        .find(|l| l.split(' ').nth(4) == Some(point))
        .unwrap_or_else(|| panic!("no mount at {point} in:\n{out}"))
}

/// `--proc` without a new PID namespace, unprivileged: bubblewrap binds the caller's /proc,
/// since a new procfs of the caller's PID namespace needs privilege over it (EPERM). The
/// protections of every /proc cleave mounts still hold.
#[test]
fn proc_without_a_pid_namespace_binds_the_callers() {
    let o = nobody(&[
        "spawn",
        "--new",
        "user,mount",
        "--proc",
        "/proc",
        "--",
        "sh",
        "-c",
        "read p x < /proc/self/stat; echo $p; echo $$; cat /proc/self/mountinfo; \
         echo 1 > /proc/sysrq-trigger && echo WROTE; wc -c < /proc/keys",
    ]);
    let out = ok(&o);
    let mut lines = out.lines();
    // The program's own pid, as the host numbers it: the caller's PID namespace.
    assert_eq!(lines.next(), lines.next(), "{out}");
    let sys = mount_line(&out, "/proc/sys");
    assert!(sys.split(' ').nth(5).unwrap().starts_with("ro"), "{sys}");
    assert!(!out.contains("WROTE"), "{out}");
    assert_eq!(out.lines().last().map(str::trim), Some("0"), "{out}");
}

/// /tmp and every --tmpfs belong to the program's uid and gid, so `--uid 1000` can write
/// to its /tmp (bubblewrap's behaviour); the map gives 1000 a host id.
#[test]
fn tmpfs_belongs_to_the_programs_ids() {
    let o = cleave(&[
        "spawn",
        "--new",
        "user,mount",
        "--map-user",
        "0:200000:2000",
        "--map-group",
        "0:200000:2000",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--tmpfs",
        "/tmp",
        "--",
        "sh",
        "-c",
        "stat -c '%u %g %a' /tmp && touch /tmp/mine && echo WROTE",
    ]);
    assert_eq!(ok(&o), "1000 1000 755\nWROTE\n");
    // The presets' /tmp too (the case: `--uid 1000` could not write its /tmp).
    let o = cleave(&[
        "spawn",
        "--preset",
        "sandbox",
        "--map-user",
        "0:200000:2000",
        "--map-group",
        "0:200000:2000",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--",
        "sh",
        "-c",
        "stat -c '%u %g %a' /tmp && touch /tmp/mine && echo WROTE",
    ]);
    assert_eq!(ok(&o), "1000 1000 755\nWROTE\n");
}

/// --perms, --size and --chmod with bubblewrap 0.8's meaning: --perms and --size apply to
/// the next operation only; parents made for a --perms'd --dir lose the group and other
/// bits it clears.
#[test]
fn perms_size_and_chmod() {
    let o = cleave(&[
        "spawn",
        "--new",
        "mount",
        "--perms",
        "0700",
        "--size",
        "1M",
        "--tmpfs",
        "/mnt",
        "--tmpfs",
        "/srv",
        "--perms",
        "0750",
        "--dir",
        "/srv/a/b",
        "--dir",
        "/srv/c",
        "--chmod",
        "0711",
        "/srv/c",
        "--",
        "sh",
        "-c",
        "umask; stat -c '%n %a' /mnt /srv /srv/a /srv/a/b /srv/c; cat /proc/self/mountinfo",
    ]);
    let out = ok(&o);
    let umask = u32::from_str_radix(out.lines().next().unwrap().trim(), 8).unwrap();
    let want = |mode: u32| format!("{:o}", mode & !umask);
    assert!(out.contains("/mnt 700\n/srv 755\n"), "{out}");
    assert!(out.contains(&format!("/srv/a {}\n", want(0o750))), "{out}");
    assert!(
        out.contains(&format!("/srv/a/b {}\n", want(0o750))),
        "{out}"
    );
    assert!(out.contains("/srv/c 711\n"), "{out}");
    assert!(mount_line(&out, "/mnt").contains("size=1024k"), "{out}");
    assert!(!mount_line(&out, "/srv").contains("size="), "{out}");
}

/// A modifier with nothing it applies to is refused before anything runs (125), naming it.
#[test]
fn modifiers_without_their_operation_are_refused() {
    for (args, words) in [
        (
            &["--perms", "0700", "--bind", "/etc", "/mnt"][..],
            "--perms 0700",
        ),
        (&["--size", "1M", "--dir", "/mnt"][..], "--size 1M"),
        (&["--tmpfs", "/mnt", "--perms", "0700"][..], "--perms 0700"),
        (
            &["--overlay-src", "/etc", "--tmpfs", "/mnt"][..],
            "--overlay-src /etc",
        ),
        (&["--perms", "0800", "--tmpfs", "/mnt"][..], "--perms 0800"),
        (&["--file", "x", "/mnt/f"][..], "--file x"),
    ] {
        let mut all = vec!["spawn", "--new", "mount"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "true"]);
        let o = cleave(&all);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", text(&o.stderr));
        let e = text(&o.stderr);
        assert!(e.contains(words) && e.lines().count() == 1, "{args:?}: {e}");
    }
}

/// --file, --bind-data, --ro-bind-data, --bind-fd and --ro-bind-fd: what the fds hold, with
/// bubblewrap's default modes (0666 for --file, 0600 for the bound data), owned by the
/// program; unprivileged. The fds are the caller's: the program does not get them.
#[test]
fn files_and_binds_from_fds() {
    let dir = scratch("fds");
    std::fs::write(dir.join("in-dir"), "seen through the fd\n").unwrap();
    let script = format!(
        "\"$C\" spawn --new user,mount --map-current --tmpfs /mnt \
         --file 3 /mnt/file --bind-data 4 /mnt/data --perms 0640 --ro-bind-data 5 /mnt/ro \
         --bind-fd 6 /mnt/dir --ro-bind-fd 7 /mnt/rodir -- sh -c '\
           cat /mnt/file /mnt/data /mnt/ro /mnt/dir/in-dir; \
           stat -c \"%n %a %u\" /mnt/file /mnt/data /mnt/ro; \
           echo x >> /mnt/ro || echo RO-DATA; echo x > /mnt/rodir/new || echo RO-DIR; \
           ls /proc/self/fd | wc -l' \
         3<<E3 4<<E4 5<<E5 6<{d} 7<{d}\nfile\nE3\ndata\nE4\nro data\nE5\n",
        d = dir.display()
    );
    let out = ok(&sh(true, &script));
    assert!(
        out.starts_with("file\ndata\nro data\nseen through the fd\n"),
        "{out}"
    );
    assert!(
        out.contains("/mnt/file 666 65534\n/mnt/data 600 65534\n/mnt/ro 640 65534\n"),
        "{out}"
    );
    assert!(out.contains("RO-DATA\nRO-DIR\n"), "{out}");
    // 0, 1, 2 and ls's own directory fd.
    assert_eq!(out.lines().last(), Some("4"), "{out}");
    assert!(!dir.join("new").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// --mqueue: a message queue filesystem of the sandbox's IPC namespace.
#[test]
fn mqueue() {
    let o = nobody(&[
        "spawn",
        "--new",
        "user,mount,ipc",
        "--tmpfs",
        "/mnt",
        "--mqueue",
        "/mnt/mq",
        "--",
        "cat",
        "/proc/self/mountinfo",
    ]);
    let out = ok(&o);
    assert!(mount_line(&out, "/mnt/mq").contains(" - mqueue "), "{out}");
}

/// The three overlays: the first --overlay-src at the bottom; --tmp-overlay's writes
/// vanish, --overlay's land in RWSRC, --ro-overlay takes none. Unprivileged.
#[test]
fn overlays() {
    let dir = scratch("overlay");
    for (layer, files) in [("low", &["a", "both"][..]), ("high", &["b", "both"][..])] {
        std::fs::create_dir(dir.join(layer)).unwrap();
        for f in files {
            std::fs::write(dir.join(layer).join(f), format!("{layer}\n")).unwrap();
        }
    }
    for d in ["up", "work"] {
        std::fs::create_dir(dir.join(d)).unwrap();
        run_ok("chown", &["65534:65534", dir.join(d).to_str().unwrap()]);
    }
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (low, high, up, work) = (p("low"), p("high"), p("up"), p("work"));
    let o = nobody(&[
        "spawn",
        "--new",
        "user,mount",
        "--map-current",
        "--overlay-src",
        &low,
        "--overlay-src",
        &high,
        "--tmp-overlay",
        "/mnt",
        "--overlay-src",
        &low,
        "--overlay-src",
        &high,
        "--ro-overlay",
        "/opt",
        "--overlay-src",
        &low,
        "--overlay",
        &up,
        &work,
        "/srv",
        "--",
        "sh",
        "-c",
        "cat /mnt/a /mnt/b /mnt/both /opt/both; echo t > /mnt/t && echo TMP-WROTE; \
         echo r > /opt/r || echo RO; echo w > /srv/w && cat /srv/a /srv/w",
    ]);
    let out = ok(&o);
    assert_eq!(
        out,
        "low\nhigh\nhigh\nhigh\nTMP-WROTE\nRO\nlow\nw\n",
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(dir.join("up/w")).unwrap(), "w\n");
    for layer in ["low", "high"] {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(layer))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(
            names.len() == 2 && names.contains(&"both".into()),
            "{names:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A rootfs whose owner planted symlinks where --file and --bind-data write: the links are
/// followed inside the root only (an absolute one starts again at the new root, one that
/// climbs above it is refused), so the host file they name is never written or covered.
/// The child creates with O_EXCL | O_NOFOLLOW under a RESOLVE_IN_ROOT lookup of the parent,
/// so a link swapped in later is not followed either. Attacks cleave from the rootfs, as
/// escape.rs does, as root and as nobody.
#[test]
fn planted_symlink_destinations_stay_inside_the_root() {
    let dir = scratch("planted");
    let root = dir.join("root");
    let victim = dir.join("victim");
    std::fs::write(&victim, "host file\n").unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).expect("busybox installed");
    std::os::unix::fs::symlink("busybox", root.join("bin/cat")).unwrap();
    std::os::unix::fs::symlink(&victim, root.join("etc/file")).unwrap();
    std::os::unix::fs::symlink(&victim, root.join("etc/data")).unwrap();
    std::os::unix::fs::symlink("../../victim", root.join("etc/up")).unwrap();
    let r = root.display();
    let v = victim.display();
    for (as_nobody, who) in [(false, "root"), (true, "nobody")] {
        for op in ["--file", "--bind-data"] {
            let dst = if op == "--file" { "file" } else { "data" };
            let o = sh(
                as_nobody,
                &format!(
                    "\"$C\" spawn --rootfs {r} {op} 3 /etc/{dst} -- /bin/cat /etc/{dst} {v} 3<<E\nevil\nE\n"
                ),
            );
            // Inside, the link leads to the root's own {victim path}: the data is there.
            assert_eq!(ok(&o), "evil\nevil\n", "{who} {op}");
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host file\n");
            let _ = std::fs::remove_dir_all(root.join("var"));
            let o = sh(
                as_nobody,
                &format!("\"$C\" spawn --rootfs {r} {op} 3 /etc/up -- /bin/true 3<<E\nevil\nE\n"),
            );
            assert_eq!(
                o.status.code(),
                Some(125),
                "{who} {op}: {}",
                text(&o.stderr)
            );
            assert!(
                text(&o.stderr).contains("leaves the new root"),
                "{}",
                text(&o.stderr)
            );
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host file\n");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--tmpfs /` builds a root from nothing, bubblewrap's usual start: the program's root is
/// the tmpfs, with only what the later options put there. Unprivileged.
#[test]
fn tmpfs_on_root_builds_a_root_from_nothing() {
    let mut args = vec!["spawn", "--new", "user,mount"];
    args.extend(root_from_nothing());
    args.extend_from_slice(&[
        "--proc",
        "/proc",
        "--dir",
        "/work",
        "--chdir",
        "/work",
        "--",
        "/bin/sh",
        "-c",
        "pwd; ls /; head -n 1 /proc/self/mountinfo",
    ]);
    let out = ok(&nobody(&args));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("/work"), "{out}");
    let listing: Vec<&str> = lines.by_ref().take_while(|l| !l.contains(" - ")).collect();
    assert!(
        listing.contains(&"usr") && listing.contains(&"work"),
        "{out}"
    );
    assert!(
        !listing.contains(&"etc") && !listing.contains(&"var"),
        "{out}"
    );
    let root = out.lines().last().unwrap();
    assert!(
        root.split(' ').nth(4) == Some("/") && root.contains(" - tmpfs "),
        "{out}"
    );
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The names in `dir` and its modification time.
fn snapshot(dir: &std::path::Path) -> (Vec<String>, std::time::SystemTime) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (names, std::fs::metadata(dir).unwrap().modified().unwrap())
}

/// `--rootfs DIR` leaves DIR unchanged: the mount points it lacks go on a throw-away
/// layer, never into the user's directory. An empty DIR (everything bound in) and a
/// busybox DIR without proc, dev or tmp under --preset container; as root and as nobody.
#[test]
fn rootfs_is_left_unchanged() {
    let dir = scratch("rootfs");
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let bb = dir.join("bb");
    std::fs::create_dir_all(bb.join("bin")).unwrap();
    std::fs::copy("/usr/bin/busybox", bb.join("bin/busybox")).expect("busybox installed");
    for tool in ["sh", "ls", "cat", "touch"] {
        std::os::unix::fs::symlink("busybox", bb.join("bin").join(tool)).unwrap();
    }
    std::fs::create_dir(bb.join("etc")).unwrap();
    run_ok("chmod", &["-R", "a+rX", dir.to_str().unwrap()]);
    // An mtime in the past, so that a change during the run cannot hide in its second.
    for d in [&empty, &bb, &bb.join("etc")] {
        run_ok("touch", &["-d", "2001-01-01", d.to_str().unwrap()]);
    }
    let (e, b) = (empty.to_str().unwrap(), bb.to_str().unwrap());
    for (as_nobody, who) in [(false, "root"), (true, "nobody")] {
        let before = (snapshot(&empty), snapshot(&bb), snapshot(&bb.join("etc")));
        let run = |args: &[&str]| {
            if as_nobody {
                nobody(args)
            } else {
                cleave(args)
            }
        };
        let mut args = vec![
            "spawn",
            "--rootfs",
            e,
            "--ro-bind",
            "/usr",
            "/usr",
            "--tmpfs",
            "/tmp",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--dir",
            "/etc/deep/er",
        ];
        for link in ["bin", "lib", "lib64"] {
            if std::fs::symlink_metadata(format!("/{link}")).is_ok_and(|m| m.is_symlink()) {
                args.extend_from_slice(&[
                    "--symlink",
                    leak(format!("usr/{link}")),
                    leak(format!("/{link}")),
                ]);
            }
        }
        args.extend_from_slice(&["--", "/bin/sh", "-c", "ls /; ls -d /etc/deep/er"]);
        let out = ok(&run(&args));
        assert!(
            out.contains("usr\n") && out.contains("/etc/deep/er\n"),
            "{who}: {out}"
        );
        let out = ok(&run(&[
            "spawn",
            "--preset",
            "container",
            "--rootfs",
            b,
            "--dir",
            "/etc/new",
            "--",
            "sh",
            "-c",
            "ls /; ls /etc; touch /made-here && echo MADE",
        ]));
        assert_eq!(out, "bin\ndev\netc\nproc\ntmp\nnew\nMADE\n", "{who}");
        let after = (snapshot(&empty), snapshot(&bb), snapshot(&bb.join("etc")));
        assert_eq!(before, after, "{who}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A bind or an overlay on "/" becomes the program's root, as a tmpfs there does: bubblewrap's
/// `--ro-bind / /` is a read-only host (it was left writable: the bind sat on top of the
/// root the program kept), and `--overlay-src DIR --tmp-overlay /` a root whose writes go
/// away with the sandbox (unprivileged).
#[test]
fn binds_and_overlays_on_root_become_the_root() {
    let dir = scratch("onroot");
    let d = dir.to_str().unwrap();
    let o = cleave(&[
        "spawn",
        "--new",
        "mount",
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/tmp",
        "--",
        "sh",
        "-c",
        &format!("touch {d}/written || echo RO; touch /tmp/x && echo TMP"),
    ]);
    assert_eq!(ok(&o), "RO\nTMP\n", "{}", text(&o.stderr));
    assert!(!dir.join("written").exists());
    let layer = dir.join("layer");
    std::fs::create_dir_all(layer.join("bin")).unwrap();
    std::fs::copy("/usr/bin/busybox", layer.join("bin/busybox")).expect("busybox installed");
    for tool in ["sh", "ls"] {
        std::os::unix::fs::symlink("busybox", layer.join("bin").join(tool)).unwrap();
    }
    run_ok("chmod", &["-R", "a+rX", d]);
    let o = nobody(&[
        "spawn",
        "--new",
        "user,mount",
        "--cap-drop",
        "all",
        "--overlay-src",
        layer.to_str().unwrap(),
        "--tmp-overlay",
        "/",
        "--",
        "/bin/sh",
        "-c",
        "ls /; echo x > /new && ls /",
    ]);
    assert_eq!(ok(&o), "bin\nbin\nnew\n", "{}", text(&o.stderr));
    assert!(!layer.join("new").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The spawn arguments of a root built from nothing: a tmpfs, the host's /usr read-only,
/// and the host's top-level links into /usr (or binds of those directories).
fn root_from_nothing() -> Vec<&'static str> {
    let mut args = vec!["--tmpfs", "/", "--ro-bind", "/usr", "/usr"];
    for link in ["bin", "lib", "lib64", "sbin"] {
        if std::fs::symlink_metadata(format!("/{link}")).is_ok_and(|m| m.is_symlink()) {
            args.extend_from_slice(&[
                "--symlink",
                leak(format!("usr/{link}")),
                leak(format!("/{link}")),
            ]);
        } else if std::path::Path::new(&format!("/{link}")).exists() {
            args.extend_from_slice(&[
                "--ro-bind",
                leak(format!("/{link}")),
                leak(format!("/{link}")),
            ]);
        }
    }
    args
}

/// A program that keeps CAP_SYS_ADMIN gets its mounts locked in a nested user namespace,
/// whose maps cleave now writes through the caller's /proc, opened before the new root
/// existed: a root built from nothing and `--ro-bind / /` need no /proc of their own (both
/// failed with 126 on the previous code). From inside: the program is uid 0 (every
/// capability), yet unmounting what cleave mounted answers EINVAL, the kernel's answer for
/// a locked mount (EPERM would mean no capability; success, no lock). Root and uid 65534.
/// The unmount is mount_namespaces(7)'s rule for mounts inherited into a less privileged
/// namespace (umount2 gives EINVAL), as escape.rs locked_mounts_cannot_be_unmounted tries
/// it under the presets.
#[test]
fn mount_lock_needs_no_proc_in_the_new_root() {
    let dir = scratch("lock");
    let marker = dir.join("written");
    let m = marker.to_str().unwrap();
    for as_nobody in [false, true] {
        let run = |args: &[&str]| {
            let mut c = if as_nobody {
                let mut c = Command::new("setpriv");
                c.args(NOBODY).arg(BIN);
                c
            } else {
                Command::new(BIN)
            };
            c.current_dir("/").args(args).output().expect("run cleave")
        };
        let who = if as_nobody { "uid 65534" } else { "root" };

        let mut args = vec!["spawn", "--new", "user,mount"];
        args.extend(root_from_nothing());
        args.extend_from_slice(&["--", "/usr/bin/true"]);
        ok(&run(&args));

        args.truncate(args.len() - 2);
        args.extend_from_slice(&[
            "--",
            "/bin/sh",
            "-c",
            "test -e /proc/self || echo no-proc; busybox umount /usr 2>&1; echo umount=$?; \
             test -x /usr/bin/true && echo usr-kept; \
             touch /usr/cleave-probe 2>/dev/null || echo usr-ro; id -u",
        ]);
        assert_eq!(
            ok(&run(&args)),
            "no-proc\numount: can't unmount /usr: Invalid argument\numount=1\nusr-kept\nusr-ro\n0\n",
            "{who}, root from nothing"
        );

        let script = format!(
            "touch {m} 2>/dev/null || echo root-ro; busybox umount /tmp 2>&1; echo umount=$?; \
             touch /tmp/x && echo tmp-rw; id -u"
        );
        let args = [
            "spawn",
            "--new",
            "user,mount",
            "--ro-bind",
            "/",
            "/",
            "--tmpfs",
            "/tmp",
            "--",
            "/bin/sh",
            "-c",
            &script,
        ];
        assert_eq!(
            ok(&run(&args)),
            "root-ro\numount: can't unmount /tmp: Invalid argument\numount=1\ntmp-rw\n0\n",
            "{who}, --ro-bind / /"
        );
        assert!(!marker.exists(), "{who} wrote {m} through --ro-bind / /");

        // The caller's /proc, held for the lock, never reaches the program: it has its
        // stdio and nothing else (ls's own directory is fd 3), with cleave's init and
        // without.
        for new in ["user,mount,pid", "user,mount"] {
            let mut args = vec!["spawn", "--new", new];
            args.extend(root_from_nothing());
            args.extend_from_slice(&["--proc", "/proc", "--", "/bin/ls", "/proc/self/fd"]);
            assert_eq!(ok(&run(&args)), "0\n1\n2\n3\n", "{who}, --new {new}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
