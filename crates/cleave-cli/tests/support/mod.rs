//! Shared by the CLI tests: run the binary, as root or as nobody, and keep a target process
//! alive for the duration of a test.
#![allow(dead_code)]
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_cleave");
pub const NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

pub fn cleave(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run cleave")
}

pub fn nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(NOBODY)
        .arg(BIN)
        .args(args)
        .output()
        .expect("run setpriv (util-linux)")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `readlink /proc/PID/ns/NAME`, e.g. `uts:[4026531838]`.
pub fn ns_link(pid: impl std::fmt::Display, name: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A process started with `cleave spawn -v SPAWN_ARGS -- sleep 30`; killed when dropped.
/// The PID `cleave spawn -v` reports on its first line of stderr (piped); cleave is killed
/// when there is none. The rest of stderr is left unread (cleave survives a closed pipe).
pub fn started_pid(cleave: &mut Child) -> i32 {
    let mut line = String::new();
    BufReader::new(cleave.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.strip_prefix("cleave: started pid ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            let _ = cleave.kill();
            panic!("no pid in `{line}`")
        })
}

pub struct Target {
    /// The sleep's PID (in this test's PID namespace).
    pub pid: i32,
    cleave: Child,
}

impl Target {
    pub fn start(as_nobody: bool, spawn_args: &[&str]) -> Target {
        let mut cmd = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args(NOBODY).arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        let mut cleave = cmd
            .arg("spawn")
            .arg("-v")
            .args(spawn_args)
            .args(["--", "sleep", "30"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cleave spawn");
        let pid = started_pid(&mut cleave);
        // -v reports the pid at clone: until `sleep` runs (the child itself, or under
        // cleave's init in a PID namespace) it is still cleave setting up, and `enter` would
        // take it for a cleave process with no sandbox yet: wait for the exec.
        let comm = |p: &str| std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        let sleeping = || {
            comm(&pid.to_string()) == "sleep\n"
                || std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .any(|c| comm(c) == "sleep\n")
        };
        let start = std::time::Instant::now();
        while std::fs::metadata(format!("/proc/{pid}")).is_ok() && !sleeping() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "pid {pid} never became sleep"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Target { pid, cleave }
    }

    pub fn arg(&self) -> String {
        self.pid.to_string()
    }

    /// The `cleave spawn` process itself (setpriv execs it: the same PID).
    pub fn supervisor(&self) -> String {
        self.cleave.id().to_string()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a PID and a signal number.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let _ = self.cleave.wait();
    }
}

/// Where `cleave spawn` puts a sandbox's cgroups when this process runs it: the process's
/// own cgroup in each mounted hierarchy (the default) and each hierarchy's `cleave`
/// directory (the fallback), from /proc/self/cgroup and /proc/self/mountinfo.
pub fn cgroup_leaf_parents() -> Vec<std::path::PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut dirs = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (root, point, fstype) = (left[3], left[4], right[0]);
        let options = right.get(2).copied().unwrap_or("");
        let mine = own.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (id, ctls, path) = (f.next()?, f.next()?, f.next()?);
            let hit = match fstype {
                "cgroup2" => id == "0",
                "cgroup" => {
                    !ctls.is_empty() && ctls.split(',').all(|c| options.split(',').any(|o| o == c))
                }
                _ => false,
            };
            hit.then_some(path)
        });
        if let Some(path) = mine {
            let point = std::path::Path::new(point);
            dirs.push(point.join("cleave"));
            if let Ok(rel) = std::path::Path::new(path).strip_prefix(root) {
                if !rel.as_os_str().is_empty() {
                    dirs.push(point.join(rel));
                }
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Fills `dir` with the busybox rootfs of scripts/mkrootfs.sh (its chatter discarded, its
/// failure a panic that says so).
#[allow(dead_code)]
pub fn mkrootfs(dir: &std::path::Path) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mkrootfs.sh");
    let out = std::process::Command::new("sh")
        .arg(script)
        .arg(dir)
        .output()
        .expect("run scripts/mkrootfs.sh");
    assert!(
        out.status.success(),
        "scripts/mkrootfs.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file with an inotify watch for any open or read of it: "opens nothing" checked by
/// the kernel rather than by atime.
pub struct Canary {
    pub path: std::path::PathBuf,
    fd: i32,
}

impl Canary {
    pub fn new(path: std::path::PathBuf) -> Canary {
        std::fs::write(&path, "canary\n").unwrap();
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: inotify calls on a path string that outlives them.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: as above.
        let w = unsafe {
            libc::inotify_add_watch(
                fd,
                c.as_ptr(),
                libc::IN_OPEN | libc::IN_ACCESS | libc::IN_MODIFY,
            )
        };
        assert!(w >= 0);
        Canary { path, fd }
    }

    /// Whether anything opened the file since the watch was set.
    pub fn touched(&self) -> bool {
        let mut buf = [0u8; 4096];
        // SAFETY: read into a local buffer of its length.
        let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
        let changed = std::fs::read_to_string(&self.path).unwrap() != "canary\n";
        // The events of this check's own read, dropped (nothing else runs meanwhile).
        // SAFETY: as above.
        while unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        n > 0 || changed
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        // SAFETY: closing the fd this value owns.
        unsafe { libc::close(self.fd) };
    }
}

/// Whether the checkpoint tests can run: root and a CRIU of version 4 or later on PATH.
/// Under CI=true a missing one is a failure, not a skip.
pub fn criu_ready_or_skip() -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!ci, "the checkpoint tests need root (CI=true: no skipping)");
        eprintln!("skipped: needs root");
        return false;
    }
    let v4 = Command::new("criu")
        .arg("--version")
        .output()
        .is_ok_and(|o| {
            text(&o.stdout)
                .trim()
                .strip_prefix("Version: ")
                .and_then(|v| v.split('.').next()?.parse::<u32>().ok())
                .is_some_and(|m| m >= 4)
        });
    if !v4 {
        assert!(
            !ci,
            "the checkpoint tests need criu >= 4 on PATH: run scripts/install-criu.sh (CI=true: no skipping)"
        );
        eprintln!("skipped: needs criu >= 4 (scripts/install-criu.sh)");
        return false;
    }
    true
}
