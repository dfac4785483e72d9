//! Checkpoint and restore through CRIU (runc's `checkpoint` and `restore` verbs), seen from
//! inside the container: a counter that continues, the hostname, the pids inside, the
//! cgroup limits, a clone restored under another state root while the original runs, and
//! an established loopback TCP connection. Mirrors runc's tests/integration/checkpoint.bats
//! ("checkpoint and restore", "--leave-running", "with --tcp-established", "lazy-pages"
//! refused without soft-dirty). Needs root and a CRIU >= 4 (scripts/install-criu.sh, which
//! scripts/test.sh runs); with CI=true a missing one is a failure, not a skip.
mod support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{text, BIN};

/// The counter: PID 1 keeps a child (`sleep`) and counts into /count, five times a second,
/// without forking (a FIFO it holds open gives `read -t` something to wait on), so the
/// container's processes are exactly two.
const COUNTER: &str = "sleep 100000 & mkfifo /f; exec 3<>/f; i=0; \
     while :; do i=$((i+1)); echo $i > /count; read -t 0.2 x <&3; done";

/// A bundle with the busybox rootfs and `cleave spec`'s config, running `sh -c SCRIPT`.
struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn new(name: &str, script: &str) -> Bundle {
        let dir = PathBuf::from(format!("/var/tmp/cleave-ck-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        support::mkrootfs(&dir.join("rootfs"));
        let out = Command::new(BIN)
            .args(["spec", "--bundle", dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let b = Bundle { dir };
        b.edit(|c| {
            c["process"]["terminal"] = json!(false);
            c["root"]["readonly"] = json!(false);
            c["process"]["args"] = json!(["sh", "-c", script]);
            c["hostname"] = json!(format!("ck-{name}"));
            c["linux"]["resources"] = json!({"pids": {"limit": 77}});
        });
        b
    }

    /// A copy of the whole bundle (rootfs included, as a migration copies it).
    fn copy(&self, name: &str) -> Bundle {
        let dir = PathBuf::from(format!("/var/tmp/cleave-ck-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let st = Command::new("cp")
            .arg("-a")
            .arg(&self.dir)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success());
        Bundle { dir }
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let path = self.dir.join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    fn count(&self) -> u64 {
        std::fs::read_to_string(self.path("rootfs/count"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One state root (`--root`), whose containers are deleted at the end.
struct Root(PathBuf);

impl Root {
    fn new(b: &Bundle, name: &str) -> Root {
        Root(b.path(name))
    }

    fn cleave(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--root")
            .arg(&self.0)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run cleave")
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

    /// A verb whose container keeps this process's stdio (`run -d`, `restore -d`): stdio
    /// from /dev/null (a pipe would keep the caller waiting for the container; a file
    /// would have to be the same size again at restore, which CRIU checks), errors through
    /// the runtime's --log.
    fn detached(&self, args: &[&str]) {
        self.detached_from(Command::new(BIN), args)
    }

    /// [`Root::detached`] under `flock(1)`, whose lock's descriptor (fd 3) cleave inherits:
    /// what a caller leaves open must not reach CRIU (it once clashed at restore with the
    /// descriptors cleave hands over by number, and a restored connection was lost).
    fn detached_holding_a_lock(&self, args: &[&str]) {
        let mut flock = Command::new("flock");
        flock.arg(self.0.with_extension("lock")).arg(BIN);
        self.detached_from(flock, args)
    }

    fn detached_from(&self, mut cmd: Command, args: &[&str]) {
        let log = self.0.with_extension(format!("{}.log", std::process::id()));
        let st = cmd
            .arg("--root")
            .arg(&self.0)
            .arg("--log")
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run cleave");
        let out = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        assert!(st.success(), "{args:?}: {out}");
    }

    fn status(&self, id: &str) -> Option<String> {
        let out = self.cleave(&["state", id]);
        if !out.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(v["status"].as_str().unwrap().to_string())
    }

    /// The container's cgroup directories, from its record.
    fn cgroup_dirs(&self, id: &str) -> Vec<PathBuf> {
        let rec: Value = serde_json::from_str(
            &std::fs::read_to_string(self.0.join(id).join("state.json")).unwrap(),
        )
        .unwrap();
        rec["cgroup_dirs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| PathBuf::from(d.as_str().unwrap()))
            .collect()
    }

    /// The container's processes as their pids inside, sorted, from its cgroup (whichever
    /// hierarchy lists processes).
    fn inner_pids(&self, id: &str) -> Vec<u32> {
        let dir = self
            .cgroup_dirs(id)
            .into_iter()
            .find(|d| d.join("cgroup.procs").exists())
            .unwrap();
        let mut out: Vec<u32> = std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap()
            .lines()
            .filter_map(|pid| {
                let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                s.lines()
                    .find_map(|l| l.strip_prefix("NSpid:"))?
                    .split_whitespace()
                    .last()?
                    .parse()
                    .ok()
            })
            .collect();
        out.sort();
        out
    }

    /// The container's pids.max (where its pids controller is).
    fn pids_max(&self, id: &str) -> String {
        self.cgroup_dirs(id)
            .iter()
            .find_map(|d| std::fs::read_to_string(d.join("pids.max")).ok())
            .expect("a pids cgroup")
            .trim()
            .to_string()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if let Ok(ids) = std::fs::read_dir(&self.0) {
            for id in ids.flatten() {
                let id = id.file_name().to_string_lossy().into_owned();
                if !id.starts_with('.') {
                    let _ = self.cleave(&["delete", "--force", &id]);
                }
            }
        }
    }
}

/// Waits until `f` holds; a generous bound turns a hang into a failure that says what.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(300),
            "still waiting for: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

fn start(root: &Root, b: &Bundle, id: &str) {
    root.detached(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), id]);
    until("the counter to count", || b.count() >= 5);
    until("both processes", || root.inner_pids(id).len() == 2);
}

#[test]
fn checkpoint_stops_it_and_restore_continues_the_counter() {
    if !support::criu_ready_or_skip() {
        return;
    }
    let b = Bundle::new("counter", COUNTER);
    let root = Root::new(&b, "state");
    let id = unique("ck1");
    start(&root, &b, &id);
    let pids = root.inner_pids(&id);
    assert_eq!(pids[0], 1, "the counter is PID 1 inside");
    assert_eq!(root.pids_max(&id), "77");
    let cgroups = root.cgroup_dirs(&id);
    let images = b.path("images");
    // The work directory's parent does not exist: it is made.
    let work = b.path("work/deep/er");
    root.ok(&[
        "checkpoint",
        "--image-path",
        images.to_str().unwrap(),
        "--work-path",
        work.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(
        root.status(&id).as_deref(),
        Some("stopped"),
        "the container is stopped by checkpoint"
    );
    assert!(
        cgroups.iter().all(|d| !d.exists()),
        "its cgroup is removed: {cgroups:?}"
    );
    let saved = b.count();
    assert!(work.join("dump.log").exists());

    let id2 = unique("ck1r");
    root.detached(&[
        "restore",
        "-d",
        "--image-path",
        images.to_str().unwrap(),
        "--work-path",
        work.to_str().unwrap(),
        "--bundle",
        b.dir.to_str().unwrap(),
        &id2,
    ]);
    assert_eq!(root.status(&id2).as_deref(), Some("running"));
    let first = b.count();
    assert!(
        first >= saved,
        "the counter restarted: {first} after restore, {saved} when saved"
    );
    until("the restored counter to go on", || b.count() > saved);
    assert!(b.count() > saved);
    // The same processes with the same pids inside.
    assert_eq!(root.inner_pids(&id2), pids);
    // The same hostname, seen from inside.
    let host = root.ok(&["exec", &id2, "hostname"]);
    assert_eq!(host.trim(), "ck-counter");
    // The config's limit is on its (new) cgroup, and the container sees that cgroup.
    assert_eq!(root.pids_max(&id2), "77");
    let own = root.ok(&["exec", &id2, "cat", "/proc/1/cgroup"]);
    assert!(own.contains(&id2), "the restored init's cgroup: {own}");
    root.ok(&["delete", "--force", &id2]);
    assert_eq!(root.status(&id2), None);
}

#[test]
fn leave_running_then_a_clone_under_another_root_while_the_original_runs() {
    if !support::criu_ready_or_skip() {
        return;
    }
    let b = Bundle::new("migrate", COUNTER);
    let root = Root::new(&b, "state");
    let id = unique("orig");
    start(&root, &b, &id);
    let images = b.path("images");
    root.ok(&[
        "checkpoint",
        "--leave-running",
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(root.status(&id).as_deref(), Some("running"));
    let saved = b.count();
    until("the original to go on counting", || b.count() > saved + 2);

    // The other machine: a copy of the bundle and of the images, another state root,
    // another id.
    let there = b.copy("migrate-there");
    let images2 = there.path("images");
    let root2 = Root::new(&there, "state2");
    let id2 = unique("clone");
    root2.detached(&[
        "restore",
        "--detach",
        "--image-path",
        images2.to_str().unwrap(),
        "--bundle",
        there.dir.to_str().unwrap(),
        &id2,
    ]);
    assert_eq!(root.status(&id).as_deref(), Some("running"));
    assert_eq!(root2.status(&id2).as_deref(), Some("running"));
    assert_eq!(
        root.status(&id2),
        None,
        "the clone lives under the other root"
    );
    // The clone counts on from the checkpoint in its own copy, the original in its own.
    let copied = there.count();
    until("the clone to go on", || there.count() > copied);
    let orig = b.count();
    until("the original to go on", || b.count() > orig);
    assert!(there.count() > saved);
    assert_eq!(root2.inner_pids(&id2), vec![1, 2]);
    root2.ok(&["delete", "--force", &id2]);
    drop(root2);
    drop(there);
}

#[test]
fn established_loopback_tcp_survives_with_tcp_established() {
    if !support::criu_ready_or_skip() {
        return;
    }
    // A server and a client inside, connected over 127.0.0.1; the client sends what is
    // appended to /in, the server writes what it receives to /got (its stdin is a FIFO
    // nobody writes: at the end of its input busybox nc would close the connection). The
    // client starts once the server listens (port 5000 is 1388 in /proc/net/tcp*): a client
    // refused earlier would leave its `tail -f` waiting for input before the retry.
    let b = Bundle::new(
        "tcp",
        "mkfifo /f; exec 3<>/f; nc -l -p 5000 <&3 > /got & \
         until cat /proc/net/tcp* | grep -q ':1388 '; do read -t 0.05 x <&3; done; \
         touch /in; tail -f /in | nc 127.0.0.1 5000 & wait",
    );
    let root = Root::new(&b, "state");
    let id = unique("tcp");
    root.detached(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id]);
    let append = |line: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(b.path("rootfs/in"))
            .unwrap();
        writeln!(f, "{line}").unwrap();
    };
    let got = || std::fs::read_to_string(b.path("rootfs/got")).unwrap_or_default();
    until("the server to be up", || b.path("rootfs/in").exists());
    append("before");
    until("the first line through the connection", || {
        got().contains("before")
    });
    let images = b.path("images");
    let refused = root.cleave(&["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    assert!(
        !refused.status.success(),
        "an established connection is refused without --tcp-established"
    );
    assert_eq!(root.status(&id).as_deref(), Some("running"));
    root.ok(&[
        "checkpoint",
        "--tcp-established",
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(root.status(&id).as_deref(), Some("stopped"));
    // Restored under the same id, which replaces the stopped container.
    let id2 = id.clone();
    root.detached_holding_a_lock(&[
        "restore",
        "-d",
        "--tcp-established",
        "--image-path",
        images.to_str().unwrap(),
        "--bundle",
        b.dir.to_str().unwrap(),
        &id2,
    ]);
    append("after");
    until("a line through the restored connection", || {
        got().contains("after")
    });
    assert_eq!(got(), "before\nafter\n");
}

#[test]
fn lazy_pages_and_pre_dump_fail_clearly_without_soft_dirty() {
    if !support::criu_ready_or_skip() {
        return;
    }
    let b = Bundle::new("predump", COUNTER);
    let root = Root::new(&b, "state");
    let id = unique("pd");
    start(&root, &b, &id);
    let dirty = Command::new("criu")
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .unwrap()
        .status
        .success();
    for opt in ["--pre-dump", "--lazy-pages"] {
        let out = root.cleave(&[
            "checkpoint",
            opt,
            "--image-path",
            b.path("images").to_str().unwrap(),
            &id,
        ]);
        let err = text(&out.stderr);
        if !dirty {
            assert!(!out.status.success(), "{opt} without soft-dirty tracking");
            assert!(err.contains("mem_dirty_track"), "{opt}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        }
        assert_eq!(root.status(&id).as_deref(), Some("running"));
    }
    // runc's probe: `checkpoint --help` exits 0.
    let help = Command::new(BIN)
        .args(["checkpoint", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("--image-path"));
}

/// A missing criu, a criu 3 and a criu whose `check` fails: one line each, naming the fix
/// (scripts/install-criu.sh), exit code 1, nothing left in the state root.
#[test]
fn a_missing_old_or_failing_criu_names_the_fix() {
    let dir = PathBuf::from(format!("/var/tmp/cleave-ck-fake-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fake = |name: &str, script: &str| {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let old = fake("criu3", "echo 'Version: 3.17.1'");
    let failing = fake(
        "criu4",
        "[ \"$1\" = --version ] && { echo 'Version: 4.2.1'; exit 0; }\n\
         echo 'Error (criu/kerndat.c:1): vdso: Unexpected rt vDSO area bounds' >&2; exit 1",
    );
    let missing = dir.join("nothing-here");
    let root = dir.join("state");
    for (criu, says) in [
        (&missing, "criu was not found"),
        (&old, "criu 3.17.1"),
        (&failing, "Unexpected rt vDSO area bounds"),
    ] {
        let out = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .arg("--criu")
            .arg(criu)
            .args(["restore", "--image-path"])
            .arg(dir.join("images"))
            .arg("x1")
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(says), "{says:?} in {err}");
        assert!(err.contains("scripts/install-criu.sh"), "{err}");
        assert!(!root.join("x1").exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rootfs that lacks the mount points of the config (a volume at /vol, a file at
/// /etc/extra): cleave puts a throw-away layer over "/" and /etc rather than write them
/// into the rootfs, and a restore makes that layer again. The counter, writing in the
/// volume, continues; the rootfs is still without /vol and /etc/extra; inside, the restored
/// container sees the volume and the file. Mirrors podman's test/e2e/checkpoint_test.go
/// "podman checkpoint container with volumes" (a volume whose mount point the image lacks).
#[test]
fn a_layer_over_a_rootfs_lacking_mount_points_is_restored() {
    if !support::criu_ready_or_skip() {
        return;
    }
    let b = Bundle::new(
        "layer",
        "mkfifo /vol/f; exec 3<>/vol/f; i=0; \
         while :; do i=$((i+1)); echo $i > /vol/count; read -t 0.2 x <&3; done",
    );
    std::fs::create_dir(b.path("vol")).unwrap();
    std::fs::write(b.path("extra"), "from-the-host\n").unwrap();
    let (vol, extra) = (b.path("vol"), b.path("extra"));
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/vol", "type": "bind",
            "source": vol, "options": ["rbind", "rw"]}));
        mounts.push(json!({"destination": "/etc/extra", "type": "bind",
            "source": extra, "options": ["bind", "ro"]}));
    });
    let count = || -> u64 {
        std::fs::read_to_string(b.path("vol/count"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let root = Root::new(&b, "state");
    let id = unique("lay");
    root.detached(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id]);
    until("the counter to count", || count() >= 5);
    let images = b.path("images");
    root.ok(&["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    let saved = count();
    let id2 = unique("layr");
    root.detached(&[
        "restore",
        "-d",
        "--image-path",
        images.to_str().unwrap(),
        "--bundle",
        b.dir.to_str().unwrap(),
        &id2,
    ]);
    assert_eq!(root.status(&id2).as_deref(), Some("running"));
    until("the restored counter to go on", || count() > saved);
    let seen = root.ok(&[
        "exec",
        &id2,
        "sh",
        "-c",
        "cat /etc/extra; ls /vol; cat /etc/hostname",
    ]);
    assert_eq!(
        seen, "from-the-host\ncount\nf\ncleave\n",
        "seen inside: {seen}"
    );
    assert!(
        !b.path("rootfs/vol").exists(),
        "/vol was made in the rootfs"
    );
    assert!(
        !b.path("rootfs/etc/extra").exists(),
        "/etc/extra was made in the rootfs"
    );
    root.ok(&["delete", "--force", &id2]);
    assert_eq!(root.status(&id2), None);
}

/// The mount points a container's `cat /proc/self/mountinfo` lists, in its order.
fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect()
}

/// Each /proc path cleave protects is a mount point exactly once where the host's procfs
/// has it (one kernel: the container's procfs has what the host's has), and none is twice.
fn protected_once(mountinfo: &str) -> Vec<String> {
    let seen = mount_points(mountinfo);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        seen.len(),
        "a mount point twice:\n{mountinfo}"
    );
    let names = cleave::mount::PROC_MASKED
        .iter()
        .chain(&cleave::mount::PROC_READ_ONLY);
    let mut protected = 0;
    for name in names {
        let p = format!("/proc/{name}");
        let there = Path::new(&p).exists();
        assert_eq!(
            seen.contains(&p),
            there,
            "{p} (on the host: {there}):\n{mountinfo}"
        );
        protected += usize::from(there);
    }
    assert!(
        protected >= 4,
        "the host's /proc has too few of them to tell"
    );
    sorted
}

#[test]
fn proc_protections_are_one_mount_each_as_many_mounts_as_runc() {
    // Every mount of a container is one CRIU saves and makes again at restore: an OCI
    // config's maskedPaths and readonlyPaths name the /proc paths cleave protects on every
    // procfs (issue #8), and the two must not stack. runc's own count is the reference
    // (runc's tests/integration/mask.bats checks the same paths from inside).
    if !support::criu_ready_or_skip() {
        return;
    }
    let runc = Path::new("/usr/sbin/runc");
    assert!(
        runc.exists() || std::env::var("CI").as_deref() != Ok("true"),
        "needs runc (scripts/test.sh installs it; CI=true: no skipping)"
    );
    let b = Bundle::new("mounts", "cat /proc/self/mountinfo");
    let root = Root::new(&b, "state");
    let dir = b.dir.to_str().unwrap();
    let out = root.ok(&["run", "--bundle", dir, &unique("mi")]);
    let mut ours = protected_once(&out);

    if runc.exists() {
        let st = Command::new(runc)
            .arg("--root")
            .arg(b.path("runc-state"))
            .args(["run", "--bundle", dir, &unique("mi-runc")])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(st.status.success(), "runc: {}", text(&st.stderr));
        let mut theirs = mount_points(&text(&st.stdout));
        theirs.sort();
        eprintln!("mounts: cleave {}, runc {}", ours.len(), theirs.len());
        // cleave mounts a hybrid host's cgroup2 hierarchy too, which runc 1.1 leaves out.
        if !theirs.iter().any(|p| p == "/sys/fs/cgroup/unified") {
            ours.retain(|p| p != "/sys/fs/cgroup/unified");
        }
        assert_eq!(ours, theirs, "cleave's mount points against runc's");
    }

    // Without maskedPaths and readonlyPaths, cleave's own protections stay, once each.
    b.edit(|c| {
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
    });
    protected_once(&root.ok(&["run", "--bundle", dir, &unique("mi-bare")]));
}
