//! A container's restore refuses an image description crafted to make it open or bind host
//! files (the refusals of the security review of the checkpoint verbs): a real checkpoint
//! of a container, the file cleave keeps beside CRIU's images edited, then `restore` must
//! fail with its message, open nothing (an inotify watch on a canary file) and leave no
//! container behind. runc's tests/integration/checkpoint.bats restores unedited images
//! only; this is the attack on what it trusts. Needs root and CRIU >= 4 (CI=true: no skip).
mod support;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use support::{text, Canary, BIN};

fn ready_or_skip() -> bool {
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
            "needs criu >= 4 on PATH: scripts/install-criu.sh (CI=true: no skipping)"
        );
        eprintln!("skipped: needs criu >= 4 (scripts/install-criu.sh)");
        return false;
    }
    true
}

struct Dir(PathBuf, String);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = cleave(&self.0, &["delete", "--force", &self.1]);
        let _ = cleave(&self.0, &["delete", "--force", &format!("{}r", self.1)]);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cleave --root DIR/state ARGS`, every stdio but stderr's capture /dev/null.
fn cleave(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--root")
        .arg(dir.join("state"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .expect("run cleave")
}

/// A verb whose container may keep this process's stdio (`run -d`, `restore -d`): every
/// stdio /dev/null (a pipe would keep this test waiting for the container), the messages
/// through the runtime's --log.
fn detached(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let log = dir.join("runtime.log");
    let _ = std::fs::remove_file(&log);
    let st = Command::new(BIN)
        .arg("--root")
        .arg(dir.join("state"))
        .arg("--log")
        .arg(&log)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run cleave");
    (st.code(), std::fs::read_to_string(&log).unwrap_or_default())
}

fn edit_json(path: &std::path::Path, f: impl FnOnce(&mut Value)) -> String {
    let orig = std::fs::read_to_string(path).unwrap();
    let mut v: Value = serde_json::from_str(&orig).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    orig
}

#[test]
fn crafted_container_images_make_restore_refuse_and_open_nothing() {
    if !ready_or_skip() {
        return;
    }
    let id = format!("ckc-{}", std::process::id());
    let id2 = format!("{id}r");
    let d = Dir(
        PathBuf::from(format!("/var/tmp/cleave-ckc-{}", std::process::id())),
        id.clone(),
    );
    let _ = std::fs::remove_dir_all(&d.0);
    std::fs::create_dir_all(d.0.join("data")).unwrap();
    support::mkrootfs(&d.0.join("rootfs"));
    let b = d.0.to_str().unwrap();
    let out = Command::new(BIN)
        .args(["spec", "--bundle", b])
        .output()
        .unwrap();
    assert!(out.status.success(), "spec: {}", text(&out.stderr));
    let config = d.0.join("config.json");
    let data = d.0.join("data").to_string_lossy().into_owned();
    edit_json(&config, |c| {
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["sleep", "100000"]);
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind"]}),
        );
    });
    let (code, log) = detached(&d.0, &["run", "-d", "--bundle", b, &id]);
    assert_eq!(code, Some(0), "run: {log}");
    let images = d.0.join("img");
    let img = images.to_str().unwrap();
    let out = cleave(&d.0, &["checkpoint", "--image-path", img, &id]);
    assert!(out.status.success(), "checkpoint: {}", text(&out.stderr));
    let meta = images.join("cleave-checkpoint.json");
    let canary = Canary::new(d.0.join("canary"));
    let host = canary.path.to_string_lossy().into_owned();

    let restore = |says: &str| {
        let work = d.0.join("work");
        let (code, err) = detached(
            &d.0,
            &[
                "restore",
                "-d",
                "--image-path",
                img,
                "--work-path",
                work.to_str().unwrap(),
                "--bundle",
                b,
                &id2,
            ],
        );
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(
            !canary.touched(),
            "the restore opened {}",
            canary.path.display()
        );
        assert!(!work.join("restore.log").exists(), "criu ran: {err}");
        let state = cleave(&d.0, &["state", &id2]);
        assert!(
            !state.status.success(),
            "a refused restore left its container"
        );
    };
    // An outside file that is not one of the init's stdio, named by host path.
    let orig = edit_json(&meta, |v| {
        v["descriptors"].as_array_mut().unwrap().push(json!({
            "fd": -1, "key": "file[1b:2a]", "external": true, "host": host, "stdio_of": null
        }));
    });
    restore("not the container's stdio");
    std::fs::write(&meta, &orig).unwrap();
    // The config's bind, its source turned into the canary in the image and the bind
    // dropped from the config: an external bind that is not the config's.
    edit_json(&meta, |v| {
        let ext = v["externals"].as_array_mut().unwrap();
        let e = ext
            .iter_mut()
            .find(|e| e["mountpoint"] == "/data")
            .expect("/data is external");
        e["host"] = json!(host);
        e["mountpoint"] = json!("/canary-from-host");
    });
    edit_json(&config, |c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/data");
    });
    restore("which the bundle's config does not");
    std::fs::write(&meta, &orig).unwrap();
}
