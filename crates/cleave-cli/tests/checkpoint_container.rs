//! A container with a terminal, checkpointed and restored with a new terminal sent over
//! --console-socket (runc's checkpoint.bats "checkpoint and restore (with terminal)" idea,
//! checked here by talking through the new master). And a container's restore refuses an
//! image description crafted to make it open or bind host files (the refusals of the security review of the checkpoint verbs): a real checkpoint
//! of a container, the file cleave keeps beside CRIU's images edited, then `restore` must
//! fail with its message, open nothing (an inotify watch on a canary file) and leave no
//! container behind. runc's tests/integration/checkpoint.bats restores unedited images
//! only; this is the attack on what it trusts. Needs root and CRIU >= 4 (CI=true: no skip).
mod support;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use support::{text, Canary, BIN};

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

/// A bundle in `d` whose config is `cleave spec`'s with `edit` applied.
fn bundle(d: &Dir, edit: impl FnOnce(&mut Value)) {
    let _ = std::fs::remove_dir_all(&d.0);
    std::fs::create_dir_all(d.0.join("data")).unwrap();
    support::mkrootfs(&d.0.join("rootfs"));
    let out = Command::new(BIN)
        .args(["spec", "--bundle", d.0.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "spec: {}", text(&out.stderr));
    edit_json(&d.0.join("config.json"), edit);
}

/// Writes `line` to the terminal's master and reads until the program's answer
/// `got:LINE` comes back (the terminal echoes the line itself first).
fn talk(master: &std::os::fd::OwnedFd, line: &str) {
    use std::os::fd::AsRawFd;
    let fd = master.as_raw_fd();
    let msg = format!("{line}\n");
    // SAFETY: write from a live buffer of its length.
    let n = unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
    assert_eq!(n, msg.len() as isize);
    let want = format!("got:{line}");
    let mut seen = String::new();
    let start = std::time::Instant::now();
    while !seen.contains(&want) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "no answer through the terminal; read {seen:?}"
        );
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one pollfd; read into a local buffer of its length.
        unsafe {
            if libc::poll(&mut p, 1, 1000) == 1 {
                let mut buf = [0u8; 512];
                let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                assert!(n > 0, "the terminal closed; read {seen:?}");
                seen.push_str(&String::from_utf8_lossy(&buf[..n as usize]));
            }
        }
    }
}

/// The master a runtime sends to the console socket at `path` (bound before the runtime
/// runs; the runtime connects and sends before it returns).
fn received(listener: &std::os::unix::net::UnixListener) -> std::os::fd::OwnedFd {
    use std::os::fd::AsFd;
    let (stream, _) = listener.accept().unwrap();
    cleave::supervise::recv_fd(stream.as_fd()).expect("a terminal over the console socket")
}

#[test]
fn a_container_with_a_terminal_is_restored_with_a_new_one_from_the_console_socket() {
    if !support::criu_ready_or_skip() {
        return;
    }
    let id = format!("ckt-{}", std::process::id());
    let d = Dir(
        PathBuf::from(format!("/var/tmp/cleave-ckt-{}", std::process::id())),
        id.clone(),
    );
    bundle(&d, |c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["args"] = json!(["sh", "-c", "while read l; do echo \"got:$l\"; done"]);
    });
    let b = d.0.to_str().unwrap();
    let sock1 = d.0.join("c1.sock");
    let l1 = std::os::unix::net::UnixListener::bind(&sock1).unwrap();
    let s1 = sock1.to_str().unwrap();
    let (code, log) = detached(
        &d.0,
        &["run", "-d", "--console-socket", s1, "--bundle", b, &id],
    );
    assert_eq!(code, Some(0), "run: {log}");
    let master1 = received(&l1);
    talk(&master1, "one");
    let img = d.0.join("img");
    let img = img.to_str().unwrap();
    let out = cleave(&d.0, &["checkpoint", "--image-path", img, &id]);
    assert!(out.status.success(), "checkpoint: {}", text(&out.stderr));
    drop(master1);
    let id2 = format!("{id}r");
    // Without a console socket there is nowhere to send the new terminal: usage.
    let (code, log) = detached(
        &d.0,
        &["restore", "-d", "--image-path", img, "--bundle", b, &id2],
    );
    assert_eq!(code, Some(125), "{log}");
    assert!(log.contains("--console-socket"), "{log}");
    let sock2 = d.0.join("c2.sock");
    let l2 = std::os::unix::net::UnixListener::bind(&sock2).unwrap();
    // Received while the restore runs, as a console's manager (conmon, a shim) does.
    let waiter = std::thread::spawn(move || received(&l2));
    let s2 = sock2.to_str().unwrap();
    let (code, log) = detached(
        &d.0,
        &[
            "restore",
            "-d",
            "--console-socket",
            s2,
            "--image-path",
            img,
            "--bundle",
            b,
            &id2,
        ],
    );
    let criu_log = std::fs::read_to_string(d.0.join("img/restore.log")).unwrap_or_default();
    let errors: Vec<&str> = criu_log.lines().rev().take(8).collect();
    assert_eq!(code, Some(0), "restore: {log} {errors:?}");
    let master2 = waiter.join().unwrap();
    // The restored shell reads the new terminal and answers through it.
    talk(&master2, "two");
    let out = cleave(&d.0, &["delete", "--force", &id2]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
}

#[test]
fn crafted_container_images_make_restore_refuse_and_open_nothing() {
    if !support::criu_ready_or_skip() {
        return;
    }
    let id = format!("ckc-{}", std::process::id());
    let id2 = format!("{id}r");
    let d = Dir(
        PathBuf::from(format!("/var/tmp/cleave-ckc-{}", std::process::id())),
        id.clone(),
    );
    let b = d.0.to_str().unwrap();
    let config = d.0.join("config.json");
    let data = d.0.join("data").to_string_lossy().into_owned();
    bundle(&d, |c| {
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
