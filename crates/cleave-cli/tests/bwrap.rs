//! bubblewrap's command line (issue 12): typical flatpak and build-tool invocations run
//! through `cleave bwrap`, through the binary under the name `bwrap` (a symlink), and through
//! the real bubblewrap (/usr/bin/bwrap, Debian's 0.8), as root and as uid 65534; what the
//! program sees inside (mounts, id maps, ids, hostname, namespaces, environment,
//! capabilities, no_new_privs, working directory, pid, open descriptors) must be the same.
//! The invocations mirror bubblewrap's own tests/test-run.sh (--unshare-all, --as-pid-1,
//! --info-fd/--json-status-fd, --cap-add/--cap-drop, --setenv/--unsetenv/--clearenv) and
//! the command lines flatpak (common/flatpak-run.c) and build tools give it.
//! Needs root and bubblewrap; with CI=true a missing one is a failure, not a skip.
mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{text, BIN, NOBODY};

const BWRAP: &str = "/usr/bin/bwrap";

fn ready() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let have = Path::new(BWRAP).exists();
    if root && have {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the bwrap tests need root and bubblewrap (apt-get install bubblewrap; CI=true: no skipping)"
    );
    eprintln!("skipped: needs root and {BWRAP}");
    false
}

/// A directory of this test's under /var/tmp, readable by everyone, with a link named
/// `bwrap` to the cleave binary.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(format!(
        "/var/tmp/cleave-bwrap-t/{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("work")).unwrap();
    for d in [
        dir.parent().unwrap(),
        &dir,
        &dir.join("bin"),
        &dir.join("work"),
    ] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    symlink(BIN, dir.join("bin/bwrap")).unwrap();
    dir
}

#[derive(Clone, Copy, Debug)]
enum Via {
    /// `cleave bwrap ...`
    Verb,
    /// cleave run as `bwrap`.
    Link,
    /// bubblewrap itself.
    Real,
}

const ALL: [Via; 3] = [Via::Verb, Via::Link, Via::Real];

/// Runs `argv` through `via`, as root or as nobody, from "/" with a fixed environment;
/// `fds` are shell redirections (`9<FILE`) made for the run.
fn run(dir: &Path, via: Via, nobody: bool, fds: &str, argv: &[String]) -> Output {
    let mut cmd = Command::new(if nobody { "setpriv" } else { "sh" });
    if nobody {
        cmd.args(NOBODY).arg("sh");
    }
    cmd.arg("-c").arg(format!("exec \"$@\" {fds}")).arg("sh");
    match via {
        Via::Verb => cmd.arg(BIN).arg("bwrap"),
        Via::Link => cmd.arg(dir.join("bin/bwrap")),
        Via::Real => cmd.arg(BWRAP),
    };
    cmd.args(argv)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", "/")
        .env("LANG", "C.UTF-8")
        .env("FOO", "outside")
        .output()
        .expect("run the sandbox")
}

/// What the probe prints, section by section.
const PROBE: &str = r#"
echo '== mounts'; cat /proc/self/mountinfo
echo '== maps'; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups 2>&1
echo '== ids'; id -u; id -g; id -G
echo '== hostname'; cat /proc/sys/kernel/hostname
echo '== ns'; for n in cgroup ipc mnt net pid user uts; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo '== env'; env | LC_ALL=C sort
echo '== status'; grep -E '^(Cap|NoNewPrivs)' /proc/self/status
echo '== cwd'; pwd -P
echo '== pid'; echo $$
echo '== fds'; ls /proc/self/fd | LC_ALL=C sort -n | tr '\n' ' '; echo
"#;

/// The probe's output with what legitimately differs between two runs taken out: mount ids,
/// devices and sources, namespace inodes (each becomes "host" or "new"), a pid outside a
/// new PID namespace, and the outside column of the id maps. That column is the id in the
/// parent user namespace, and both put the program in a nested one for reasons of their
/// own: bubblewrap maps the caller to 0 first when it mounts a devpts, cleave locks its
/// mounts in a nested namespace when the program may hold CAP_SYS_ADMIN. The inside ids,
/// the counts and what the program runs as (`ids`) are compared as they are.
fn view(out: &Output) -> BTreeMap<String, Vec<String>> {
    assert!(
        out.status.success(),
        "the probe failed ({:?}): {}",
        out.status,
        text(&out.stderr)
    );
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text(&out.stdout).lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = name.to_string();
            continue;
        }
        let line = match current.as_str() {
            "mounts" => match mount_line(line) {
                Some(l) => l,
                None => continue,
            },
            "ns" => {
                let (name, link) = line.split_once(' ').unwrap_or((line, ""));
                let host = std::fs::read_link(format!("/proc/self/ns/{name}"))
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{name} {}", if link == host { "host" } else { "new" })
            }
            "maps" => {
                let f: Vec<&str> = line.split_whitespace().collect();
                match f[..] {
                    [inside, _outside, count] => format!("{inside} {count}"),
                    _ => line.to_string(),
                }
            }
            "pid" => match line.trim().parse::<u32>() {
                Ok(n) if n <= 2 => n.to_string(),
                _ => "a pid of the caller's namespace".into(),
            },
            _ => line.to_string(),
        };
        sections.entry(current.clone()).or_default().push(line);
    }
    sections
}

/// A mountinfo line as "MOUNTPOINT ROOT FSTYPE ro|rw". Left out, as differences by design:
/// what cleave mounts over /proc's dangerous files (it masks more than bubblewrap) and
/// /dev/shm (a tmpfs in cleave's /dev, a directory in bubblewrap's); the root's source.
fn mount_line(line: &str) -> Option<String> {
    let f: Vec<&str> = line.split(' ').collect();
    let (root, point, opts) = (f.get(3)?, f.get(4)?, f.get(5)?);
    let dash = f.iter().position(|x| *x == "-")?;
    let fstype = f.get(dash + 1)?;
    if point.starts_with("/proc/") || *point == "/dev/shm" {
        return None;
    }
    let ro = if opts.split(',').any(|o| o == "ro") {
        "ro"
    } else {
        "rw"
    };
    if *point == "/" {
        return Some(format!("/ {fstype} {ro}"));
    }
    // A --bind-data file lives on a private tmpfs, under a name of each tool's choosing.
    let root = if *fstype == "tmpfs" && *root != "/" {
        "(a private file)"
    } else {
        root
    };
    Some(format!("{point} {root} {fstype} {ro}"))
}

/// Runs the same argv through the three and checks the views agree.
fn same_view(name: &str, nobody: bool, fds: &str, argv: &[String]) {
    let dir = scratch(name);
    let views: Vec<_> = ALL
        .iter()
        .map(|via| (via, view(&run(&dir, *via, nobody, fds, argv))))
        .collect();
    let real = &views[2].1;
    for (via, v) in &views[..2] {
        for (section, lines) in real {
            assert_eq!(
                v.get(section),
                Some(lines),
                "{name} ({}): `{section}` differs through {via:?} from bubblewrap's",
                if nobody { "uid 65534" } else { "root" }
            );
        }
        assert_eq!(v.len(), real.len(), "{name}: sections differ");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| w.to_string()).collect()
}

/// The usual start of a sandbox built from nothing: /usr and the merged-/usr links.
const USR: &[&str] = &[
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/sbin",
    "/sbin",
];

/// flatpak's shape: most options come through `--args FD` (NUL-separated), the program on
/// the command line.
fn flatpak(nobody: bool) {
    let dir = scratch(if nobody {
        "flatpak-args-n"
    } else {
        "flatpak-args-r"
    });
    let mut opts = words(USR);
    opts.extend(words(&[
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--hostname",
        "app",
        "--die-with-parent",
        "--ro-bind",
        "/etc",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--dir",
        "/run/user/app",
        "--setenv",
        "XDG_RUNTIME_DIR",
        "/run/user/app",
        "--unsetenv",
        "LANG",
        "--setenv",
        "FOO",
        "inside",
        "--chdir",
        "/tmp",
    ]));
    let file = dir.join("args");
    std::fs::write(&file, opts.join("\0") + "\0").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut argv = words(&["--args", "9", "--", "/bin/sh", "-c"]);
    argv.push(PROBE.into());
    // fd 8 is the caller's and passes to the program, as in bubblewrap.
    same_view(
        if nobody { "flatpak-n" } else { "flatpak-r" },
        nobody,
        &format!("9<{} 8</dev/null", file.display()),
        &argv,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flatpak_style_as_root() {
    if ready() {
        flatpak(false);
    }
}

#[test]
fn flatpak_style_as_nobody() {
    if ready() {
        flatpak(true);
    }
}

/// A build tool's shape: the system read-only, a work tree writable, no network, a clean
/// environment.
fn build_tool(nobody: bool) {
    let work = format!(
        "/var/tmp/cleave-bwrap-t/work-{}-{}",
        if nobody { "n" } else { "r" },
        std::process::id()
    );
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut argv = words(USR);
    argv.extend(words(&[
        "--ro-bind",
        "/etc",
        "/etc",
        "--bind",
        &work,
        &work,
        "--chdir",
        &work,
        "--unshare-net",
        "--unshare-pid",
        "--unshare-user",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        &work,
        "--new-session",
        "/bin/sh",
        "-c",
    ]));
    argv.push(PROBE.into());
    same_view(
        if nobody { "build-n" } else { "build-r" },
        nobody,
        "",
        &argv,
    );
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn build_tool_style_as_root() {
    if ready() {
        build_tool(false);
    }
}

#[test]
fn build_tool_style_as_nobody() {
    if ready() {
        build_tool(true);
    }
}

/// --unshare-all with the network kept, other ids inside, PID 1 the program itself.
fn unshare_all(nobody: bool) {
    let mut argv = words(USR);
    argv.extend(words(&[
        "--unshare-all",
        "--share-net",
        "--unshare-user",
        "--uid",
        "1234",
        "--gid",
        "4321",
        "--hostname",
        "h",
        "--proc",
        "/proc",
        "--as-pid-1",
        "--",
        "/bin/sh",
        "-c",
    ]));
    argv.push(PROBE.into());
    same_view(if nobody { "all-n" } else { "all-r" }, nobody, "", &argv);
}

#[test]
fn unshare_all_with_ids_as_root() {
    if ready() {
        unshare_all(false);
    }
}

#[test]
fn unshare_all_with_ids_as_nobody() {
    if ready() {
        unshare_all(true);
    }
}

/// Root keeps its capabilities less --cap-drop plus --cap-add; anyone else gets only
/// --cap-add (bubblewrap's tests/test-run.sh "capabilities").
#[test]
fn capabilities_as_bubblewrap_gives_them() {
    if !ready() {
        return;
    }
    for (nobody, caps) in [
        (false, &["--cap-drop", "ALL", "--cap-add", "CAP_CHOWN"][..]),
        (false, &["--cap-drop", "CAP_SYS_ADMIN"][..]),
        (true, &["--cap-add", "CAP_NET_RAW"][..]),
    ] {
        let mut argv = words(USR);
        argv.extend(words(caps));
        argv.extend(words(&[
            "--unshare-pid",
            "--proc",
            "/proc",
            "--",
            "/bin/sh",
            "-c",
        ]));
        argv.push(PROBE.into());
        same_view("caps", nobody, "", &argv);
    }
}

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
    // SELinux labels are refused by cleave, saying so.
    let out = run(
        &dir,
        Via::Verb,
        false,
        "",
        &words(&["--exec-label", "x", "true"]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("SELinux"),
        "{}",
        text(&out.stderr)
    );
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

/// A sandbox started by bubblewrap, `sleep` as PID 1 of a new user and PID namespace, and
/// its pid (from --info-fd); killed when dropped. (Without --as-pid-1 the pid reported is
/// bubblewrap's init, whose user namespace maps only 0 when it is not root.)
struct Target {
    child: std::process::Child,
    pid: i64,
}

impl Target {
    fn start(dir: &Path, nobody: bool) -> Target {
        let info = dir.join(format!("target-info-{nobody}"));
        let mut cmd = Command::new(if nobody { "setpriv" } else { "sh" });
        if nobody {
            cmd.args(NOBODY).arg("sh");
        }
        let mut child = cmd
            .arg("-c")
            .arg(format!(
                "exec {BWRAP} --unshare-user --unshare-pid --as-pid-1 --die-with-parent --ro-bind / / --info-fd 6 sleep 60 6>{}",
                info.display()
            ))
            .spawn()
            .expect("start bubblewrap");
        // Waits for the info (written once the sandbox exists) and the exec; no timing is
        // asserted.
        for _ in 0..600 {
            if let Some(pid) = std::fs::read_to_string(&info)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["child-pid"].as_i64())
            {
                // Once it runs sleep, its set-up (a nested user namespace) is over.
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"));
                if comm.is_ok_and(|c| c.trim() == "sleep") {
                    return Target { child, pid };
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("bubblewrap wrote no info");
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// The file operations: --file, --bind-data, --ro-bind-data, --bind-fd, --ro-bind-fd,
/// --mqueue, --dir, --chmod, with --perms and --size, and --dev-bind of one node: modes,
/// owners, contents, what is writable, mounts and the descriptors left (bubblewrap's
/// tests/test-run.sh "--file", "--bind-data", "--perms", "--size", "--chmod").
fn file_ops(nobody: bool) {
    let dir = scratch(if nobody { "files-n" } else { "files-r" });
    let data = dir.join("data");
    std::fs::write(&data, "hello\n").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
    let tree = dir.join("work");
    let mut argv = words(USR);
    argv.extend(words(&[
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "0700",
        "--size",
        "1048576",
        "--tmpfs",
        "/tmp",
        "--file",
        "5",
        "/tmp/f",
        "--perms",
        "0640",
        "--bind-data",
        "6",
        "/bd",
        "--ro-bind-data",
        "7",
        "/rbd",
        "--bind-fd",
        "8",
        "/bfd",
        "--ro-bind-fd",
        "9",
        "/rbfd",
        "--unshare-ipc",
        "--mqueue",
        "/dev/mqueue",
        "--perms",
        "0751",
        "--dir",
        "/d",
        "--chmod",
        "0700",
        "/d",
        "--dev-bind",
        "/dev/null",
        "/nul",
        "--",
        "/bin/sh",
        "-c",
    ]));
    argv.push(format!(
        "{PROBE}\necho '== files'; stat -c '%A %u %g %s %n' /bd /rbd /tmp/f /d /tmp /dev/mqueue /nul; \
         cat /tmp/f /bd /rbd; (echo x > /bd) 2>&1; (echo x > /rbd) 2>&1; (touch /rbfd/z) 2>&1; \
         touch /bfd/z && echo bfd-writable; rm -f /bfd/z; echo z > /nul && echo nul-works"
    ));
    let d = data.display();
    let t = tree.display();
    let fds = format!("5<{d} 6<{d} 7<{d} 8<{t} 9<{t}");
    same_view(
        if nobody { "file-ops-n" } else { "file-ops-r" },
        nobody,
        &fds,
        &argv,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_operations_as_root() {
    if ready() {
        file_ops(false);
    }
}

#[test]
fn file_operations_as_nobody() {
    if ready() {
        file_ops(true);
    }
}

/// --overlay-src with --overlay, --tmp-overlay and --ro-overlay (bubblewrap 0.8 has no
/// overlays to compare with, so what the program sees is asserted; bubblewrap's later
/// tests/test-run.sh "overlay" checks the same three behaviours): layers merged, writes
/// going to the upper directory, discarded, or refused.
#[test]
fn overlays() {
    if !ready() {
        return;
    }
    let dir = scratch("overlay");
    let (low1, low2, upper, work) = (
        dir.join("low1"),
        dir.join("low2"),
        dir.join("upper"),
        dir.join("ovl-work"),
    );
    for d in [&low1, &low2, &upper, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(low1.join("a"), "1").unwrap();
    std::fs::write(low2.join("b"), "2").unwrap();
    let s = |p: &PathBuf| p.display().to_string();
    for via in [Via::Verb, Via::Link] {
        let mut argv = words(USR);
        argv.extend(words(&[
            "--overlay-src", &s(&low1), "--overlay", &s(&upper), &s(&work), "/rw",
            "--overlay-src", &s(&low1), "--tmp-overlay", "/tmp-ovl", "--overlay-src", &s(&low1),
            "--overlay-src", &s(&low2), "--ro-overlay", "/ro", "/bin/sh", "-c",
            "cat /rw/a /ro/a /ro/b; echo; echo w > /rw/new && echo rw-ok; \
             echo t > /tmp-ovl/new && cat /tmp-ovl/new; (echo r > /ro/new) 2>/dev/null || echo ro-refused",
        ]));
        let out = run(&dir, via, false, "", &argv);
        assert!(out.status.success(), "{via:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "112\nrw-ok\nt\nro-refused\n", "{via:?}");
        // Writes reached the upper directory only; the lower layers are untouched.
        assert_eq!(std::fs::read_to_string(upper.join("new")).unwrap(), "w\n");
        std::fs::remove_file(upper.join("new")).unwrap();
        let mut low: Vec<_> = std::fs::read_dir(&low1)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        low.sort();
        assert_eq!(low, ["a"], "{via:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
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
