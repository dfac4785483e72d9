//! runc's command line: the lifecycle of a container from a busybox bundle, driven as
//! podman (through conmon) and the containerd shim drive runc. Needs root; with CI=true a
//! missing privilege is a failure, not a skip.
mod support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{text, BIN};

fn root_or_skip() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the runc tests need root (CI=true: no skipping)"
    );
    eprintln!("skipped: needs root");
    false
}

/// A bundle of its own for one test, with the busybox rootfs and `cleave spec`'s config
/// trimmed to what lowers today (proc and tmpfs mounts), and a state root of its own.
struct Bundle {
    dir: PathBuf,
    root: PathBuf,
}

impl Bundle {
    fn new(name: &str, args: &[&str]) -> Bundle {
        let dir = std::env::temp_dir().join(format!("cleave-runc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        support::mkrootfs(&dir.join("rootfs"));
        let out = cleave(&["spec", "--bundle", dir.to_str().unwrap()]);
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let b = Bundle {
            root: dir.join("state"),
            dir,
        };
        b.edit(|c| {
            c["mounts"] = json!([
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "mode=755"]}
            ]);
            let caps = c["process"]["capabilities"]["bounding"].clone();
            c["process"]["capabilities"]["inheritable"] = caps;
            c["process"]["terminal"] = json!(false);
            c["root"]["readonly"] = json!(false);
            c["process"]["args"] = json!(args);
        });
        b
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let path = self.dir.join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    }

    /// An id unique to this test run (cgroup paths are shared by every --root).
    fn id(&self, name: &str) -> String {
        format!("{name}-{}", std::process::id())
    }

    fn rootfs(&self, p: &str) -> PathBuf {
        self.dir.join("rootfs").join(p.trim_start_matches('/'))
    }

    fn path(&self, p: &str) -> String {
        self.dir.join(p).to_string_lossy().into_owned()
    }

    /// `cleave --root ROOT ARGS...`, stdin from /dev/null.
    fn cleave(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run cleave")
    }

    /// `create --bundle B --pid-file B/init.pid ID`, its stdout and stderr into a file of
    /// the bundle (a created container keeps the stdio `create` was given); the PID.
    fn create(&self, id: &str) -> i32 {
        let log = std::fs::File::create(self.dir.join(format!("{id}.out"))).unwrap();
        let st = Command::new(BIN)
            .args(["--root", self.root.to_str().unwrap()])
            .args(["create", "--bundle", &self.path(""), "--pid-file"])
            .arg(self.path(&format!("{id}.pid")))
            .arg(id)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .status()
            .unwrap();
        assert!(st.success(), "create: {}", self.output_of(id));
        std::fs::read_to_string(self.path(&format!("{id}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// `run -d --bundle B ID` with stdio of its own (the container keeps what it is given,
    /// so a pipe would stay open as long as it runs).
    fn detached(&self, id: &str) {
        let st = Command::new(BIN)
            .args(["--root", self.root.to_str().unwrap()])
            .args(["run", "-d", "--bundle", &self.path(""), id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn output_of(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{id}.out"))).unwrap_or_default()
    }

    fn state(&self, id: &str) -> Value {
        let out = self.cleave(&["state", id]);
        assert!(out.status.success(), "state: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("state prints JSON")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cleave(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Waits (without a deadline: a busy machine is slow, not wrong) until `f` holds.
    fn until(&self, mut f: impl FnMut() -> bool) {
        while !f() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if let Ok(ids) = std::fs::read_dir(&self.root) {
            for id in ids.flatten() {
                let id = id.file_name().to_string_lossy().into_owned();
                let _ = self.cleave(&["delete", "--force", &id]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cleave(args: &[&str]) -> Output {
    support::cleave(args)
}

#[test]
fn create_start_state_kill_delete() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new(
        "life",
        &["sh", "-c", "touch /marker; echo started; exec sleep 1000"],
    );
    let pid = b.create(&b.id("c1"));
    let st = b.state(&b.id("c1"));
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["pid"], pid, "state's pid is the pid file's");
    assert_eq!(st["id"], b.id("c1"));
    assert_eq!(st["bundle"], b.path("").trim_end_matches('/'));
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    assert!(!b.rootfs("marker").exists(), "the program ran before start");
    assert!(
        b.output_of(&b.id("c1")).is_empty(),
        "{}",
        b.output_of(&b.id("c1"))
    );

    b.ok(&["start", &b.id("c1")]);
    b.until(|| b.rootfs("marker").exists());
    b.until(|| b.output_of(&b.id("c1")).contains("started"));
    assert_eq!(b.state(&b.id("c1"))["status"], "running");
    // A second start is refused.
    let again = b.cleave(&["start", &b.id("c1")]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("running"),
        "{}",
        text(&again.stderr)
    );
    // A running container is not deleted without --force.
    let refused = b.cleave(&["delete", &b.id("c1")]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("--force"),
        "{}",
        text(&refused.stderr)
    );

    b.ok(&["kill", &b.id("c1"), "9"]);
    b.until(|| b.state(&b.id("c1"))["status"] == "stopped");
    b.ok(&["delete", &b.id("c1")]);
    let gone = b.cleave(&["state", &b.id("c1")]);
    assert!(!gone.status.success());
    assert!(
        text(&gone.stderr).contains(&format!("container {} does not exist", b.id("c1"))),
        "{}",
        text(&gone.stderr)
    );
    assert!(!b.root.join(b.id("c1")).exists(), "state directory left");
    assert!(
        !Path::new(&format!("/sys/fs/cgroup/unified/cleave/{}", b.id("c1"))).exists()
            && !Path::new(&format!("/sys/fs/cgroup/cleave/{}", b.id("c1"))).exists(),
        "cgroup left"
    );
}

/// runtime-spec runtime.md#delete: deleting a container that is not stopped MUST fail and
/// leave it as it was (runc deletes a created one; runtime-tools' validation/delete checks
/// this); --force ends it, and its program never ran.
#[test]
fn created_container_is_not_deleted_without_force_and_never_runs() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("delcreated", &["touch", "/marker"]);
    let pid = b.create(&b.id("c2"));
    let refused = b.cleave(&["delete", &b.id("c2")]);
    assert!(!refused.status.success(), "delete of a created container");
    assert!(
        text(&refused.stderr).contains("it is created"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(b.state(&b.id("c2"))["status"], "created");
    b.ok(&["delete", "--force", &b.id("c2")]);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || {
            // Reaped by whoever adopted it; a zombie's stat says Z.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
        }
    );
    assert!(
        !b.rootfs("marker").exists(),
        "a deleted created container ran its program"
    );
    assert!(!b.root.join(b.id("c2")).exists(), "state directory left");
}

#[test]
fn run_passes_the_exit_code_through() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("run", &["sh", "-c", "echo out-$((6*7)); exit 7"]);
    let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id("r1")]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out-42\n");
    // Deleted afterwards (no --keep).
    assert!(!b.cleave(&["state", &b.id("r1")]).status.success());

    // Without a PID namespace of its own (a PID 1 ignores even SIGKILL from inside).
    b.edit(|c| {
        c["process"]["args"] = json!(["sh", "-c", "kill -9 $$"]);
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    let out = b.cleave(&["run", "--keep", "--bundle", &b.path(""), &b.id("r2")]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", text(&out.stderr));
    assert_eq!(b.state(&b.id("r2"))["status"], "stopped", "--keep keeps it");
    b.ok(&["delete", &b.id("r2")]);
}

/// A container's program starts with no signal blocked and none ignored, as runc's does:
/// `run` blocks the signals it forwards to the container, and a caller may ignore some (a
/// shell's `trap '' PIPE`), which would stay so across execve. Seen from inside, through
/// the program's own /proc/self/status, for `run` and for `exec`.
#[test]
fn the_program_starts_with_no_signal_blocked_or_ignored() {
    if !root_or_skip() {
        return;
    }
    let field = |status: &str, name: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .trim()
            .to_string()
    };
    let b = Bundle::new("sigs", &["cat", "/proc/self/status"]);
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(r#"trap '' PIPE HUP; exec "$@""#)
        .arg("sh")
        .arg(BIN)
        .args(["--root", b.root.to_str().unwrap()])
        .args(["run", "--bundle", &b.path(""), &b.id("s1")])
        .stdin(Stdio::null());
    let out = sh.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let st = text(&out.stdout);
    assert_eq!(field(&st, "SigBlk:"), "0000000000000000", "run: {st}");
    assert_eq!(field(&st, "SigIgn:"), "0000000000000000", "run: {st}");

    b.edit(|c| c["process"]["args"] = json!(["sleep", "1000"]));
    b.detached(&b.id("s2"));
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(r#"trap '' PIPE HUP; exec "$@""#)
        .arg("sh")
        .arg(BIN)
        .args(["--root", b.root.to_str().unwrap()])
        .args(["exec", &b.id("s2"), "cat", "/proc/self/status"])
        .stdin(Stdio::null());
    let out = sh.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let st = text(&out.stdout);
    assert_eq!(field(&st, "SigBlk:"), "0000000000000000", "exec: {st}");
    assert_eq!(field(&st, "SigIgn:"), "0000000000000000", "exec: {st}");
    b.ok(&["delete", "--force", &b.id("s2")]);
}

#[test]
fn run_detached_then_exec_and_ps() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("exec", &["sleep", "1000"]);
    b.detached(&b.id("d1"));
    let init = b.state(&b.id("d1"))["pid"].as_i64().unwrap();
    // Plain args: inside the container's namespaces and root.
    let out = b.cleave(&[
        "exec",
        &b.id("d1"),
        "sh",
        "-c",
        "echo $$; hostname; ls /marker-root 2>&1; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_ne!(lines[0], "1", "the exec'd shell is not the init");
    assert!(
        lines[0].parse::<i32>().unwrap() < 100,
        "a PID of the container's namespace: {}",
        lines[0]
    );
    assert_eq!(lines[1], "cleave", "the config's hostname");
    // podman's form: --process FILE --detach --pid-file P.
    std::fs::write(
        b.path("proc.json"),
        json!({"args": ["sh", "-c", "echo $PWD-$FOO > /exec-marker; exec sleep 1000"],
               "cwd": "/tmp", "env": ["FOO=bar", "PATH=/bin"], "user": {"uid": 0, "gid": 0}})
        .to_string(),
    )
    .unwrap();
    // Stdio of its own: the detached process keeps what exec was given.
    let st = Command::new(BIN)
        .args(["--root", b.root.to_str().unwrap()])
        .args([
            "--log-format=json",
            "--log",
            &b.path("log.json"),
            "exec",
            "--pid-file",
        ])
        .args([
            &b.path("exec.pid"),
            "--process",
            &b.path("proc.json"),
            "--detach",
        ])
        .arg(b.id("d1"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let epid: i64 = std::fs::read_to_string(b.path("exec.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    b.until(|| b.rootfs("exec-marker").exists());
    b.until(|| {
        std::fs::read_to_string(b.rootfs("exec-marker")).unwrap_or_default() == "/tmp-bar\n"
    });
    // The shim's form.
    let ps: Vec<i64> =
        serde_json::from_str(&b.ok(&["ps", "--format", "json", &b.id("d1")])).unwrap();
    assert!(
        ps.contains(&init) && ps.contains(&epid),
        "{ps:?} lacks {init} or {epid}"
    );
    let table = b.ok(&["ps", &b.id("d1")]);
    assert!(table.lines().next().unwrap().contains("PID"));
    assert!(table.contains(&format!(" {init} ")), "{table}");
    b.ok(&["delete", "--force", &b.id("d1")]);
    assert!(
        !Path::new(&format!("/proc/{epid}/stat")).exists()
            || std::fs::read_to_string(format!("/proc/{epid}/stat"))
                .is_ok_and(|s| s.contains(") Z")),
        "delete --force leaves the exec'd process"
    );
}

#[test]
fn pause_stops_a_counter_and_resume_restarts_it() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new(
        "pause",
        &[
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo $i > /count.tmp; mv /count.tmp /count; done",
        ],
    );
    b.detached(&b.id("p1"));
    let count = || {
        std::fs::read_to_string(b.rootfs("count"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    b.until(|| count() > 0);
    b.ok(&["pause", &b.id("p1")]);
    assert_eq!(b.state(&b.id("p1"))["status"], "paused");
    let frozen = count();
    // Frozen means frozen: the kernel reported it before pause returned. Look a few times.
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        assert_eq!(count(), frozen, "the counter moved while paused");
    }
    let again = b.cleave(&["pause", &b.id("p1")]);
    assert!(!again.status.success(), "pausing a paused container");
    b.ok(&["resume", &b.id("p1")]);
    assert_eq!(b.state(&b.id("p1"))["status"], "running");
    b.until(|| count() > frozen);
    b.ok(&["kill", &b.id("p1"), "KILL"]);
    b.until(|| b.state(&b.id("p1"))["status"] == "stopped");
    b.ok(&["delete", &b.id("p1")]);
}

#[test]
fn list_in_json_and_quiet() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("list", &["sleep", "1000"]);
    b.create(&b.id("l1"));
    b.detached(&b.id("l2"));
    let all: Vec<Value> = serde_json::from_str(&b.ok(&["list", "-f", "json"])).unwrap();
    let by_id = |id: String| all.iter().find(|s| s["id"] == id).cloned().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(by_id(b.id("l1"))["status"], "created");
    assert_eq!(by_id(b.id("l2"))["status"], "running");
    assert_eq!(
        b.ok(&["list", "-q"]),
        format!("{}\n{}\n", b.id("l1"), b.id("l2"))
    );
    let table = b.ok(&["list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(&b.id("l2")) && table.contains("running"),
        "{table}"
    );
}

#[test]
fn features_version_and_json_log() {
    let out = cleave(&["features"]);
    assert!(out.status.success());
    let f: Value = serde_json::from_slice(&out.stdout).expect("features prints JSON");
    assert!(f["ociVersionMin"].as_str().unwrap().starts_with("1."));
    assert!(f["ociVersionMax"].as_str().unwrap().starts_with("1."));

    for flag in ["-v", "--version"] {
        let v = text(&cleave(&[flag]).stdout);
        let lines: Vec<&str> = v.lines().collect();
        assert!(lines[0].starts_with("cleave version "), "{v}");
        assert!(lines.iter().any(|l| l.starts_with("spec: 1.")), "{v}");
    }

    let dir = std::env::temp_dir().join(format!("cleave-runc-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log.json");
    let out = cleave(&[
        "--root",
        dir.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "--debug",
        "state",
        "nothing-here",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("container nothing-here does not exist"));
    let lines = std::fs::read_to_string(&log).unwrap();
    let parsed: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(
        parsed
            .iter()
            .all(|l| l["level"].is_string() && l["msg"].is_string() && l["time"].is_string()),
        "{lines}"
    );
    assert!(
        parsed.iter().any(|l| l["level"] == "error" && l["msg"].as_str().unwrap().contains("does not exist")),
        "{lines}"
    );
    let bad = cleave(&["--log-format", "xml", "list"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(
        text(&bad.stderr).contains("--log-format"),
        "{}",
        text(&bad.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn concurrent_deletes_of_one_container_serialize() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("race", &["sleep", "1000"]);
    for round in 0..3 {
        let id = b.id(&format!("x{round}"));
        b.detached(&id);
        let kids: Vec<_> = (0..4)
            .map(|i| {
                let mut c = Command::new(BIN);
                c.arg("--root").arg(&b.root);
                if i % 2 == 0 {
                    c.args(["delete", "--force", &id]);
                } else {
                    c.args(["kill", &id, "9"]);
                }
                c.stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        let outs: Vec<Output> = kids
            .into_iter()
            .map(|k| k.wait_with_output().unwrap())
            .collect();
        let deleted = outs
            .iter()
            .step_by(2)
            .filter(|o| o.status.success())
            .count();
        assert_eq!(deleted, 1, "exactly one delete wins");
        for o in &outs {
            if !o.status.success() {
                let e = text(&o.stderr);
                assert!(
                    e.contains("does not exist") || e.contains("is not running"),
                    "a loser says why, in the callers' words: {e}"
                );
            }
        }
        assert!(!b.root.join(&id).exists());
    }
}

#[test]
fn hooks_run_at_the_spec_times() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("hooks", &["sleep", "1000"]);
    let log = b.path("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; echo {name} \"$s\" >> {log}")]});
    b.edit(|c| {
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        })
    });
    // runtime-spec 1.1 and later: prestart in create, before createRuntime.
    b.edit(|c| c["ociVersion"] = json!("1.1.0"));
    b.create(&b.id("h1"));
    let after_create = std::fs::read_to_string(&log).unwrap();
    assert!(
        after_create.starts_with("prestart {") && after_create.contains("\ncreateRuntime {"),
        "{after_create}"
    );
    assert!(
        after_create.contains(&format!("\"id\":\"{}\"", b.id("h1"))),
        "hooks get the state on stdin: {after_create}"
    );
    assert!(
        !after_create.contains("poststart"),
        "poststart ran during create: {after_create}"
    );
    b.ok(&["start", &b.id("h1")]);
    assert!(std::fs::read_to_string(&log).unwrap().contains("poststart"));
    b.ok(&["delete", "--force", &b.id("h1")]);
    let all = std::fs::read_to_string(&log).unwrap();
    assert!(all.lines().last().unwrap().starts_with("poststop"), "{all}");
    assert!(all.contains("\"status\":\"stopped\""), "{all}");

    // runtime-spec 1.0 (runtime-tools' validation/prestart): prestart at start, before the
    // program, after createRuntime.
    std::fs::remove_file(&log).unwrap();
    b.edit(|c| c["ociVersion"] = json!("1.0.2"));
    b.create(&b.id("h2"));
    let after_create = std::fs::read_to_string(&log).unwrap();
    assert!(!after_create.contains("prestart"), "{after_create}");
    b.ok(&["start", &b.id("h2")]);
    let all = std::fs::read_to_string(&log).unwrap();
    let order: Vec<&str> = all.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(order, ["createRuntime", "prestart", "poststart"], "{all}");
    b.ok(&["delete", "--force", &b.id("h2")]);
}

#[test]
fn conmon_and_shim_argv_forms() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("argv", &["sleep", "1000"]);
    let log = b.path("log.json");
    // conmon: --log-format=json --log FILE create --bundle B --pid-file P ID
    let out = Command::new(BIN)
        .args([
            "--root",
            b.root.to_str().unwrap(),
            "--log-format=json",
            "--log",
            &log,
        ])
        .args([
            "create",
            "--bundle",
            &b.path(""),
            "--pid-file",
            &b.path("p"),
            &b.id("a1"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(b.path("create.err")).unwrap())
        .status()
        .unwrap();
    assert!(
        out.success(),
        "{}",
        std::fs::read_to_string(b.path("create.err")).unwrap()
    );
    b.ok(&["start", &b.id("a1")]);
    std::fs::write(b.path("res.json"), r#"{"pids": {"limit": 77}}"#).unwrap();
    b.ok(&[
        "update",
        &format!("--resources={}", b.path("res.json")),
        &b.id("a1"),
    ]);
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(b.root.join(b.id("a1")).join("state.json")).unwrap(),
    )
    .unwrap();
    let dirs: Vec<String> = rec["cgroup_dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    let pids_max = dirs
        .iter()
        .find_map(|d| std::fs::read_to_string(Path::new(d).join("pids.max")).ok());
    assert_eq!(pids_max.as_deref().map(str::trim), Some("77"), "{dirs:?}");
    // The shim: update --resources - with JSON on stdin.
    let mut c = Command::new(BIN)
        .args([
            "--root",
            b.root.to_str().unwrap(),
            "--log",
            &log,
            "--log-format",
            "json",
        ])
        .args(["update", "--resources", "-", &b.id("a1")])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids": {"limit": 66}}"#)
        .unwrap();
    assert!(c.wait().unwrap().success());
    let pids_max = dirs
        .iter()
        .find_map(|d| std::fs::read_to_string(Path::new(d).join("pids.max")).ok());
    assert_eq!(pids_max.as_deref().map(str::trim), Some("66"));
    b.ok(&["pause", &b.id("a1")]);
    b.ok(&["resume", &b.id("a1")]);
    b.ok(&["kill", &b.id("a1"), "15"]);
    b.ok(&["kill", &b.id("a1"), "SIGKILL"]);
    b.until(|| b.state(&b.id("a1"))["status"] == "stopped");
    b.ok(&["delete", "--force", &b.id("a1")]);
    // Go's single-dash long options, as the shim's restore sends -no-subreaper.
    let out = Command::new(BIN)
        .args(["--root", b.root.to_str().unwrap()])
        .args([
            "create",
            "-bundle",
            &b.path(""),
            "-pid-file",
            &b.path("p2"),
            "-no-subreaper",
            &b.id("a2"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(b.path("create.err")).unwrap())
        .status()
        .unwrap();
    assert!(
        out.success(),
        "{}",
        std::fs::read_to_string(b.path("create.err")).unwrap()
    );
    assert!(Path::new(&b.path("p2")).exists());
    b.ok(&["delete", "--force", &b.id("a2")]);
    // Bad requests: one line, 125.
    let bad = b.cleave(&["kill", &b.id("a2"), "NOPE"]);
    assert_eq!(bad.status.code(), Some(125));
    let bad = b.cleave(&["create", "--bundle", &b.path(""), "../x"]);
    assert_eq!(bad.status.code(), Some(125), "{}", text(&bad.stderr));
    assert_eq!(
        text(&bad.stderr).lines().count(),
        1,
        "{}",
        text(&bad.stderr)
    );
}

/// linux.sysctl lands in the container's own namespaces (the host's value is untouched), a
/// host-wide key is refused by its JSON path, and linux.resources.devices is the kernel's:
/// root in the container, with CAP_MKNOD, cannot make or open a disk node, while /dev/null
/// still works.
#[test]
fn sysctl_and_device_rules_seen_from_inside() {
    if !root_or_skip() {
        return;
    }
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    let b = Bundle::new(
        "sysctl",
        &[
            "sh",
            "-c",
            "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; \
             mknod /dev/disk b 7 0 2>/dev/null && echo mknod-ok || echo mknod-refused; \
             echo x > /dev/null && echo null-ok",
        ],
    );
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_unprivileged_port_start": "77"});
        c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
        // CAP_MKNOD in every set: only the device rules stand in the way.
        for set in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            c["process"]["capabilities"][set] = json!(["CAP_MKNOD"]);
        }
    });
    let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id("s1")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want = if std::path::Path::new("/sys/fs/cgroup/devices/devices.allow").exists() {
        "77\nmknod-refused\nnull-ok\n"
    } else {
        "77\nmknod-ok\nnull-ok\n"
    };
    assert_eq!(text(&out.stdout), want);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap(),
        host
    );
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"kernel.panic": "1"});
    });
    let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id("s2")]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("linux.sysctl.kernel.panic: not a namespaced sysctl"),
        "{}",
        text(&out.stderr)
    );
}

/// linux.seccomp, seen from inside: a profile that refuses mkdir and mkdirat with EPERM
/// (and lets everything else through), with no_new_privs (the filters go in last) and
/// without it (they go in while CAP_SYS_ADMIN is held, before the capabilities and the
/// uid change, which must then pass them).
#[test]
fn seccomp_profile_refuses_mkdir_inside() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new(
        "seccomp",
        &[
            "sh",
            "-c",
            "grep -E '^(Seccomp|NoNewPrivs|Uid):' /proc/self/status; \
             mkdir /tmp/x 2>&1 || echo mkdir-refused; \
             touch /tmp/y && ls /tmp/y && echo rest-ok",
        ],
    );
    for (i, nnp, uid) in [(1, true, 0), (2, false, 0), (3, false, 1000)] {
        b.edit(|c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                              "errnoRet": 1}]
            });
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            c["mounts"].as_array_mut().unwrap().truncate(2);
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                "options": ["mode=1777"]
            }));
        });
        let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id(&format!("sc{i}"))]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}{stdout}", text(&out.stderr));
        assert!(stdout.contains("Seccomp:\t2"), "{stdout}");
        assert!(
            stdout.contains(&format!("NoNewPrivs:\t{}", u8::from(nnp))),
            "{stdout}"
        );
        assert!(stdout.contains(&format!("Uid:\t{uid}\t")), "{stdout}");
        assert!(stdout.contains("Operation not permitted"), "{stdout}");
        assert!(stdout.contains("mkdir-refused"), "{stdout}");
        assert!(stdout.ends_with("/tmp/y\nrest-ok\n"), "{stdout}");
    }
    // What cleave cannot apply is refused by path, never ignored.
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_NOTIFY"});
    });
    let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id("sc4")]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr)
            .contains("linux.seccomp.defaultAction: not supported by cleave: SCMP_ACT_NOTIFY"),
        "{}",
        text(&out.stderr)
    );
}

/// createContainer and startContainer hooks (runtime-spec config.md#posix-platform-hooks, as
/// runc's tests/integration/hooks.bats and runtime-tools' validation/hooks_stdin exercise
/// them): both run in the container's namespaces, seen from inside the hook (the container's
/// hostname, a pid of the container's PID namespace, files landing in the container's root),
/// with the state on stdin; createContainer during create, its path resolved in the
/// runtime's mount namespace (a script in the bundle, outside the rootfs); startContainer
/// during start before the program runs, its path resolved in the container.
#[test]
fn create_and_start_container_hooks_run_inside_at_their_times() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new(
        "inhooks",
        &["sh", "-c", "cat /hooks.log > /program-saw; sleep 1000"],
    );
    std::fs::write(
        b.path("create-hook.sh"),
        "#!/bin/sh\nread -r s\necho \"createContainer $(hostname) $(readlink /proc/$$/ns/pid) $(readlink /proc/$$/ns/mnt) $s\" >> /hooks.log\n",
    )
    .unwrap();
    std::fs::set_permissions(
        b.path("create-hook.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // startContainer's program comes from the image: it must run with the container's
    // privileges, not the runtime's (its effective capabilities go to /start-caps).
    let start_hook = "read -r s; grep CapEff /proc/$$/status > /start-caps; echo \"startContainer $(hostname) $(readlink /proc/$$/ns/pid) $s\" >> /hooks.log";
    b.edit(|c| {
        c["hostname"] = json!("inside-hooks");
        c["hooks"] = json!({
            "createContainer": [{"path": b.path("create-hook.sh")}],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", start_hook]}],
        });
    });
    let id = b.id("ih1");
    let init = b.create(&id);
    let log = std::fs::read_to_string(b.rootfs("hooks.log"))
        .expect("createContainer wrote in the container's root");
    let fields: Vec<&str> = log.split_whitespace().collect();
    assert_eq!(fields.first(), Some(&"createContainer"), "{log}");
    assert_eq!(
        fields.get(1),
        Some(&"inside-hooks"),
        "the container's UTS namespace: {log}"
    );
    // The container's PID and mount namespaces, as the hook's own /proc says.
    let (pid_ns, mnt_ns) = (support::ns_link(init, "pid"), support::ns_link(init, "mnt"));
    assert_eq!(fields.get(2).copied(), Some(pid_ns.as_str()), "{log}");
    assert_eq!(fields.get(3).copied(), Some(mnt_ns.as_str()), "{log}");
    assert_ne!(pid_ns, support::ns_link("self", "pid"));
    assert!(
        log.contains(&format!("\"id\":\"{id}\"")),
        "state on stdin: {log}"
    );
    assert!(
        !log.contains("startContainer"),
        "startContainer ran during create: {log}"
    );
    b.ok(&["start", &id]);
    b.until(|| {
        b.rootfs("program-saw").exists()
            && std::fs::metadata(b.rootfs("program-saw")).is_ok_and(|m| m.len() > 0)
    });
    let saw = std::fs::read_to_string(b.rootfs("program-saw")).unwrap();
    let lines: Vec<&str> = saw.lines().collect();
    assert_eq!(lines.len(), 2, "{saw}");
    assert!(
        lines[1].starts_with(&format!("startContainer inside-hooks {pid_ns} ")),
        "before the program, inside: {saw}"
    );
    assert!(lines[1].contains("\"status\":\"created\""), "{saw}");
    let caps = |status: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap()
    };
    let hook_caps = caps(&std::fs::read_to_string(b.rootfs("start-caps")).unwrap());
    let runtime_caps = caps(&std::fs::read_to_string("/proc/self/status").unwrap());
    assert_ne!(
        hook_caps, runtime_caps,
        "a startContainer hook from the image ran with the runtime's capabilities"
    );
    assert_eq!(
        hook_caps,
        caps(&std::fs::read_to_string(format!("/proc/{init}/status")).unwrap()),
        "the container's capabilities"
    );
    b.ok(&["delete", "--force", &id]);

    // A failing createContainer hook fails create, and nothing is left of the container.
    b.edit(|c| {
        c["hooks"] = json!({"createContainer": [{"path": "/bin/false"}]});
    });
    let out = b.cleave(&["create", "--bundle", &b.path(""), &b.id("ih2")]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("hooks.createContainer[0]"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !b.root.join(b.id("ih2")).exists(),
        "state left by a failed create"
    );
    // A failing startContainer hook fails start and ends the container (nothing is left);
    // its program never runs.
    let _ = std::fs::remove_file(b.rootfs("program-saw"));
    b.edit(|c| {
        c["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    });
    b.create(&b.id("ih3"));
    let out = b.cleave(&["start", &b.id("ih3")]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("hooks.startContainer[0]"),
        "{}",
        text(&out.stderr)
    );
    let gone = b.cleave(&["state", &b.id("ih3")]);
    assert!(
        text(&gone.stderr).contains("does not exist"),
        "a container whose startContainer hook failed is deleted: {}",
        text(&gone.stderr)
    );
    assert!(
        !b.rootfs("program-saw").exists(),
        "the program ran after a failed startContainer hook"
    );
}

/// A profile that refuses calls cleave itself makes while it sets the container up
/// (close_range to close the fds the program does not keep; getcwd, which runtime-tools'
/// validation/linux_seccomp refuses and runc's init still calls after installing it): the
/// filters come after cleave's own last calls, so the program runs under them, with and
/// without no_new_privs.
#[test]
fn seccomp_profile_refusing_setup_calls_still_runs_the_program() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new(
        "seccomp-late",
        &["sh", "-c", "grep '^Seccomp:' /proc/self/status; echo ran"],
    );
    for (i, nnp) in [(1, true), (2, false)] {
        b.edit(|c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                "syscalls": [{"names": ["close_range", "getcwd"], "action": "SCMP_ACT_ERRNO",
                              "errnoRet": 1}]
            });
            c["process"]["noNewPrivileges"] = json!(nnp);
        });
        let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id(&format!("sl{i}"))]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}{stdout}", text(&out.stderr));
        assert_eq!(stdout, "Seccomp:\t2\nran\n", "{}", text(&out.stderr));
    }
}

/// `exec -u UID[:GID]` and `exec --cap` change what the exec'd process is, seen from its own
/// /proc/self/status (runc's tests/integration/exec.bats "runc exec --user" and "--cap"):
/// the ids asked for, the capability added to every set (so that it survives exec as a
/// non-root user, through the ambient set), nothing added without --cap, and the five sets of
/// a --process file taken as given. An unknown capability is refused with exit 125.
#[test]
fn exec_user_and_cap_change_the_process() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("execids", &["sleep", "1000"]);
    let id = b.id("e1");
    b.detached(&id);
    let status = |extra: &[&str]| -> String {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            &id,
            "sh",
            "-c",
            "grep -E '^(Uid|Gid|CapEff|CapAmb):' /proc/self/status",
        ]);
        b.ok(&args)
    };
    let field = |s: &str, name: &str| -> String {
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:\t")))
            .unwrap_or_else(|| panic!("no {name} in {s}"))
            .to_string()
    };
    let mask = |s: &str, name: &str| u64::from_str_radix(&field(s, name), 16).unwrap();
    const SYS_ADMIN: u64 = 1 << 21;
    const NET_ADMIN: u64 = 1 << 12;

    let plain = status(&[]);
    assert!(field(&plain, "Uid").starts_with("0\t"), "{plain}");
    assert_eq!(
        mask(&plain, "CapEff") & (SYS_ADMIN | NET_ADMIN),
        0,
        "{plain}"
    );

    let as_user = status(&["-u", "1000:1001"]);
    assert_eq!(
        field(&as_user, "Uid"),
        "1000\t1000\t1000\t1000",
        "{as_user}"
    );
    assert_eq!(
        field(&as_user, "Gid"),
        "1001\t1001\t1001\t1001",
        "{as_user}"
    );
    assert_eq!(
        mask(&as_user, "CapEff"),
        0,
        "a non-root exec keeps no capability: {as_user}"
    );

    let with_cap = status(&["--cap", "CAP_SYS_ADMIN"]);
    assert_eq!(
        mask(&with_cap, "CapEff") & SYS_ADMIN,
        SYS_ADMIN,
        "{with_cap}"
    );
    let user_cap = status(&["-u", "1000", "--cap", "CAP_NET_ADMIN"]);
    assert!(field(&user_cap, "Uid").starts_with("1000\t"), "{user_cap}");
    assert!(field(&user_cap, "Gid").starts_with("0\t"), "{user_cap}");
    assert_eq!(mask(&user_cap, "CapEff"), NET_ADMIN, "{user_cap}");
    assert_eq!(mask(&user_cap, "CapAmb"), NET_ADMIN, "{user_cap}");

    // --process: its user and its five sets.
    std::fs::write(
        b.path("proc.json"),
        json!({"args": ["sh", "-c", "grep -E '^(Uid|CapEff|CapAmb):' /proc/self/status"],
               "cwd": "/", "user": {"uid": 7, "gid": 7},
               "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                                "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"],
                                "ambient": ["CAP_KILL"]}})
        .to_string(),
    )
    .unwrap();
    let from_file = b.ok(&["exec", "--process", &b.path("proc.json"), &id]);
    assert!(field(&from_file, "Uid").starts_with("7\t"), "{from_file}");
    assert_eq!(
        mask(&from_file, "CapEff"),
        1 << 5,
        "CAP_KILL alone: {from_file}"
    );

    let bad = b.cleave(&["exec", "--cap", "CAP_NOPE", &id, "true"]);
    assert_eq!(bad.status.code(), Some(125), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("--cap CAP_NOPE"),
        "{}",
        text(&bad.stderr)
    );
    let bad = b.cleave(&["exec", "-u", "me", &id, "true"]);
    assert_eq!(bad.status.code(), Some(125), "{}", text(&bad.stderr));
    b.ok(&["delete", "--force", &id]);
}

/// What cleave does beyond the config (the lowering notes: a seccomp name this architecture
/// lacks skipped, a devpts gid without a mapping dropped) is written to the --log file, one
/// line per note naming its JSON path, and not to the container's stderr.
#[test]
fn lowering_notes_go_to_the_log() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("notes", &["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "chown32"], "action": "SCMP_ACT_ERRNO"}]
        });
    });
    let log = b.path("log.json");
    let out = b.cleave(&[
        "--log",
        &log,
        "--log-format",
        "json",
        "run",
        "--bundle",
        &b.path(""),
        &b.id("n1"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("chown32"),
        "{}",
        text(&out.stderr)
    );
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "info"
            && l["msg"]
                .as_str()
                .unwrap()
                .starts_with("linux.seccomp.syscalls[0].names[1]: a system call")),
        "{lines:?}"
    );
}

/// A config without linux.resources.devices gets runc's default device rules (runc's
/// libcontainer/specconv AllowedDevices; runtime-tools' linux_cgroups_devices exercises the
/// explicit form): from inside, root with CAP_MKNOD may make any node, but opens only the
/// default devices; /dev/kmsg (1:11) made by hand cannot be opened, /dev/null can. Where the
/// host has no v1 devices controller nothing is enforced, and the open succeeds.
#[test]
fn default_device_rules_without_resources_devices() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new(
        "defdev",
        &[
            "sh",
            "-c",
            "mknod /dev/k c 1 11 && echo mknod-ok; \
             (: > /dev/k) 2>/dev/null && echo open-ok || echo open-refused; \
             echo x > /dev/null && echo null-ok",
        ],
    );
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("resources");
        for set in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            c["process"]["capabilities"][set] = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
        }
    });
    let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id("dd1")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want = if Path::new("/sys/fs/cgroup/devices/devices.allow").exists() {
        "mknod-ok\nopen-refused\nnull-ok\n"
    } else {
        "mknod-ok\nopen-ok\nnull-ok\n"
    };
    assert_eq!(text(&out.stdout), want, "{}", text(&out.stderr));
}

/// `root.readonly` on an image that lacks its mount points (Kubernetes' pause image is one
/// binary): they are made first (on a throw-away layer: the image is left unchanged), then
/// the root mount alone turns read-only and the mounts on it keep their own flags, as runc
/// does (runc's tests/integration/mounts.bats and the runtime-tools `root_readonly_true`
/// validation).
#[test]
fn readonly_root_gets_its_mount_points_first_and_only_the_root_turns_read_only() {
    if !root_or_skip() {
        return;
    }
    let script = "touch /x 2>/dev/null && echo root=rw || echo root=ro; \
         touch /dev/shm/y && echo shm=rw; touch /dev/z && echo dev=rw; \
         test -r /proc/self/status && echo proc=yes";
    let b = Bundle::new("rodirs", &["sh", "-c", script]);
    for d in ["proc", "dev"] {
        std::fs::remove_dir_all(b.rootfs(d)).unwrap();
    }
    b.edit(|c| {
        c["root"]["readonly"] = json!(true);
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                         "options": ["nosuid", "nodev", "noexec", "mode=1777"]}),
        );
    });
    let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id("ro")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "root=ro\nshm=rw\ndev=rw\nproc=yes\n");
    // The mount points the image lacks went on cleave's throw-away layer: the image is left
    // as it was (runc makes them in it), and nothing the program tried reached it.
    assert!(!b.rootfs("proc").exists() && !b.rootfs("dev").exists());
    assert!(!b.rootfs("x").exists());
}

/// A container that joins another's PID namespace by path (a Kubernetes pod's containers
/// join the pause container's) sees that namespace in the /proc it mounts: PID 1 is the
/// other container's process, not the host's (runc's tests/integration/run.bats "runc run
/// with shared pid namespace"; cri-tools' "runtime should support PodPID").
#[test]
fn a_joined_pid_namespace_is_the_one_its_proc_shows() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("joinpid", &["sleep", "1000"]);
    let first = b.id("first");
    b.detached(&first);
    let pid = b.state(&first)["pid"].as_i64().unwrap();
    b.edit(|c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); readlink /proc/self/ns/pid"
        ]);
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "pid" {
                n["path"] = json!(format!("/proc/{pid}/ns/pid"));
            }
        }
    });
    let out = b.cleave(&["run", "--bundle", &b.path(""), &b.id("second")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("pid1=sleep 1000\n{}\n", ns.display())
    );
    b.ok(&["kill", &first, "KILL"]);
}
