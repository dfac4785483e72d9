//! A container's state is safe against two cleave processes acting on it at once (issue 10,
//! "Lifecycle"): each verb that changes a container holds an flock(2) on `<root>/<id>/lock`
//! while it reads, acts and writes. Here the test itself holds that lock, as a second cleave
//! would; `pause`, then `delete --force`, must wait for it (the kernel lists them as blocked
//! waiters in /proc/locks, so nothing here depends on timing), must leave the container
//! as it was meanwhile, and must act once the lock is let go.
//!
//! Needs root. In the manner of util-linux's tests/ts/flock (a holder, a waiter seen
//! blocked, the holder released, the waiter done).
mod support;

use serde_json::{json, Value};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use support::{text, BIN};

struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn new() -> Bundle {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(unsafe { libc::geteuid() }, 0, "the lock test needs root");
        let dir = PathBuf::from(format!("/var/tmp/cleave-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        support::mkrootfs(&dir.join("rootfs"));
        let b = Bundle { dir };
        let out = b.cleave(&["spec", "--bundle", b.dir.to_str().unwrap()]);
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let path = b.dir.join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["sleep", "100000"]);
        std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
        b
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root")
            .arg(self.dir.join("state"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn cleave(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    }

    fn status(&self, id: &str) -> String {
        let out = self.cleave(&["state", id]);
        assert!(out.status.success(), "state: {}", text(&out.stderr));
        let st: Value = serde_json::from_slice(&out.stdout).unwrap();
        st["status"].as_str().unwrap().to_owned()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if let Ok(ids) = std::fs::read_dir(self.dir.join("state")) {
            for id in ids.flatten() {
                let id = id.file_name().to_string_lossy().into_owned();
                let _ = self.cleave(&["delete", "--force", &id]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The lock file, held exclusively by this process until the file is dropped.
fn hold(path: &std::path::Path) -> std::fs::File {
    let f = std::fs::File::open(path).unwrap();
    // SAFETY: flock on an open fd.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

/// Waits until /proc/locks lists `waiter` blocked ("->") on the file with inode `ino`.
fn blocked_on(waiter: &mut Child, ino: u64) {
    let pid = waiter.id().to_string();
    loop {
        let locks = std::fs::read_to_string("/proc/locks").unwrap();
        let seen = locks.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&"->")
                && f.get(5) == Some(&pid.as_str())
                && f.get(6).and_then(|d| d.rsplit(':').next()) == Some(&ino.to_string())
        });
        if seen {
            return;
        }
        if let Some(st) = waiter.try_wait().unwrap() {
            panic!("cleave {pid} finished ({st}) while the test held the container's lock");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn verbs_wait_for_the_containers_lock_and_then_act() {
    let b = Bundle::new();
    let id = format!("lock-{}", std::process::id());
    assert!(b
        .cmd(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .status()
        .unwrap()
        .success());
    let lock_path = b.dir.join("state").join(&id).join("lock");
    let ino = std::fs::metadata(&lock_path).unwrap().ino();

    // pause waits for the lock; meanwhile the container runs on.
    let held = hold(&lock_path);
    let mut pause = b.cmd(&["pause", &id]).spawn().unwrap();
    blocked_on(&mut pause, ino);
    assert_eq!(b.status(&id), "running");
    drop(held);
    assert!(pause.wait().unwrap().success(), "pause after the lock");
    assert_eq!(b.status(&id), "paused");

    // delete --force waits too; the state and the init stay until it has the lock.
    let pid: i32 = {
        let out = b.cleave(&["state", &id]);
        let st: Value = serde_json::from_slice(&out.stdout).unwrap();
        st["pid"].as_i64().unwrap() as i32
    };
    let held = hold(&lock_path);
    let mut delete = b.cmd(&["delete", "--force", &id]).spawn().unwrap();
    blocked_on(&mut delete, ino);
    assert_eq!(b.status(&id), "paused");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(held);
    assert!(delete.wait().unwrap().success(), "delete after the lock");
    assert!(
        !b.dir.join("state").join(&id).exists(),
        "the state directory is gone"
    );
    let gone = b.cleave(&["state", &id]);
    assert!(text(&gone.stderr).contains("does not exist"));
}
