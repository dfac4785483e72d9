//! Rootless podman (issue 10): Debian's podman 4.3, run by an unprivileged user of its own
//! (a real uid with /etc/subuid and /etc/subgid ranges, through runuser, with its own
//! XDG_RUNTIME_DIR), with `--runtime` the runtime under test behind the argv-logging
//! wrapper of tests/clients.rs.
//!
//! Rootless podman calls its runtime as root of the user namespace it made for the user
//! (the user's uid mapped to 0, the subordinate range above it): the runtime must take that
//! for rootless (`--rootless auto`), keep its state under `$XDG_RUNTIME_DIR/cleave`, bind the
//! host's device nodes instead of making them, and do without cgroups where the user has
//! none (cgroup v1 here), as runc does.
//!
//! The user (`cleave-rootless`) is made with useradd when missing, and given subordinate
//! ranges with usermod when useradd gave none; it stays (like a package the tests install).
//! Mirrors podman's own rootless system tests (containers/podman, test/system/
//! 030-run.bats "podman run - basic tests" and the exit-code cases, run as a rootless user).

#[path = "support/clients.rs"]
mod clients;
#[path = "support/rootless.rs"]
mod rootless;

use clients::*;
use rootless::{rootless_user, USER};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Processes whose environment has this scratch dir's XDG_RUNTIME_DIR: what podman started
/// for the user (its catatonit pause process names no path on its command line).
fn started_here(s: &Scratch) -> Vec<i32> {
    let needle = format!("XDG_RUNTIME_DIR={}", s.path("xdg").display());
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

struct Rootless {
    s: Scratch,
    wrapper: PathBuf,
    rootfs: PathBuf,
}

impl Rootless {
    /// A scratch dir owned by the user: the runtime copied in (the build may be where the
    /// user cannot reach), the wrapper, containers.conf and storage.conf, the rootfs, and
    /// XDG_RUNTIME_DIR (mode 0700).
    fn new(tag: &str) -> (Rootless, Daemon) {
        require_root();
        tool("podman");
        tool("newuidmap");
        tool("runuser");
        rootless_user();
        let s = Scratch::new(tag);
        let rt = s.mkdir("bin").join("cleave-runtime");
        std::fs::copy(runtime(), &rt).unwrap();
        std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o755)).unwrap();
        let wrapper = s.wrapper_of("cleave", &rt);
        let conf = format!(
            "[engine]\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             runtime_supports_json = [\"cleave\"]\n\
             [engine.runtimes]\n\
             cleave = [\"{}\"]\n",
            wrapper.display()
        );
        std::fs::write(s.path("containers.conf"), conf).unwrap();
        let storage = format!(
            "[storage]\ndriver = \"vfs\"\nrunroot = \"{}\"\ngraphroot = \"{}\"\n",
            s.path("run").display(),
            s.path("root").display()
        );
        std::fs::write(s.path("storage.conf"), storage).unwrap();
        let rootfs = rootfs_copy(&s);
        for d in ["home", "xdg", "ptmp"] {
            s.mkdir(d);
        }
        rootless::give_to_user(&s.dir);
        std::fs::set_permissions(s.path("xdg"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let r = Rootless { s, wrapper, rootfs };
        let mut guard = Daemon::none("rootless podman", &r.s);
        let mut rm = r.cmd();
        rm.args(["rm", "--all", "--force", "--time", "0"]);
        let dir = r.s.dir.clone();
        guard.before_stop = Some(Box::new(move || {
            let s = Scratch { dir: dir.clone() };
            let out = run(&s, &mut rm);
            if out.code != Some(0) {
                eprintln!("podman rm --all --force: {}", out.show());
            }
            // The process rootless podman keeps its user namespace alive with (catatonit),
            // and anything else started with this XDG_RUNTIME_DIR.
            for pid in started_here(&s) {
                // SAFETY: a plain signal by pid, to a process this test's podman started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }));
        (r, guard)
    }

    /// `runuser -u USER -- env -i ... podman OPTIONS`, the environment a login would give.
    fn cmd(&self) -> Command {
        let s = &self.s;
        let env = |k: &str, rel: &str| format!("{k}={}", s.path(rel).display());
        let mut c = Command::new(tool("runuser"));
        c.args(["-u", USER, "--", "env", "-i"])
            .arg(env("HOME", "home"))
            .arg(env("XDG_RUNTIME_DIR", "xdg"))
            .arg(env("CONTAINERS_CONF", "containers.conf"))
            .arg(env("CONTAINERS_STORAGE_CONF", "storage.conf"))
            .arg(env("TMPDIR", "ptmp"))
            .arg("PATH=/usr/sbin:/usr/bin:/sbin:/bin")
            .arg(tool("podman"))
            .arg("--root")
            .arg(s.path("root"))
            .arg("--runroot")
            .arg(s.path("run"))
            .arg("--tmpdir")
            .arg(s.path("ptmp"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(&self.wrapper);
        c
    }

    /// `podman run --rm --network none --rootfs ROOTFS sh -c SCRIPT` as the user.
    fn run_sh(&self, script: &str) -> Ran {
        let mut c = self.cmd();
        c.args(["run", "--rm", "--network", "none"])
            .arg("--rootfs")
            .arg(&self.rootfs)
            .args(["sh", "-c", script]);
        run(&self.s, &mut c)
    }
}

#[test]
fn rootless_podman_run_rm_prints_and_passes_exit_codes() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Rootless::new("p-rootless");
    let uid = rootless_user();

    // From inside: PID 1 of its own PID namespace, both streams apart, exit code 3, and
    // root inside is the user outside (the first line of the uid map: 0 UID 1).
    let r = p.run_sh("echo pid=$$; head -n1 /proc/self/uid_map; echo to-stderr >&2; exit 3");
    assert_eq!(
        r.code,
        Some(3),
        "exit code 3 must pass through:\n{}",
        r.show()
    );
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("pid=1"), "{}", r.show());
    let map: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(map, ["0", &uid.to_string(), "1"], "{}", r.show());
    assert!(r.stderr.contains("to-stderr"), "{}", r.show());
    let r = p.run_sh("exit 0");
    assert_eq!(r.code, Some(0), "{}", r.show());
    let r = p.run_sh("exit 42");
    assert_eq!(r.code, Some(42), "{}", r.show());

    // The runtime kept its state under $XDG_RUNTIME_DIR/NAME (podman passes no --root):
    // cleave's default, as runc's is $XDG_RUNTIME_DIR/runc.
    let name = runtime().file_name().unwrap().to_owned();
    assert!(
        p.s.path("xdg").join(&name).is_dir(),
        "no state under $XDG_RUNTIME_DIR/{name:?}"
    );
    let r = run(&p.s, p.cmd().args(["ps", "--all", "--quiet"])).ok();
    assert_eq!(r.stdout.trim(), "", "containers left: {}", r.show());
    let verbs = p.s.verbs();
    for want in ["create", "start", "delete"] {
        assert!(
            verbs.iter().any(|v| v == want),
            "the runtime was never called with `{want}`; it got: {verbs:?}"
        );
    }
    let dir = p.s.dir.clone();
    guard.stop();
    let left = started_here(&Scratch { dir });
    assert!(left.is_empty(), "podman's processes left: {left:?}");
    eprintln!(
        "--- rootless podman run --rm: {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// `podman run -d`, `exec`, `pause`, `stop`, `rm` as the user. Mirrors podman's test/system
/// 075-exec.bats ("podman exec - basic test", exit codes) and 080-pause.bats, run rootless.
///
/// Rootless pause is podman's own decision: on a host whose cgroups are not pure cgroup2
/// (hybrid, as here, or v1), podman 4.3 refuses before it calls the runtime ("can not pause
/// containers on rootless containers with cgroup V1"); on pure cgroup2 it pauses through the
/// runtime, and the counter must stop and restart.
#[test]
fn rootless_podman_detached_exec_pause_stop_rm() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Rootless::new("p-rl-exec");
    let out = p.s.mkdir("out");
    rootless::give_to_user(&out);
    let vol = format!("{}:/out", out.display());
    let mut c = p.cmd();
    c.args(["run", "-d", "--network", "none", "-v", &vol])
        .arg("--rootfs")
        .arg(&p.rootfs)
        .args(["sh", "-c", COUNTER]);
    let id = run(&p.s, &mut c).ok().stdout.trim().to_owned();
    count_passes(&out, 1);
    let podman = |args: &[&str]| run(&p.s, p.cmd().args(args));
    let state = || {
        podman(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            &id,
        ])
        .ok()
        .stdout
        .trim()
        .to_owned()
    };

    // exec: another process of the container (not its PID 1), under the same seccomp
    // filters as the init (podman's default profile), and its exit codes pass through.
    let r = podman(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo exec-pid=$$; cat /out/count; grep -E '^Seccomp(_filters)?:' /proc/self/status /proc/1/status",
    ])
    .ok();
    let pid = r.stdout.lines().next().unwrap_or_default();
    assert!(
        pid.starts_with("exec-pid=") && pid != "exec-pid=1",
        "{}",
        r.show()
    );
    let field = |who: &str, key: &str| {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("/proc/{who}/status:{key}:")))
            .map(|v| v.trim().to_owned())
    };
    assert_eq!(
        field("self", "Seccomp").as_deref(),
        Some("2"),
        "{}",
        r.show()
    );
    assert_eq!(
        field("self", "Seccomp_filters"),
        field("1", "Seccomp_filters"),
        "the exec'd process has the init's filters: {}",
        r.show()
    );
    let r = podman(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(r.code, Some(7), "exec's exit code: {}", r.show());
    let r = podman(&["exec", &id, "/no/such/program"]);
    assert_eq!(r.code, Some(127), "{}", r.show());

    let r = podman(&["pause", &id]);
    let pure_cgroup2 = rootless::cgroup2_mount() == std::path::Path::new("/sys/fs/cgroup");
    if pure_cgroup2 {
        r.ok();
        assert_eq!(state(), "paused 0");
        let frozen = count(&out);
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert_eq!(count(&out), frozen, "the counter moved while paused");
        podman(&["unpause", &id]).ok();
        count_passes(&out, frozen.unwrap_or(0));
    } else {
        assert_eq!(r.code, Some(125), "{}", r.show());
        assert!(
            r.stderr
                .contains("can not pause containers on rootless containers with cgroup V1"),
            "{}",
            r.show()
        );
        assert!(
            !p.s.verbs().iter().any(|v| v == "pause"),
            "podman refused, yet called the runtime"
        );
        assert_eq!(state(), "running 0");
    }

    podman(&["stop", "--time", "30", &id]).ok();
    // The counter traps SIGTERM and exits 0; 137 would mean only the SIGKILL arrived.
    assert_eq!(state(), "exited 0");
    podman(&["rm", &id]).ok();
    let r = podman(&["ps", "--all", "--quiet"]).ok();
    assert_eq!(r.stdout.trim(), "", "containers left: {}", r.show());
    let verbs = p.s.verbs();
    for want in ["create", "start", "exec", "kill", "delete"] {
        assert!(
            verbs.iter().any(|v| v == want),
            "the runtime was never called with `{want}`; it got: {verbs:?}"
        );
    }
    let dir = p.s.dir.clone();
    guard.stop();
    let left = started_here(&Scratch { dir });
    assert!(left.is_empty(), "podman's processes left: {left:?}");
    eprintln!(
        "--- rootless podman -d, exec, pause, stop, rm: {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
