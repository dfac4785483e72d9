//! cleave's runc command line run directly by an unprivileged user (issue 10: "as root and
//! rootless"): a real uid (tests/support/rootless.rs) with its own XDG_RUNTIME_DIR, a bundle
//! from `cleave spec --rootless`, no `--root`. The state must go under
//! `$XDG_RUNTIME_DIR/cleave`, the container's root must be the user, exit codes must pass
//! through; `pause` works where the user has a delegated cgroup2 directory, and says why not
//! where it has none; `exec` gets the config's seccomp filters, which a rootless runtime
//! cannot copy from the init.
//!
//! Mirrors runc's integration tests as they run rootless (runc tests/integration, `ROOTLESS`
//! in helpers.bash): create.bats, start_detached.bats, kill.bats, delete.bats, pause.bats
//! ("runc pause and resume", which needs rootless cgroups) and seccomp.bats through exec.

#[path = "support/clients.rs"]
mod clients;
#[path = "support/rootless.rs"]
mod rootless;

use clients::*;
use rootless::{rootless_user, Delegated, USER};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;

/// A scratch dir owned by the user: the runtime copied in (the build may lie where the user
/// cannot reach), the rootfs, `config.json` from `cleave spec --rootless` run as the user
/// (so its maps name the user's ids), /out for the counter, and XDG_RUNTIME_DIR (0700).
struct User {
    s: Scratch,
    bin: PathBuf,
    uid: u32,
}

impl User {
    fn new(tag: &str) -> (User, Daemon) {
        require_root();
        tool("runuser");
        let uid = rootless_user();
        let s = Scratch::new(tag);
        let bin = s.mkdir("bin").join("cleave");
        std::fs::copy(runtime(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        rootfs_copy(&s);
        s.mkdir("out");
        s.mkdir("xdg");
        rootless::give_to_user(&s.dir);
        std::fs::set_permissions(s.path("xdg"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let u = User { s, bin, uid };
        let bundle = u.s.dir.to_str().unwrap().to_owned();
        u.run(&["spec", "--rootless", "--bundle", &bundle]).ok();
        u.edit(|c| {
            c["process"]["terminal"] = json!(false);
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/out", "type": "bind",
                "source": u.s.path("out"), "options": ["rbind", "rw"]
            }));
        });
        let mut guard = Daemon::none("rootless cleave", &u.s);
        let dir = u.s.dir.clone();
        let bin = u.bin.clone();
        guard.before_stop = Some(Box::new(move || {
            let u = User {
                s: Scratch { dir: dir.clone() },
                bin: bin.clone(),
                uid,
            };
            for id in u.run(&["list", "-q"]).stdout.split_whitespace() {
                u.run(&["delete", "--force", id]);
            }
        }));
        (u, guard)
    }

    /// `runuser -u USER -- env -i XDG_RUNTIME_DIR=... cleave ARGS` (no --root).
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(tool("runuser"));
        c.args(["-u", USER, "--", "env", "-i"])
            .arg(format!("XDG_RUNTIME_DIR={}", self.s.path("xdg").display()))
            .arg("PATH=/usr/bin:/bin")
            .arg(&self.bin)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Ran {
        run(&self.s, &mut self.cmd(args))
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let path = self.s.path("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    }

    fn args(&self, args: &[&str]) {
        self.edit(|c| c["process"]["args"] = json!(args));
    }

    fn bundle(&self) -> String {
        self.s.dir.to_str().unwrap().to_owned()
    }

    fn state(&self, id: &str) -> Value {
        let r = self.run(&["state", id]).ok();
        serde_json::from_str(&r.stdout).expect("state prints JSON")
    }

    fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn out(&self) -> PathBuf {
        self.s.path("out")
    }
}

#[test]
fn rootless_create_start_state_kill_delete_under_xdg_runtime_dir() {
    let _one = serial();
    let (u, guard) = User::new("rl-life");

    // run: the program is root inside, the user outside; its exit code comes back.
    u.args(&["sh", "-c", "id -u; head -n1 /proc/self/uid_map; exit 7"]);
    let r = u.run(&["run", "--bundle", &u.bundle(), "r1"]);
    assert_eq!(
        r.code,
        Some(7),
        "exit code 7 must pass through: {}",
        r.show()
    );
    let lines: Vec<Vec<String>> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    assert_eq!(lines[0], ["0"], "{}", r.show());
    assert_eq!(lines[1], ["0", &u.uid.to_string(), "1"], "{}", r.show());

    // create: state under $XDG_RUNTIME_DIR/cleave, owned by the user; nothing has run yet.
    u.args(&["sh", "-c", COUNTER]);
    let pid_file = u.s.path("out/c1.pid");
    u.run(&[
        "create",
        "--bundle",
        &u.bundle(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        "c1",
    ])
    .ok();
    let state_dir = u.s.path("xdg/cleave/c1");
    let meta = std::fs::metadata(&state_dir).expect("the state directory under $XDG_RUNTIME_DIR");
    assert_eq!(meta.uid(), u.uid, "the state belongs to the user");
    let st = u.state("c1");
    assert_eq!(st["status"], "created", "{st}");
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(st["pid"], pid, "state's pid is the pid file's");
    assert_eq!(count(&u.out()), None, "the program ran before start");

    // The process that created it is gone; start, from another process, releases it.
    u.run(&["start", "c1"]).ok();
    count_passes(&u.out(), 1);
    assert_eq!(u.status("c1"), "running");
    let list = u.run(&["list", "-q"]).ok();
    assert_eq!(list.stdout.trim(), "c1");

    u.run(&["kill", "c1", "KILL"]).ok();
    wait_until("c1 to stop after SIGKILL", || {
        (u.status("c1") == "stopped").then_some(())
    });
    u.run(&["delete", "c1"]).ok();
    assert!(!state_dir.exists(), "state directory left");
    let gone = u.run(&["state", "c1"]);
    assert_ne!(gone.code, Some(0));
    assert!(
        gone.stderr.contains("container c1 does not exist"),
        "{}",
        gone.show()
    );

    // Without XDG_RUNTIME_DIR and without --root there is nowhere to keep state: a usage
    // error naming both.
    let mut c = Command::new(tool("runuser"));
    c.args(["-u", USER, "--", "env", "-i", "PATH=/usr/bin:/bin"])
        .arg(&u.bin)
        .arg("list");
    let r = run(&u.s, &mut c);
    assert_eq!(r.code, Some(125), "{}", r.show());
    assert!(
        r.stderr.contains("XDG_RUNTIME_DIR") && r.stderr.contains("--root"),
        "{}",
        r.show()
    );
    guard.stop();
}

/// Rootless pause needs a cgroup, and a user may only make one in a cgroup2 directory
/// delegated to it: there, the container's cgroup goes below the caller's own and the
/// counter stops and restarts; without one, pause says what is missing.
#[test]
fn rootless_pause_resume_in_a_delegated_cgroup2_directory() {
    let _one = serial();
    let (u, guard) = User::new("rl-pause");
    u.args(&["sh", "-c", COUNTER]);

    // No delegation (the test runs at the top of the cgroup2 tree, which is root's).
    u.run(&["run", "-d", "--bundle", &u.bundle(), "p0"]).ok();
    count_passes(&u.out(), 1);
    let r = u.run(&["pause", "p0"]);
    assert_eq!(r.code, Some(1), "{}", r.show());
    assert!(
        r.stderr.contains("no cgroup to freeze") && r.stderr.contains("delegated cgroup2"),
        "{}",
        r.show()
    );
    assert_eq!(u.status("p0"), "running");
    u.run(&["delete", "--force", "p0"]).ok();
    std::fs::remove_file(u.out().join("count")).unwrap();

    let d = Delegated::new(&format!("cleave-rl-{}", std::process::id()));
    let within = |args: &[&str]| run(&u.s, &mut d.wrap(&u.cmd(args)));
    within(&["run", "-d", "--bundle", &u.bundle(), "p1"]).ok();
    count_passes(&u.out(), 1);
    let pid = u.state("p1")["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let leaf = format!(
        "0::/{}/cleave/p1",
        d.dir.file_name().unwrap().to_string_lossy()
    );
    assert!(
        cg.lines().any(|l| l == leaf),
        "the init is not in {leaf}:\n{cg}"
    );

    u.run(&["pause", "p1"]).ok();
    assert_eq!(u.status("p1"), "paused");
    let frozen = count(&u.out());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(count(&u.out()), frozen, "the counter moved while paused");
    let again = u.run(&["pause", "p1"]);
    assert_ne!(again.code, Some(0), "pausing a paused container");
    u.run(&["resume", "p1"]).ok();
    assert_eq!(u.status("p1"), "running");
    count_passes(&u.out(), frozen.unwrap_or(0));

    // ps reads the cgroup too: the init is listed.
    let ps = u.run(&["ps", "--format", "json", "p1"]).ok();
    let pids: Vec<i64> = serde_json::from_str(&ps.stdout).expect("ps --format json");
    assert!(pids.contains(&pid), "{pids:?} lacks the init {pid}");

    // The counter exits 0 on SIGTERM; delete removes the container's cgroup.
    u.run(&["kill", "p1", "TERM"]).ok();
    wait_until("p1 to stop after SIGTERM", || {
        (u.status("p1") == "stopped").then_some(())
    });
    u.run(&["delete", "p1"]).ok();
    let left: Vec<PathBuf> = d.below();
    assert_eq!(
        left,
        [d.dir.join("cleave")],
        "only the shared parent may stay"
    );
    drop(d);
    guard.stop();
}

/// `exec` as the user: the process gets the config's seccomp filters (a rootless runtime
/// may not copy the init's: PTRACE_SECCOMP_GET_FILTER needs CAP_SYS_ADMIN in the initial
/// user namespace), so a call the profile refuses is refused to it too, and its exit code
/// comes back. Mirrors runc's tests/integration/seccomp.bats ("runc run [seccomp] (SCMP_ACT_ERRNO
/// default)") through exec.
#[test]
fn rootless_exec_gets_the_configs_seccomp_filters() {
    let _one = serial();
    let (u, guard) = User::new("rl-exec");
    u.args(&["sleep", "1000"]);
    u.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1}]
        });
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777"]
        }));
    });
    u.run(&["run", "-d", "--bundle", &u.bundle(), "e1"]).ok();
    let r = u
        .run(&[
            "exec",
            "e1",
            "sh",
            "-c",
            "echo pid=$$; grep '^Seccomp:' /proc/self/status; \
             mkdir /tmp/x 2>&1 || echo mkdir-refused; touch /tmp/y && echo touch-ok",
        ])
        .ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("pid=") && lines[0] != "pid=1",
        "{}",
        r.show()
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["Seccomp:", "2"],
        "{}",
        r.show()
    );
    assert!(
        lines.contains(&"mkdir-refused") && lines.contains(&"touch-ok"),
        "{}",
        r.show()
    );
    assert!(!r.stdout.contains("mkdir-ok"), "{}", r.show());
    let r = u.run(&["exec", "e1", "sh", "-c", "exit 7"]);
    assert_eq!(r.code, Some(7), "exec's exit code: {}", r.show());
    u.run(&["delete", "--force", "e1"]).ok();
    guard.stop();
}
