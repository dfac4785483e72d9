//! Values the kernel would refuse only after clone are refused before cleave creates
//! anything: exit 125, one line naming the option and the valid range. That nothing was
//! created is observed, not assumed: each request runs as the only thing in a fresh PID
//! namespace, whose last PID shows whether cleave cloned at all, while inotify watches the
//! cgroup hierarchies for a directory of that cleave's. And --json-status writes to the
//! descriptor it was given: a socket, or a file the caller could not open by path.
//! These tests need root (the README runs the suite as root); they fail, never skip.
#![allow(unsafe_code)]
mod support;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cleave");

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "these tests need root: run them as root, or through sudo from a normal user (see README)"
    );
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `cleave ARGS` as PID 2 of a new PID namespace (a shell is PID 1) and returns its
/// output and the namespace's last PID afterwards: 2 when cleave created no process.
fn alone(args: &[&str]) -> (Output, u32) {
    let o = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg(r#""$0" "$@" >/dev/null; rc=$?; read last </proc/sys/kernel/ns_last_pid; echo "$rc $last""#)
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run unshare (util-linux)");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut f = text.split_whitespace();
    let code: i32 = f.next().and_then(|t| t.parse().ok()).unwrap_or(-1);
    let last: u32 = f.next().and_then(|t| t.parse().ok()).unwrap_or(0);
    let out = Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(code << 8),
        stdout: Vec::new(),
        stderr: o.stderr,
    };
    (out, last)
}

/// Directories created under the cgroup hierarchies, seen through inotify.
struct CgroupWatch {
    fd: OwnedFd,
}

impl CgroupWatch {
    fn start() -> CgroupWatch {
        // SAFETY: inotify_init1 with flags; the fd is owned at once.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(fd >= 0, "inotify_init1");
        // SAFETY: a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut watched = 0;
        let mut watch = |dir: String| {
            let Ok(c) = std::ffi::CString::new(dir) else {
                return;
            };
            // SAFETY: a valid path string and an inotify fd.
            let wd =
                unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_CREATE) };
            if wd >= 0 {
                watched += 1;
            }
        };
        for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .map(String::from)
            .chain(
                std::fs::read_dir("/sys/fs/cgroup")
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path().display().to_string()),
            )
        {
            watch(base.clone());
            watch(format!("{base}/cleave"));
        }
        // The default place: below this process's own cgroups.
        for dir in support::cgroup_leaf_parents() {
            watch(dir.display().to_string());
        }
        assert!(watched > 0, "no cgroup hierarchy to watch");
        CgroupWatch { fd }
    }

    /// Names created since the last call.
    fn created(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            // SAFETY: reading into a buffer of its size.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return names;
            }
            let mut at = 0usize;
            while at + 16 <= n as usize {
                let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap()) as usize;
                let name = &buf[at + 16..at + 16 + len];
                let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
                names.push(String::from_utf8_lossy(name).into_owned());
                at += 16 + len;
            }
        }
    }
}

/// The cgroup leaf of a cleave that is PID 2 of its namespace: `sandbox-2-N`.
fn ours(names: &[String]) -> Vec<&String> {
    names
        .iter()
        .filter(|n| n.starts_with("sandbox-2-"))
        .collect()
}

#[test]
fn bad_values_are_refused_before_anything_exists() {
    require_root();
    // The control: a valid request with a limit is seen creating a process and a cgroup,
    // so the observation below cannot pass by seeing nothing at all.
    let control = [
        "spawn",
        "--new",
        "user,mount",
        "--tmpfs",
        "/mnt",
        "--memory",
        "64M",
        "--",
        "true",
    ];
    let (o, _) = alone(&control);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let watch = CgroupWatch::start();
    let (o, last) = alone(&control);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(last > 2, "the control made no process (last PID {last})");
    assert!(
        !ours(&watch.created()).is_empty(),
        "the control made no cgroup"
    );

    let long = "a".repeat(70_000);
    // Each request also asks for a cgroup (--memory) and a mount, which a late check
    // would have created first.
    let extra = [
        "--new",
        "user,mount,uts",
        "--tmpfs",
        "/mnt",
        "--memory",
        "64M",
    ];
    let cases: &[(&[&str], &str, &str)] = &[
        (&["--set-tid", "0"], "--set-tid 0:", "from 1 to"),
        (&["--set-tid", "-3"], "--set-tid -3:", "from 1 to"),
        (
            &["--map-user", "4294967295:0:1"],
            "--map-user",
            "at most 4294967295",
        ),
        (
            &["--map-group", "0:1:4294967295"],
            "--map-group",
            "at most 4294967295",
        ),
        (
            &["--cpus", "1e308"],
            "--cpus 1e308:",
            "from 0.01 to 175921860",
        ),
        (&["--cpus", "nan"], "--cpus NaN:", "from 0.01 to 175921860"),
        (&["--cpus", "inf"], "--cpus inf:", "from 0.01 to 175921860"),
        (&["--cpus", "-1"], "--cpus -1", "from 0.01 to 175921860"),
        (&["--cpu-weight", "0"], "--cpu-weight 0:", "from 1 to 10000"),
        (
            &["--cpu-weight", "10001"],
            "--cpu-weight 10001:",
            "from 1 to 10000",
        ),
        (&["--memory", "1"], "--memory 1:", "minimum of 1M"),
        (&["--hostname", &long], "--hostname \"", "at most 64 bytes"),
        (
            &["--domainname", &long],
            "--domainname \"",
            "at most 64 bytes",
        ),
        (
            &["--monotonic", "-9999999999999"],
            "--monotonic -9999999999999:",
            "give an offset from -",
        ),
        (
            &["--boottime", "-9999999999999"],
            "--boottime -9999999999999:",
            "give an offset from -",
        ),
        (
            &["--boottime", "9999999999999"],
            "--boottime 9999999999999:",
            "0 to 4611686018 s",
        ),
        (&["--preserve-fd", "999"], "--preserve-fd 999:", "not open"),
        (
            &["--setenv", "A=B", "x"],
            "--setenv \"A=B\":",
            "without '='",
        ),
        (&["--setenv", "", "x"], "--setenv \"\":", "non-empty"),
        (&["--unsetenv", "A=B"], "--unsetenv \"A=B\":", "without '='"),
        (&["--umask", "1000"], "--umask 1000:", "at most 777 (octal)"),
        (&["--umask", "8"], "--umask 8:", "octal mask"),
        (&["--group", "5"], "--group:", "setgroups(2) is refused"),
        (&["--json-status", "999"], "--json-status 999:", "not open"),
        (
            &["--json-status", "0"],
            "--json-status 0:",
            "open it for writing",
        ),
    ];
    let mut failures = Vec::new();
    for (bad, option, range) in cases {
        let mut args = vec!["spawn"];
        // --memory 1 is the case itself; the others add a valid limit.
        if bad[0] == "--memory" {
            args.extend(&extra[..4]);
        } else {
            args.extend(extra);
        }
        args.extend(*bad);
        args.extend(["--", "true"]);
        let shown: Vec<String> = args.iter().map(|a| a.chars().take(30).collect()).collect();
        let (o, last) = alone(&args);
        let e = err(&o);
        let short: String = e.chars().take(300).collect();
        let made = watch.created();
        let problems = [
            (
                o.status.code() != Some(125),
                format!("exit {:?}", o.status.code()),
            ),
            (
                e.lines().count() != 1,
                format!("{} lines", e.lines().count()),
            ),
            (
                !(e.contains(option) && e.contains(range)),
                "no option or range".into(),
            ),
            (
                last != 2,
                format!("a process was created (last PID {last})"),
            ),
            (
                !ours(&made).is_empty(),
                format!("cgroups were created: {made:?}"),
            ),
            (
                e.contains(&"a".repeat(41)) || e.len() > 300,
                format!("{} bytes", e.len()),
            ),
        ];
        for (_, what) in problems.iter().filter(|(bad, _)| *bad) {
            failures.push(format!("{shown:?}: {what}: {short}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The watch still sees a cleave that creates a cgroup.
    let (o, _) = alone(&control);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!ours(&watch.created()).is_empty(), "the watch went blind");
}

/// The JSON lines a `cleave spawn --json-status 1` wrote to `read`.
fn status_lines(mut read: impl Read) -> Vec<serde_json::Value> {
    let mut text = String::new();
    read.read_to_string(&mut text).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn json_status_writes_to_the_descriptor_itself() {
    require_root();
    let own_uts = std::fs::read_link("/proc/self/ns/uts").unwrap();
    let check = |lines: &[serde_json::Value], code: i64| {
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0]["child-pid"].as_i64().unwrap_or(0) > 0, "{lines:?}");
        let uts = lines[0]["uts-namespace"].as_u64().unwrap_or(0);
        assert!(
            uts > 0 && own_uts.to_string_lossy() != format!("uts:[{uts}]"),
            "{lines:?}"
        );
        assert_eq!(lines[1]["exit-code"].as_i64(), Some(code), "{lines:?}");
    };
    let args = [
        "spawn",
        "--new",
        "user,uts",
        "--json-status",
        "1",
        "--",
        "sh",
        "-c",
        "exit 3",
    ];

    // A socket: it cannot be reopened through /proc/self/fd.
    let (ours, theirs) = UnixStream::pair().unwrap();
    let o = Command::new(BIN)
        .args(args)
        .stdout(Stdio::from(OwnedFd::from(theirs)))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    check(&status_lines(ours), 3);

    // A pipe.
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(child.wait().unwrap().code(), Some(3));
    check(&lines, 3);

    // A root-only file handed to cleave run as uid 65534: written through the descriptor,
    // never reopened by path (which would be refused, or give more than the fd had).
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join("json-status-root-only");
    let _ = std::fs::remove_file(&path);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args)
        .current_dir("/")
        .stdout(Stdio::from(file))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    check(&status_lines(std::fs::File::open(&path).unwrap()), 3);
    std::fs::remove_file(&path).unwrap();
}
