//! The runtime on the two cgroup layouts this hybrid host does not show by default (issue 10:
//! "Works on hybrid cgroups (this machine), pure cgroup2 and v1"). Each test keeps a process
//! in a private mount namespace whose /sys/fs/cgroup is remounted as one layout, and runs
//! every cleave verb there through `nsenter --mount`:
//! - pure cgroup2: the v1 hierarchies unmounted, cgroup2 mounted at /sys/fs/cgroup (the
//!   same hierarchy as the host's unified one): the container's cgroup is one cgroup2
//!   directory, the init starts in it (CLONE_INTO_CGROUP) and joins no v1 cgroup, and pause
//!   is `cgroup.freeze`;
//! - cgroup v1 only: cgroup2 gone, the v1 freezer and memory hierarchies mounted: the init
//!   joins their directories, pause is the v1 freezer, and the memory limit is v1's.
//!
//! The counter stopping and restarting is what the program itself did (or did not do); the
//! cgroups it sits in are read from /proc/PID/cgroup, which names hierarchies, not mounts.
//! Needs root. Mirrors runc's tests/integration/pause.bats and cgroups.bats, and the kernel's
//! tools/testing/selftests/cgroup/test_freezer.c (a frozen cgroup's processes do not run).
mod support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use support::{text, BIN};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// The host's own layout, unchanged.
    Host,
    PureCgroup2,
    V1Only,
}

/// A private mount namespace with one cgroup layout, held by a sleeping process, and a
/// bundle and state root of the test's own.
struct View {
    holder: Child,
    dir: PathBuf,
}

impl View {
    fn new(kind: Kind, name: &str) -> View {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(unsafe { libc::geteuid() }, 0, "the layout tests need root");
        let remount = match kind {
            Kind::Host => "true",
            Kind::PureCgroup2 => "mount -t cgroup2 cgroup2 /sys/fs/cgroup",
            Kind::V1Only => {
                "mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup && \
                 mkdir /sys/fs/cgroup/freezer /sys/fs/cgroup/memory && \
                 mount -t cgroup -o freezer cgroup /sys/fs/cgroup/freezer && \
                 mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory"
            }
        };
        let umount = if kind == Kind::Host {
            "true"
        } else {
            "umount -R /sys/fs/cgroup"
        };
        let script = format!(
            "{umount} && {remount} && grep cgroup /proc/self/mountinfo && \
             echo ready && exec sleep 100000"
        );
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run unshare (util-linux)");
        let mut mounts = String::new();
        let mut out = BufReader::new(holder.stdout.take().unwrap());
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                let _ = holder.wait();
                panic!("could not remount /sys/fs/cgroup:\n{mounts}");
            }
            if line.trim() == "ready" {
                break;
            }
            mounts.push_str(&line);
        }
        // What cleave will find: exactly the layout asked for.
        let types: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_once(" - ")?.1.split(' ').next())
            .collect();
        match kind {
            Kind::Host => {}
            Kind::PureCgroup2 => assert_eq!(types, ["cgroup2"], "{mounts}"),
            Kind::V1Only => assert!(
                types.iter().all(|t| *t != "cgroup2") && types.contains(&"cgroup"),
                "{mounts}"
            ),
        }
        let dir = PathBuf::from(format!(
            "/var/tmp/cleave-layout-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        support::mkrootfs(&dir.join("rootfs"));
        let v = View { holder, dir };
        let out = v.cleave(&["spec", "--bundle", v.dir.to_str().unwrap()]);
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        v.edit(|c| {
            c["mounts"] = json!([
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "mode=755"]}
            ]);
            c["process"]["terminal"] = json!(false);
            c["root"]["readonly"] = json!(false);
            c["process"]["args"] = json!([
                "sh",
                "-c",
                "i=0; while :; do i=$((i+1)); echo $i > /count.tmp; mv /count.tmp /count; \
                 sleep 0.05; done"
            ]);
        });
        v
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let path = self.dir.join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    }

    /// `nsenter --mount=/proc/HOLDER/ns/mnt cleave --root DIR/state ARGS`, its output read
    /// from files (a created container keeps the stdio `create` was given: a pipe would
    /// stay open as long as it runs).
    fn cleave(&self, args: &[&str]) -> Output {
        let (out, err) = (self.dir.join("cmd.out"), self.dir.join("cmd.err"));
        let status = Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", self.holder.id()))
            .arg(BIN)
            .arg("--root")
            .arg(self.dir.join("state"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .expect("run nsenter");
        Output {
            status,
            stdout: std::fs::read(&out).unwrap_or_default(),
            stderr: std::fs::read(&err).unwrap_or_default(),
        }
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

    /// Whether `path` exists in the view.
    fn exists(&self, path: &Path) -> bool {
        Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", self.holder.id()))
            .arg("test")
            .arg("-e")
            .arg(path)
            .status()
            .unwrap()
            .success()
    }

    fn status(&self, id: &str) -> String {
        let st: Value = serde_json::from_str(&self.ok(&["state", id])).unwrap();
        st["status"].as_str().unwrap().to_owned()
    }

    fn count(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("rootfs/count"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits (no deadline: a busy machine is slow, not wrong) until the counter passes `n`.
    fn count_passes(&self, n: u64) {
        while self.count() <= n {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Ok(ids) = std::fs::read_dir(self.dir.join("state")) {
            for id in ids.flatten() {
                let id = id.file_name().to_string_lossy().into_owned();
                let _ = self.cleave(&["delete", "--force", &id]);
            }
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The line of /proc/PID/cgroup for a v1 controller, or for cgroup2 (`""`): its path.
fn cgroup_of(pid: impl std::fmt::Display, controller: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctls, path) = (f.next()?, f.next()?, f.next()?);
            let hit = if controller.is_empty() {
                ctls.is_empty() && l.starts_with("0:")
            } else {
                ctls.split(',').any(|c| c == controller)
            };
            hit.then(|| path.to_owned())
        })
        .unwrap_or_default()
}

/// create, start, pause (the counter stops), resume (it goes on), ps, kill, delete: what
/// each layout must give; returns the init's pid while it ran, checked by `check`.
fn lifecycle(v: &View, id: &str, check: impl FnOnce(i32)) {
    v.ok(&["create", "--bundle", v.dir.to_str().unwrap(), id]);
    let st: Value = serde_json::from_str(&v.ok(&["state", id])).unwrap();
    let pid = st["pid"].as_i64().unwrap() as i32;
    v.ok(&["start", id]);
    v.count_passes(1);
    check(pid);

    v.ok(&["pause", id]);
    assert_eq!(v.status(id), "paused");
    let frozen = v.count();
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(25));
        assert_eq!(v.count(), frozen, "the counter moved while paused");
    }
    v.ok(&["resume", id]);
    assert_eq!(v.status(id), "running");
    v.count_passes(frozen);

    let pids: Vec<i32> = serde_json::from_str(&v.ok(&["ps", "--format", "json", id])).unwrap();
    assert!(pids.contains(&pid), "ps lists {pids:?}, not the init {pid}");
    v.ok(&["kill", id, "KILL"]);
    while v.status(id) != "stopped" {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    v.ok(&["delete", id]);
}

#[test]
fn pure_cgroup2_view_one_directory_and_cgroup_freeze() {
    let v = View::new(Kind::PureCgroup2, "v2");
    let id = format!("v2-{}", std::process::id());
    let me_freezer = cgroup_of("self", "freezer");
    let me_memory = cgroup_of("self", "memory");
    let dir = Path::new("/sys/fs/cgroup/cleave").join(&id);
    lifecycle(&v, &id, |pid| {
        assert_eq!(cgroup_of(pid, ""), format!("/cleave/{id}"));
        // No v1 directory was made or joined: the v1 cgroups are the caller's.
        assert_eq!(cgroup_of(pid, "freezer"), me_freezer);
        assert_eq!(cgroup_of(pid, "memory"), me_memory);
        let rec: Value = serde_json::from_str(
            &std::fs::read_to_string(v.dir.join("state").join(&id).join("state.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(rec["cgroup_dirs"], json!([dir]), "{rec}");
        assert!(v.exists(&dir.join("cgroup.freeze")));
    });
    assert!(!v.exists(&dir), "{} left after delete", dir.display());
}

#[test]
fn v1_only_view_freezer_and_memory_directories() {
    let v = View::new(Kind::V1Only, "v1");
    let id = format!("v1-{}", std::process::id());
    v.edit(|c| c["linux"]["resources"] = json!({"memory": {"limit": 67108864}}));
    let me_v2 = cgroup_of("self", "");
    let dirs =
        ["freezer", "memory"].map(|c| Path::new("/sys/fs/cgroup").join(c).join("cleave").join(&id));
    lifecycle(&v, &id, |pid| {
        assert_eq!(cgroup_of(pid, "freezer"), format!("/cleave/{id}"));
        assert_eq!(cgroup_of(pid, "memory"), format!("/cleave/{id}"));
        // No cgroup2 directory was made or joined: the cgroup2 one is the caller's.
        assert_eq!(cgroup_of(pid, ""), me_v2);
        let limit = Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", v.holder.id()))
            .arg("cat")
            .arg(dirs[1].join("memory.limit_in_bytes"))
            .output()
            .unwrap();
        assert_eq!(text(&limit.stdout).trim(), "67108864");
    });
    for d in &dirs {
        assert!(!v.exists(d), "{} left after delete", d.display());
    }
}

/// `--systemd-cgroup` talks to no systemd: a cgroupsPath of systemd's slice:prefix:name form
/// is placed where systemd would put the scope, the slice nested in its parents
/// (systemd.slice(5)), through the cgroup filesystem; `--help` says so. Mirrors runc's
/// tests/integration/cgroups.bats ("runc run (cgroup v2 systemd)" checks the scope's path).
#[test]
fn systemd_cgroup_places_a_slice_scope_where_systemd_would() {
    let v = View::new(Kind::Host, "sd");
    let id = format!("sd-{}", std::process::id());
    let top = format!("cleavetest{}", std::process::id());
    v.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("{top}-x.slice:cleave:{id}")));
    v.ok(&[
        "--systemd-cgroup",
        "run",
        "-d",
        "--bundle",
        v.dir.to_str().unwrap(),
        &id,
    ]);
    let st: Value = serde_json::from_str(&v.ok(&["state", &id])).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(
        cgroup_of(pid, ""),
        format!("/{top}.slice/{top}-x.slice/cleave-{id}.scope")
    );
    v.ok(&["delete", "--force", &id]);
    let root = support_cgroup2_root();
    let parents = [
        root.join(format!("{top}.slice/{top}-x.slice")),
        root.join(format!("{top}.slice")),
    ];
    assert!(!parents[0].join(format!("cleave-{id}.scope")).exists());
    // The slices are shared parents, left as systemd would leave them: removed here.
    for p in parents {
        std::fs::remove_dir(&p).unwrap_or_else(|e| panic!("rmdir {}: {e}", p.display()));
    }

    let help = text(&v.cleave(&["--systemd-cgroup", "--help"]).stdout);
    assert!(
        help.contains("--systemd-cgroup") && help.contains("starts no unit"),
        "{help}"
    );
    assert!(
        help.contains("machine.slice/machine-web.slice/p-n.scope"),
        "{help}"
    );
}

/// The host's cgroup2 mount point.
fn support_cgroup2_root() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            (right.split(' ').next()? == "cgroup2").then(|| PathBuf::from(point))
        })
        .expect("a cgroup2 mount")
}
