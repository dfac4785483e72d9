//! Sandboxes, proven from the inside: each test runs `cleave spawn` with sandbox options and
//! asserts on what the program saw (hostname, pid, uid_map, mount table, capabilities,
//! limits), as root and, where the option is meant for it, as the unprivileged uid 65534.
//! These tests need root (the README runs the suite as root); they fail, never skip,
//! without it.
mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cleave");

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the sandbox tests need root: run them as root, or through sudo from a normal user (see README)"
    );
}

/// The busybox rootfs from scripts/mkrootfs.sh, built once per test binary.
fn rootfs() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        require_root();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rootfs");
        support::mkrootfs(&dir);
        dir
    })
}

fn as_root(args: &[&str]) -> Output {
    require_root();
    Command::new(BIN).args(args).output().expect("run cleave")
}

fn as_nobody(args: &[&str]) -> Output {
    require_root();
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args)
        .current_dir("/")
        .output()
        .expect("run setpriv (util-linux)")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the same request as root and as uid 65534 and hands each output to `check` along
/// with the caller's uid.
fn both(args: &[&str], check: impl Fn(&Output, u32)) {
    check(&as_root(args), 0);
    check(&as_nobody(args), 65534);
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        out(o),
        err(o)
    );
    out(o)
}

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

fn hex_caps(status: &str, field: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in {status}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn namespaces_ids_and_hostname_seen_from_inside() {
    // util-linux unshare's tests check the same: pid 1 inside, the hostname, the uid map.
    both(
        &[
            "spawn",
            "--new",
            "user,uts,pid,ipc",
            "--hostname",
            "box",
            "--",
            "sh",
            "-c",
            "echo $(hostname) $$ $(id -u); cat /proc/self/uid_map /proc/self/setgroups",
        ],
        |o, uid| {
            let text = ok(o);
            let mut lines = text.lines();
            // Behind cleave's init the program is PID 2, and the caller is root inside.
            assert_eq!(lines.next(), Some("box 2 0"), "{text}");
            let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
            assert_eq!(map, ["0", &uid.to_string(), "1"], "{text}");
            assert_eq!(lines.next(), Some("deny"), "{text}");
        },
    );
    // --map-current keeps the caller's uid.
    let o = as_nobody(&[
        "spawn",
        "--new",
        "user",
        "--map-current",
        "--",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
    ]);
    let text = ok(&o);
    assert!(text.starts_with("65534\n"), "{text}");
    assert!(
        text.contains("65534      65534          1")
            || text.split_whitespace().collect::<Vec<_>>()[1..4] == ["65534", "65534", "1"],
        "{text}"
    );
}

#[test]
fn supplementary_groups_and_umask_inside() {
    // Root without a user namespace, and in one whose group map root writes.
    let o = as_root(&["spawn", "--group", "5", "--group", "100", "--", "id", "-G"]);
    assert_eq!(ok(&o), "0 5 100\n");
    let o = as_root(&[
        "spawn",
        "--new",
        "user",
        "--map-user",
        "0:100000:1000",
        "--map-group",
        "0:100000:1000",
        "--gid",
        "3",
        "--group",
        "20",
        "--",
        "id",
        "-G",
    ]);
    assert_eq!(ok(&o), "3 20\n");
    // Without privilege setgroups is denied: refused before anything runs.
    let o = as_nobody(&["spawn", "--new", "user", "--group", "5", "--", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(
        err(&o).contains("--group: setgroups(2) is refused"),
        "{}",
        err(&o)
    );
    // The umask the program starts with, and the mode of what it creates.
    let o = as_root(&[
        "spawn",
        "--umask",
        "077",
        "--new",
        "mount",
        "--tmpfs",
        "/mnt",
        "--",
        "sh",
        "-c",
        "umask; : > /mnt/f; stat -c %a /mnt/f /mnt",
    ]);
    // The tmpfs cleave made keeps its mode: the umask is set after it.
    assert_eq!(ok(&o), "0077\n600\n755\n");
}

#[test]
fn root_writes_ranges_and_uid_gid_inside() {
    // Maps wider than one id are written by cleave from outside (root), after clone and
    // before the child's first step.
    let o = as_root(&[
        "spawn",
        "--new",
        "user",
        "--map-user",
        "0:100000:65536",
        "--map-group",
        "0:100000:65536",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--",
        "sh",
        "-c",
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
    ]);
    let text = ok(&o);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        words,
        ["1000", "1000", "0", "100000", "65536", "0", "100000", "65536", "allow"],
        "{text}"
    );
    // A uid outside the map is refused before anything runs.
    let o = as_root(&["spawn", "--new", "user", "--uid", "7", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(err(&o).contains("--uid 7 is not mapped"), "{}", err(&o));
}

#[test]
fn map_auto_uses_subuid_through_newuidmap() {
    require_root();
    // The uidmap package's helpers check /etc/subuid; give uid 65534 a range for this test
    // and take it back afterwards.
    let entry = "nobody:300000:65536\n";
    let had = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let (uid0, gid0) = (had("/etc/subuid"), had("/etc/subgid"));
    std::fs::write("/etc/subuid", format!("{uid0}{entry}")).unwrap();
    std::fs::write("/etc/subgid", format!("{gid0}{entry}")).unwrap();
    let o = as_nobody(&[
        "spawn",
        "--new",
        "user",
        "--map-auto",
        "--",
        "cat",
        "/proc/self/uid_map",
        "/proc/self/gid_map",
    ]);
    std::fs::write("/etc/subuid", uid0).unwrap();
    std::fs::write("/etc/subgid", gid0).unwrap();
    let text = ok(&o);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        words,
        ["0", "65534", "1", "1", "300000", "65536", "0", "65534", "1", "1", "300000", "65536"],
        "{text}"
    );
}

#[test]
fn init_reaps_orphans_and_as_pid_1_runs_the_program_itself() {
    both(
        &["spawn", "--new", "pid", "--mount-proc", "--", "sh", "-c",
          "sh -c 'sleep 0.2 & exit 0'; sleep 0.8; \
           for s in /proc/[0-9]*/stat; do read -r l < $s 2>/dev/null && echo \"$l\"; done | awk '$3 == \"Z\"' | wc -l; \
           ls -d /proc/[0-9]* | wc -l"],
        |o, _| {
            let text = ok(o);
            let nums: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(nums[0], "0", "a zombie was left: {text}");
            // init, sh, and the pipeline's few processes: nothing of the host.
            assert!(nums[1].parse::<u32>().unwrap() < 10, "{text}");
        },
    );
    both(
        &[
            "spawn",
            "--new",
            "pid",
            "--as-pid-1",
            "--mount-proc",
            "--",
            "sh",
            "-c",
            "echo $$; cat /proc/1/comm",
        ],
        |o, _| {
            assert_eq!(ok(o), "1\nsh\n");
        },
    );
}

/// Starts `cleave spawn ARGS` with stdout piped, waits for the line "ready", sends `sig` to
/// cleave, and returns its exit code and output.
fn signal_after_ready(args: &[&str], sig: i32) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // SAFETY: kill on a pid we own.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, sig)
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    (child.wait().unwrap().code(), rest)
}

#[test]
fn signals_to_cleave_reach_the_program() {
    require_root();
    let script = "trap 'echo got $0; exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    for extra in [
        &["--new", "user,pid"][..],
        &["--new", "user,pid", "--as-pid-1"],
        &[],
    ] {
        let mut args = vec!["spawn"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sh", "-c", script, "TERM"]);
        let (code, rest) = signal_after_ready(&args, libc::SIGTERM);
        assert_eq!((code, rest.as_str()), (Some(7), "got TERM\n"), "{extra:?}");
    }
}

#[test]
fn rootfs_hides_the_host() {
    let root = rootfs().to_str().unwrap();
    both(
        &[
            "spawn",
            "--new",
            "user,pid,mount,uts,ipc,net",
            "--rootfs",
            root,
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--",
            "/bin/sh",
            "-c",
            "pwd; test -e /work || test -e /usr/bin/cargo || echo host-hidden; \
           echo x > /tmp/f && cat /tmp/f; echo > /dev/null && echo devnull; \
           wc -l < /proc/self/mountinfo; cut -d' ' -f5 /proc/self/mountinfo | sort | tr '\\n' ' '",
        ],
        |o, _| {
            let text = ok(o);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(&lines[..4], ["/", "host-hidden", "x", "devnull"], "{text}");
            // Only the sandbox's own mounts: /, /proc, /dev and its 6 devices, pts, shm, /tmp,
            // and the protections over /proc (as many as this kernel has of those paths).
            let points: Vec<&str> = lines[5].split_whitespace().collect();
            let (protections, own): (Vec<&str>, Vec<&str>) =
                points.iter().partition(|p| p.starts_with("/proc/"));
            assert_eq!(
                own,
                [
                    "/",
                    "/dev",
                    "/dev/full",
                    "/dev/null",
                    "/dev/pts",
                    "/dev/random",
                    "/dev/shm",
                    "/dev/tty",
                    "/dev/urandom",
                    "/dev/zero",
                    "/proc",
                    "/tmp"
                ],
                "{text}"
            );
            for p in &protections {
                let name = p.strip_prefix("/proc/").unwrap();
                assert!(
                    cleave::mount::PROC_READ_ONLY.contains(&name)
                        || cleave::mount::PROC_MASKED.contains(&name),
                    "{p} is not a /proc protection: {text}"
                );
            }
            assert!(protections.contains(&"/proc/sys"), "{text}");
            assert_eq!(lines[4], points.len().to_string(), "{text}");
        },
    );
    // The host's mount table is untouched.
    assert!(
        !mountinfo().contains(root),
        "a sandbox mount leaked to the host"
    );
}

#[test]
fn mount_ops_apply_in_order() {
    both(
        &["spawn", "--new", "mount", "--tmpfs", "/mnt", "--dir", "/mnt/a", "--symlink", "/x", "/mnt/l",
          "--ro-bind", "/etc/hostname", "/mnt/h", "--remount-ro", "/mnt", "--", "sh", "-c",
          "readlink /mnt/l; test -d /mnt/a && echo dir; cmp -s /mnt/h /etc/hostname && echo same; \
           touch /mnt/a/f 2>/dev/null || echo read-only"],
        |o, _| assert_eq!(ok(o), "/x\ndir\nsame\nread-only\n"),
    );
    // The -try forms skip a missing source and bind an existing one.
    let o = as_root(&[
        "spawn",
        "--new",
        "mount",
        "--tmpfs",
        "/mnt",
        "--ro-bind-try",
        "/no/such",
        "/mnt/a",
        "--bind-try",
        "/etc/hostname",
        "/mnt/h",
        "--",
        "ls",
        "/mnt",
    ]);
    assert_eq!(ok(&o), "h\n");
    // Later ops see earlier ones: a tmpfs given after a bind hides it.
    let o = as_root(&[
        "spawn", "--new", "mount", "--bind", "/etc", "/mnt", "--tmpfs", "/mnt", "--", "ls", "/mnt",
    ]);
    assert_eq!(ok(&o), "");
}

#[test]
fn bad_requests_fail_before_anything_is_mounted() {
    let root = rootfs();
    let escape = root.join("escape");
    let _ = std::fs::remove_file(&escape);
    std::os::unix::fs::symlink("../../../../../../..", &escape).unwrap();
    let before = mountinfo();
    let cases: [(&[&str], i32, &str); 7] = [
        (
            &["spawn", "--rootfs", "/no/such/dir", "--", "true"],
            125,
            "--rootfs /no/such/dir",
        ),
        (
            &["spawn", "--new", "user", "--map-user", "0:1", "--", "true"],
            125,
            "INSIDE:OUTSIDE:COUNT",
        ),
        (
            &["spawn", "--new", "mount", "--tmpfs", "tmp", "--", "true"],
            125,
            "absolute path",
        ),
        (
            &[
                "spawn", "--new", "mount", "--bind", "/no/such", "/mnt", "--", "true",
            ],
            125,
            "/no/such",
        ),
        (
            &[
                "spawn",
                "--rootfs",
                root.to_str().unwrap(),
                "--bind",
                "/etc",
                "/escape/etc",
                "--",
                "true",
            ],
            125,
            "leaves the new root",
        ),
        (
            &[
                "spawn",
                "--rootfs",
                root.to_str().unwrap(),
                "--",
                "/bin/no-such-program",
            ],
            127,
            "/bin/no-such-program",
        ),
        (
            &[
                "spawn",
                "--new",
                "mount",
                "--dir",
                "/cleave-test-dir",
                "--",
                "true",
            ],
            125,
            "nothing is created on the host",
        ),
    ];
    for (args, code, needle) in cases {
        let o = as_root(args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", err(&o));
        assert!(err(&o).contains(needle), "{args:?}: {}", err(&o));
        assert_eq!(
            err(&o).lines().filter(|l| l.starts_with("cleave:")).count(),
            1,
            "one message: {}",
            err(&o)
        );
    }
    std::fs::remove_file(&escape).unwrap();
    assert!(!Path::new("/cleave-test-dir").exists());
    assert_eq!(mountinfo(), before);
}

#[test]
fn presets_sandbox_and_container() {
    both(
        &["spawn", "--preset", "sandbox", "--", "sh", "-c",
          "touch /etc/cleave-x 2>/dev/null || echo ro; touch /tmp/y && echo tmp; ls /dev | tr '\\n' ' '; echo; \
           grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; echo $$"],
        |o, _| {
            let text = ok(o);
            assert!(text.starts_with("ro\ntmp\n"), "{text}");
            assert!(text.contains("fd full null ptmx pts random shm stderr stdin stdout tty urandom zero"), "{text}");
            assert_eq!(hex_caps(&text, "CapEff"), 0, "{text}");
            assert_eq!(hex_caps(&text, "CapBnd"), 0, "{text}");
            assert!(text.contains("NoNewPrivs:\t1"), "{text}");
            assert!(text.ends_with("\n2\n"), "{text}");
        },
    );
    assert!(!Path::new("/etc/cleave-x").exists());
    let root = rootfs().to_str().unwrap();
    both(
        &[
            "spawn",
            "--preset",
            "container",
            "--rootfs",
            root,
            "--",
            "/bin/sh",
            "-c",
            "ls /proc/self/ns | wc -l; readlink /proc/1/ns/pid 2>/dev/null || echo refused; test -e /work || echo hidden",
        ],
        |o, _| {
            // cleave's init (PID 1) is not dumpable: the program cannot look into it.
            assert_eq!(ok(o), "10\nrefused\nhidden\n");
        },
    );
    let o = as_root(&["spawn", "--preset", "container", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(err(&o).contains("needs --rootfs"));
}

#[test]
fn capabilities_are_only_those_asked_for() {
    let root = rootfs().to_str().unwrap();
    both(
        &[
            "spawn",
            "--preset",
            "container",
            "--rootfs",
            root,
            "--cap-add",
            "CAP_NET_ADMIN",
            "--",
            "cat",
            "/proc/self/status",
        ],
        |o, _| {
            let text = ok(o);
            assert_eq!(hex_caps(&text, "CapEff"), 1 << 12, "{text}");
            assert_eq!(hex_caps(&text, "CapBnd"), 1 << 12, "{text}");
        },
    );
    // A non-root identity keeps added capabilities through ambient ones.
    let o = as_root(&[
        "spawn",
        "--preset",
        "container",
        "--rootfs",
        root,
        "--map-user",
        "0:0:65536",
        "--map-group",
        "0:0:65536",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--cap-add",
        "NET_BIND_SERVICE",
        "--",
        "/bin/sh",
        "-c",
        "id -u; cat /proc/self/status",
    ]);
    let text = ok(&o);
    assert!(text.starts_with("1000\n"), "{text}");
    assert_eq!(hex_caps(&text, "CapAmb"), 1 << 10, "{text}");
    assert_eq!(hex_caps(&text, "CapEff"), 1 << 10, "{text}");
    // Outside a sandbox, --cap-drop removes just what it names.
    let o = as_root(&[
        "spawn",
        "--cap-drop",
        "CAP_SYS_ADMIN",
        "--",
        "cat",
        "/proc/self/status",
    ]);
    let text = ok(&o);
    assert_eq!(hex_caps(&text, "CapBnd") & (1 << 21), 0, "{text}");
    assert_ne!(hex_caps(&text, "CapEff") & 1, 0, "{text}");
}

#[test]
fn network_namespace_has_loopback_up() {
    both(
        &[
            "spawn",
            "--new",
            "net",
            "--",
            "sh",
            "-c",
            "cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '; ip -o link show lo",
        ],
        |o, _| {
            let text = ok(o);
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("lo"), "only lo: {text}");
            assert!(
                lines.next().unwrap().contains("<LOOPBACK,UP,LOWER_UP>"),
                "{text}"
            );
        },
    );
}

#[test]
fn time_namespace_offsets_apply_before_the_program() {
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    both(
        &[
            "spawn",
            "--new",
            "user",
            "--boottime",
            "86400",
            "--monotonic",
            "-5",
            "--",
            "sh",
            "-c",
            "cat /proc/uptime; cat /proc/self/timens_offsets",
        ],
        |o, _| {
            let text = ok(o);
            let inside: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
            assert!(
                inside >= host + 86400.0 && inside < host + 86400.0 + 60.0,
                "{inside} vs {host}: {text}"
            );
            let offsets: Vec<&str> = text.split_whitespace().skip(2).collect();
            assert_eq!(
                offsets,
                ["monotonic", "-5", "0", "boottime", "86400", "0"],
                "{text}"
            );
        },
    );
}

#[test]
fn rlimits_session_and_preserved_fds() {
    both(
        &[
            "spawn",
            "--rlimit",
            "nofile=64:128",
            "--new-session",
            "--",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; test $(cut -d' ' -f6 /proc/$$/stat) = $$ && echo leader",
        ],
        |o, _| {
            assert_eq!(ok(o), "64\n128\nleader\n");
        },
    );
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("preserved.txt");
    std::fs::write(&file, "kept\n").unwrap();
    let o = as_root(&[
        "spawn",
        "--preserve-fd",
        "5",
        "--",
        "sh",
        "-c",
        "cat <&5; ls /proc/self/fd | tr '\\n' ' '",
    ]);
    // Without the fd open the program fails to read it: open it for this run.
    let _ = o;
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 5<{} 6<{}; {BIN} spawn --preserve-fd 5 -- sh -c 'cat <&5; ls /proc/self/fd | tr \"\\n\" \" \"'", file.display(), file.display()))
        .output()
        .unwrap();
    let text = ok(&o);
    assert!(text.starts_with("kept\n"), "{text}");
    assert!(
        text.contains(" 5 ") && !text.contains(" 6 "),
        "only 0-2, 5 and ls's own: {text}"
    );
}

#[test]
fn json_status_reports_pid_namespaces_and_exit() {
    require_root();
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status.json");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("{BIN} spawn --new user,uts --json-status 3 -- sh -c 'readlink /proc/self/ns/uts; exit 3' 3>{}", file.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    let uts_inside = out(&o)
        .trim()
        .trim_start_matches("uts:[")
        .trim_end_matches(']')
        .to_string();
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0]["child-pid"].as_i64().unwrap() > 0, "{text}");
    assert_eq!(lines[0]["uts-namespace"].to_string(), uts_inside, "{text}");
    assert_eq!(lines[1]["exit-code"], 3, "{text}");
}

fn pids_running(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

fn wait_until_gone(marker: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if pids_running(marker).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn wait_until_running(marker: &str) {
    let start = Instant::now();
    while pids_running(marker).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{marker} never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn die_with_parent_and_kill_child() {
    require_root();
    // With --uid the kernel clears the parent-death signal at setuid: cleave sets it again.
    let as_1000 = "--die-with-parent --map-user 0:0:2000 --map-group 0:0:2000 --uid 1000";
    for (option, pid_ns) in [
        ("--die-with-parent", "user,pid"),
        ("--die-with-parent", "user"),
        (as_1000, "user"),
        ("--kill-child=SIGTERM", "user"),
    ] {
        let marker = format!("1000.{}", option.len() + pid_ns.len());
        // A parent shell that starts cleave and waits; killing it must end the sandbox.
        let mut parent = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{BIN} spawn {option} --new {pid_ns} -- sleep {marker} & wait"
            ))
            .spawn()
            .unwrap();
        wait_until_running(&format!("sleep\0{marker}"));
        if option.starts_with("--die-with-parent") {
            parent.kill().unwrap();
        } else {
            // --kill-child: the sandbox ends with cleave.
            let cleave: Vec<i32> = pids_running(&format!("spawn\0{option}"));
            for pid in cleave {
                // SAFETY: kill on a pid.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(pid, libc::SIGKILL)
                };
            }
        }
        let _ = parent.wait();
        assert!(
            wait_until_gone(&format!("sleep\0{marker}")),
            "{option} {pid_ns}: the sandbox outlived its parent"
        );
    }
}

#[test]
fn setup_failure_halfway_leaves_nothing_behind() {
    require_root();
    let before = mountinfo();
    // The tmpfs and the bind succeed, then chdir fails: the child reports which step failed
    // and exits; its mounts die with its mount namespace.
    for who in [as_root as fn(&[&str]) -> Output, as_nobody] {
        let o = who(&[
            "spawn",
            "--new",
            "pid,mount",
            "--tmpfs",
            "/mnt",
            "--bind",
            "/etc/hostname",
            "/mnt/h",
            "--chdir",
            "/mnt/no-such-dir",
            "--",
            "sleep",
            "1001.5",
        ]);
        assert_eq!(o.status.code(), Some(126), "{}", err(&o));
        assert!(
            err(&o).contains("--chdir /mnt/no-such-dir") && err(&o).contains("ENOENT"),
            "{}",
            err(&o)
        );
    }
    // A step after the init has started the program's process fails (a hard limit above
    // the caller's): the failure is reported, and the init (a copy of cleave, so its command
    // line holds the marker too) must have ended with it.
    let o = as_nobody(&[
        "spawn",
        "--new",
        "pid",
        "--rlimit",
        "nofile=99999999",
        "--",
        "sleep",
        "1001.5",
    ]);
    assert_eq!(o.status.code(), Some(126), "{}", err(&o));
    assert!(err(&o).contains("--rlimit nofile=99999999"), "{}", err(&o));
    // The host's mount table never saw the sandbox's mounts (they lived in its private mount
    // namespace), and no cleave, init or program process is left.
    assert_eq!(mountinfo(), before);
    assert!(pids_running("sleep\u{0}1001.5").is_empty());
    // A program that crashes: its status is reported as 128+N and nothing stays.
    let o = as_root(&[
        "spawn",
        "--new",
        "user,pid,mount",
        "--mount-proc",
        "--",
        "sh",
        "-c",
        "kill -SEGV $$",
    ]);
    assert_eq!(o.status.code(), Some(128 + libc::SIGSEGV));
    assert_eq!(mountinfo(), before);
}

#[test]
fn cgroup_namespace_and_propagation() {
    both(
        &["spawn", "--new", "cgroup", "--", "cat", "/proc/self/cgroup"],
        |o, _| {
            let text = ok(o);
            assert!(
                text.lines().all(|l| l.ends_with(":/")),
                "every hierarchy rooted at the program's cgroup: {text}"
            );
        },
    );
    // slave: the root mount inside follows the host's peer group ("master:N").
    let o = as_root(&[
        "spawn",
        "--new",
        "mount",
        "--propagation",
        "slave",
        "--",
        "sh",
        "-c",
        "awk '$5 == \"/\"' /proc/self/mountinfo",
    ]);
    let text = ok(&o);
    let host_shared = mountinfo()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/") && l.contains("shared:"));
    if host_shared {
        assert!(text.contains("master:"), "{text}");
    } else {
        assert!(!text.contains("shared:"), "{text}");
    }
    let o = as_root(&[
        "spawn",
        "--new",
        "mount",
        "--",
        "sh",
        "-c",
        "awk '$5 == \"/\"' /proc/self/mountinfo",
    ]);
    let text = ok(&o);
    assert!(
        !text.contains("shared:") && !text.contains("master:"),
        "private by default: {text}"
    );
    let o = as_root(&[
        "spawn",
        "--new",
        "mount",
        "--propagation",
        "sideways",
        "--",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
}

fn sandbox_cgroups_left() -> Vec<String> {
    let mut left = Vec::new();
    for parent in support::cgroup_leaf_parents() {
        if let Ok(dirs) = std::fs::read_dir(parent) {
            for d in dirs.flatten() {
                let name = d.file_name().to_string_lossy().into_owned();
                if name.starts_with("sandbox-") {
                    left.push(d.path().display().to_string());
                }
            }
        }
    }
    left
}

/// Held by the tests that create cgroups and look at every `cleave/` leaf on the host, so
/// that one does not count the other's directories.
static CGROUP_TESTS: Mutex<()> = Mutex::new(());

#[test]
fn limits_are_enforced_and_their_cgroup_removed() {
    require_root();
    let _serial = CGROUP_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    // Beyond --memory the program is killed (SIGKILL: 128+9); within it, it runs.
    let alloc = |mib: u32| format!("b = bytearray({mib} << 20); print(len(b) >> 20)");
    let o = as_root(&[
        "spawn",
        "--new",
        "user,pid",
        "--memory",
        "32M",
        "--",
        "python3",
        "-c",
        &alloc(128),
    ]);
    assert_eq!(o.status.code(), Some(137), "{}", err(&o));
    let o = as_root(&[
        "spawn",
        "--new",
        "user,pid",
        "--memory",
        "32M",
        "--",
        "python3",
        "-c",
        &alloc(8),
    ]);
    assert_eq!(ok(&o), "8\n");
    // A fork loop stops at --pids (cleave's init counts as one).
    let o = as_root(&[
        "spawn",
        "--new",
        "user,pid",
        "--pids",
        "8",
        "--",
        "sh",
        "-c",
        "n=0; while [ $n -lt 20 ]; do sleep 2 & n=$((n+1)); echo $n; done",
    ]);
    let started: Vec<u32> = out(&o).lines().filter_map(|l| l.parse().ok()).collect();
    assert!(
        o.status.code() != Some(0) && err(&o).contains("fork"),
        "{}",
        err(&o)
    );
    assert!(
        started.len() < 8,
        "at most 6 children besides init and sh: {started:?}"
    );
    // The quota is what --cpus asked, seen from inside.
    let o = as_root(&["spawn", "--cpus", "0.5", "--cpu-weight", "200", "--", "sh", "-c",
        "p=$(grep -E '^[0-9]+:cpu:' /proc/self/cgroup | cut -d: -f3); \
         if [ -e /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup$p/cpu.max; else cat /sys/fs/cgroup/cpu$p/cpu.cfs_quota_us /sys/fs/cgroup/cpu$p/cpu.cfs_period_us; fi"]);
    let text = ok(&o);
    let nums: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(nums, ["50000", "100000"], "{text}");
    assert!(
        sandbox_cgroups_left().is_empty(),
        "{:?}",
        sandbox_cgroups_left()
    );
    // Bad values are refused before anything is made.
    for (args, needle) in [
        (&["spawn", "--memory", "lots", "--", "true"][..], "lots"),
        (&["spawn", "--cpus", "0", "--", "true"], "--cpus"),
        (
            &["spawn", "--cpu-weight", "0", "--", "true"],
            "--cpu-weight",
        ),
    ] {
        let o = as_root(args);
        assert_eq!(o.status.code(), Some(125), "{args:?}");
        assert!(err(&o).contains(needle), "{}", err(&o));
    }
    // Without root or a delegated cgroup, the error says how to get one.
    let o = as_nobody(&["spawn", "--memory", "32M", "--", "true"]);
    assert_eq!(o.status.code(), Some(126), "{}", err(&o));
    assert!(err(&o).contains("--cgroup-parent"), "{}", err(&o));
    assert!(
        sandbox_cgroups_left().is_empty(),
        "{:?}",
        sandbox_cgroups_left()
    );
}

/// The leaf directories, in every hierarchy (below this process's own cgroups or under
/// `cleave/`), made by one of the cleave processes `owners` (named `sandbox-<pid>-...`).
fn leaves_of(owners: &BTreeSet<u32>) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for parent in support::cgroup_leaf_parents() {
        let Ok(dirs) = std::fs::read_dir(parent) else {
            continue;
        };
        for d in dirs.flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("sandbox-")
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| owners.contains(&p)) && d.path().is_dir() {
                left.push(d.path());
            }
        }
    }
    left
}

/// The processes in the cgroups `leaves`.
fn procs_in(leaves: &[PathBuf]) -> BTreeSet<i32> {
    leaves
        .iter()
        .filter_map(|l| std::fs::read_to_string(l.join("cgroup.procs")).ok())
        .flat_map(|t| {
            t.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Polls `done` every 5 ms for up to 10 s; says whether it came true.
fn poll(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn cgroups_of_a_killed_cleave_are_swept_by_the_next() {
    require_root();
    let _serial = CGROUP_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    // The sleeps are told apart from anyone else's by their argument.
    let marker = format!("29.{}", std::process::id());
    let sleeping = |leaves: &[PathBuf]| {
        procs_in(leaves).into_iter().any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.starts_with(format!("sleep\0{marker}").as_bytes()))
        })
    };
    let mut owners = BTreeSet::new();
    let mut still_running = Vec::new();
    for i in 0..40u64 {
        let mut cleave = Command::new(BIN)
            .args(["spawn", "--memory", "64M", "--pids", "32", "--", "sleep"])
            .arg(&marker)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let me = BTreeSet::from([cleave.id()]);
        owners.insert(cleave.id());
        // SIGKILL at a different point each time: at once (before any cgroup or child
        // exists), after a delay that varies, once its cgroups exist, once the sleep runs.
        match i % 4 {
            0 => {}
            1 => std::thread::sleep(Duration::from_micros(i * 7919 % 30_000)),
            2 => assert!(poll(|| !leaves_of(&me).is_empty()), "no cgroup made"),
            _ => {
                assert!(poll(|| sleeping(&leaves_of(&me))), "the sleep never ran");
                still_running.push(cleave.id());
            }
        }
        cleave.kill().unwrap();
        cleave.wait().unwrap();
    }
    // A sandbox whose cleave is gone but which still runs keeps its cgroups (and limits):
    // the cleaves started after it left them alone.
    for pid in &still_running {
        let leaves = leaves_of(&BTreeSet::from([*pid]));
        assert!(
            sleeping(&leaves),
            "cleave {pid}'s sandbox lost its cgroups: {leaves:?}"
        );
    }
    // Now end the orphaned sandboxes, from their cgroups and by their argument (a child
    // killed before it exec'd still shows cleave's command line, marker included).
    assert!(
        poll(|| {
            let mut left = procs_in(&leaves_of(&owners));
            left.extend(pids_running(&format!("sleep\u{0}{marker}")));
            for p in &left {
                // SAFETY: kill(2) with a PID and a signal number.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(*p, libc::SIGKILL);
                }
            }
            left.is_empty()
        }),
        "the orphaned sleeps would not die"
    );
    assert!(
        !leaves_of(&owners).is_empty(),
        "no kill left a cgroup behind: the test proves nothing"
    );
    // One ordinary run sweeps every empty cgroup whose cleave is gone, in every hierarchy
    // (also those, like pids, that this run does not use itself).
    let o = as_root(&["spawn", "--memory", "64M", "--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let left = leaves_of(&owners);
    assert!(left.is_empty(), "{} left: {left:?}", left.len());
}

#[test]
fn environment_and_argv0() {
    let o = as_root(&[
        "spawn",
        "--clearenv",
        "--setenv",
        "A",
        "1",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--argv0",
        "renamed",
        "--",
        "sh",
        "-c",
        "env | sort | tr '\\n' ' '; echo $0",
    ]);
    let text = ok(&o);
    assert!(
        text.starts_with("A=1 PATH=/usr/bin:/bin PWD="),
        "only what was set (and sh's own PWD): {text}"
    );
    assert!(text.trim_end().ends_with("renamed"), "{text}");
    let o = Command::new(BIN)
        .args([
            "spawn",
            "--unsetenv",
            "CLEAVE_TEST_VAR",
            "--",
            "sh",
            "-c",
            "echo ${CLEAVE_TEST_VAR:-unset}",
        ])
        .env("CLEAVE_TEST_VAR", "set")
        .output()
        .unwrap();
    assert_eq!(ok(&o), "unset\n");
}

#[test]
fn paths_cannot_escape_through_links_or_dotdot() {
    require_root();
    let outside = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("escape-target");
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).unwrap();
    let o_str = outside.to_str().unwrap();
    // A link made by an earlier op, or a `..`, must not put a directory on the host.
    let cases: [&[&str]; 2] = [
        &[
            "spawn",
            "--new",
            "mount",
            "--tmpfs",
            "/mnt",
            "--symlink",
            o_str,
            "/mnt/l",
            "--dir",
            "/mnt/l/escaped",
            "--",
            "true",
        ],
        &[
            "spawn",
            "--new",
            "mount",
            "--tmpfs",
            "/mnt",
            "--dir",
            &format!("/mnt/..{o_str}/escaped"),
            "--",
            "true",
        ],
    ];
    for args in cases {
        let o = as_root(args);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", err(&o));
    }
    // Under a new root the same kind of link resolves inside the root.
    let root = rootfs();
    let o = as_root(&[
        "spawn",
        "--rootfs",
        root.to_str().unwrap(),
        "--symlink",
        "/cleave-escape-test",
        "/y",
        "--dir",
        "/y/inside",
        "--",
        "/bin/sh",
        "-c",
        "test -d /y/inside && echo ok",
    ]);
    // Made inside the sandbox's root, on the layer that keeps the rootfs unchanged.
    let in_rootfs = root.join("cleave-escape-test").exists() || root.join("y").exists();
    let _ = std::fs::remove_file(root.join("y"));
    let _ = std::fs::remove_dir_all(root.join("cleave-escape-test"));
    assert_eq!(ok(&o), "ok\n");
    assert!(!in_rootfs && !Path::new("/cleave-escape-test").exists());
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing was made on the host"
    );
    std::fs::remove_dir_all(&outside).unwrap();
    // A path that exists on the host but sits under an earlier tmpfs is made in the tmpfs.
    let o = as_root(&[
        "spawn",
        "--new",
        "mount",
        "--tmpfs",
        "/etc",
        "--ro-bind",
        "/usr/share",
        "/etc/ssl",
        "--",
        "sh",
        "-c",
        "ls /etc",
    ]);
    assert_eq!(ok(&o), "ssl\n");
}

#[test]
fn review_regressions() {
    require_root();
    // --cap-add for a non-root uid outside a sandbox keeps only what was added.
    let o = as_root(&[
        "spawn",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--cap-add",
        "CAP_NET_BIND_SERVICE",
        "--",
        "cat",
        "/proc/self/status",
    ]);
    let text = ok(&o);
    assert_eq!(hex_caps(&text, "CapAmb"), 1 << 10, "{text}");
    assert_eq!(hex_caps(&text, "CapEff"), 1 << 10, "{text}");
    // A shared fd table cannot go with the PID namespace's init; vfork cannot wait for
    // maps written from outside; a new root cannot pivot from a shared root.
    let root = rootfs().to_str().unwrap();
    for (args, needle) in [
        (
            &[
                "spawn", "--share", "files", "--new", "user,pid", "--", "true",
            ][..],
            "fd table",
        ),
        (
            &[
                "spawn",
                "--vfork",
                "--new",
                "user",
                "--map-user",
                "0:0:1000",
                "--map-group",
                "0:0:1000",
                "--",
                "true",
            ],
            "CLONE_VFORK",
        ),
        (
            &[
                "spawn",
                "--rootfs",
                root,
                "--propagation",
                "shared",
                "--",
                "/bin/true",
            ],
            "pivot_root",
        ),
    ] {
        let o = as_root(args);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", err(&o));
        assert!(err(&o).contains(needle), "{args:?}: {}", err(&o));
    }
    // Started by a parent that ignores SIGCHLD, cleave and its init still see the program end.
    let o = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "10",
            "sh",
            "-c",
            &format!("trap '' CHLD; exec {BIN} spawn --new user,pid -- sh -c 'exit 4'"),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    // --bind stays writable under --preset sandbox's read-only host.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("writable");
    std::fs::create_dir_all(&dir).unwrap();
    // Writable by anyone: root's sandbox runs as nobody on the host by default.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let _ = std::fs::remove_file(dir.join("f"));
    let d = dir.to_str().unwrap();
    let o = as_root(&[
        "spawn",
        "--preset",
        "sandbox",
        "--bind",
        d,
        d,
        "--",
        "sh",
        "-c",
        &format!("touch {d}/f && echo written"),
    ]);
    assert_eq!(ok(&o), "written\n");
    // --json-status names the namespaces even when the program is gone at once.
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-kill.json");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{BIN} spawn --new user,pid,uts,net --json-status 3 -- sh -c 'kill -KILL $$' 3>{}",
            file.display()
        ))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(137), "{}", err(&o));
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    for ns in [
        "uts-namespace",
        "net-namespace",
        "pid-namespace",
        "mnt-namespace",
    ] {
        assert!(first[ns].as_u64().is_some(), "{ns} in {first}");
    }
}
