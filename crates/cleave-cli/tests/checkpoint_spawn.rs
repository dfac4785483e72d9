//! Checkpoint and restore of a `cleave spawn` sandbox (`cleave checkpoint --name|--pid`,
//! `cleave restore` without a container id), seen from inside: a counter that goes on from
//! where it stopped, the same PID inside, the same hostname; the name registry left empty;
//! the refusals (no session of its own, a user namespace, crafted image descriptions that
//! would make a restore open or bind host files). Mirrors CRIU's own zdtm "pidns" and
//! "uts" checks and runc's tests/integration/checkpoint.bats ("checkpoint and restore").
//! Needs root and a CRIU >= 4 (scripts/install-criu.sh); with CI=true a skip is a failure.
mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{text, Canary, BIN};

/// Waits until `f` holds; a generous bound turns a hang into a failure that says what.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "still waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A scratch directory for one test, with the counter's file.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = PathBuf::from(format!("/var/tmp/cleave-cks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    /// The counter's last line: its count, `$$` of the shell (its PID inside) and the
    /// hostname it sees.
    fn line(&self) -> Option<(u64, u32, String)> {
        let t = std::fs::read_to_string(self.path("count")).ok()?;
        let mut w = t.split_whitespace();
        Some((
            w.next()?.parse().ok()?,
            w.next()?.parse().ok()?,
            w.next()?.to_string(),
        ))
    }

    fn count(&self) -> u64 {
        self.line().map_or(0, |l| l.0)
    }

    /// The counter in a sandbox: `cleave spawn OPTS sh -c COUNTER`, every stdio /dev/null.
    fn spawn(&self, opts: &[&str]) -> Child {
        let script = format!(
            "i=0; while :; do i=$((i+1)); echo \"$i $$ $(hostname)\" > {}/count; sleep 0.2; done",
            self.0.display()
        );
        Command::new(BIN)
            .arg("spawn")
            .args(opts)
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run cleave spawn")
    }

    fn images(&self) -> String {
        self.path("img").to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cleave(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run cleave")
}

fn registry(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/cleave/sandboxes/{name}.json"))
}

/// The PID a name is registered with.
fn registered_pid(name: &str) -> Option<i32> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(registry(name)).ok()?).ok()?;
    v["pid"].as_i64().map(|p| p as i32)
}

fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// The sandbox's options: its own PID, mount, UTS and IPC namespaces, /proc, a hostname,
/// a session led by cleave's init (as CRIU needs).
const SANDBOX: &[&str] = &[
    "--new-session",
    "--new",
    "pid,mount,uts,ipc",
    "--mount-proc",
    "--hostname",
    "cks",
];

/// A running named sandbox checkpointed into `s`'s images: the count when it stopped.
fn checkpointed(s: &Scratch, name: &str) -> u64 {
    let mut child = s.spawn(&[&["--name", name], SANDBOX].concat());
    until("the counter to count", || s.count() >= 3);
    until("its name", || registered_pid(name).is_some());
    let out = cleave(&["checkpoint", "--name", name, "--image-path", &s.images()]);
    assert!(out.status.success(), "checkpoint: {}", text(&out.stderr));
    // CRIU killed the sandbox: its `cleave spawn` ends (the init killed), its name goes.
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(137), "cleave spawn's status: {st:?}");
    assert!(!registry(name).exists(), "the name outlived its sandbox");
    s.count()
}

#[test]
fn a_named_sandbox_is_checkpointed_and_goes_on_where_it_stopped() {
    if !support::criu_ready_or_skip() {
        return;
    }
    let s = Scratch::new("go-on");
    let name = unique("cks-a");
    let saved = checkpointed(&s, &name);
    let (_, pid_inside, host) = s.line().unwrap();
    assert_eq!(host, "cks");
    // Nothing runs any more: the count stays.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        s.count(),
        saved,
        "the sandbox still counts after its checkpoint"
    );

    let name2 = unique("cks-a2");
    let mut restored = Command::new(BIN)
        .args(["restore", "--image-path", &s.images(), "--name", &name2])
        .arg("--work-path")
        .arg(s.path("work/deep"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until("the restored counter to go on", || {
        if let Ok(Some(st)) = restored.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(restored.stderr.as_mut().unwrap(), &mut err).ok();
            panic!("restore ended with {st:?}: {err}");
        }
        s.count() > saved
    });
    let (count, pid_after, host_after) = s.line().unwrap();
    assert!(count > saved, "{count} after restore, {saved} when saved");
    assert!(
        count < saved + 1000,
        "the counter did not restart from 0 either"
    );
    assert_eq!(pid_after, pid_inside, "the same PID inside");
    assert_eq!(pid_after, 2, "the shell behind cleave's init");
    assert_eq!(host_after, "cks", "the same hostname");
    // Found under its new name, and the restored init is PID 1 of its namespace.
    let init = registered_pid(&name2).expect("the restored sandbox is registered");
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert!(nspid.trim_end().ends_with("\t1"), "{nspid}");
    // Ending it ends `cleave restore`, which removes the name.
    // SAFETY: kill with a PID of this test's sandbox.
    unsafe { libc::kill(init, libc::SIGKILL) };
    let st = restored.wait().unwrap();
    assert_eq!(
        st.code(),
        Some(137),
        "cleave restore returns the sandbox's status"
    );
    assert!(
        !registry(&name2).exists(),
        "the name outlived the restored sandbox"
    );
}

#[test]
fn sandboxes_criu_cannot_dump_are_refused_and_go_on() {
    if !support::criu_ready_or_skip() {
        return;
    }
    let s = Scratch::new("refused");
    let cases: [(&[&str], &str); 2] = [
        // Without a session of its own, cleave's init leads none.
        (&["--new", "pid,mount", "--mount-proc"], "--new-session"),
        // A user namespace of its own (see sandbox_ckpt.rs for CRIU's two reasons).
        (
            &["--new-session", "--new", "user,pid,mount", "--mount-proc"],
            "user namespace of its own",
        ),
    ];
    for (i, (opts, says)) in cases.iter().enumerate() {
        let name = unique(&format!("cks-r{i}"));
        let _ = std::fs::remove_file(s.path("count"));
        let mut child = s.spawn(&[&["--name", &name], *opts].concat());
        until("the counter to count", || s.count() >= 2);
        until("its name", || registered_pid(&name).is_some());
        let pid = registered_pid(&name).unwrap().to_string();
        let out = cleave(&["checkpoint", "--pid", &pid, "--image-path", &s.images()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{opts:?}: {err}");
        assert!(err.contains(says), "{opts:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        // It goes on.
        let now = s.count();
        until("the refused sandbox to go on", || s.count() > now);
        // Ended from inside (its init killed): its supervisor ends and removes the name.
        // SAFETY: kill with the PID of this test's sandbox.
        unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
        let _ = child.wait();
        assert!(!registry(&name).exists(), "the name outlived its sandbox");
    }
    // Names that find nothing, and a sandbox's image restored as a container: usage.
    let out = cleave(&[
        "checkpoint",
        "--name",
        "no-such-sandbox",
        "--image-path",
        &s.images(),
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no running sandbox is named"));
    let out = cleave(&["checkpoint", "--pid", "1", "--image-path", &s.images()]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
}

/// Runs `cleave restore` of `images` (a sandbox's) after `edit` changed the description
/// cleave keeps beside CRIU's images: it must fail with `says`, leave the canary unopened
/// and register nothing.
fn refused(images: &Path, work: &Path, canary: &Canary, says: &str, edit: impl FnOnce(&mut Value)) {
    let file = images.join("cleave-checkpoint.json");
    let orig = std::fs::read_to_string(&file).unwrap();
    let mut v: Value = serde_json::from_str(&orig).unwrap();
    edit(&mut v);
    std::fs::write(&file, serde_json::to_string(&v).unwrap()).unwrap();
    let name = unique("cks-crafted");
    let out = Command::new(BIN)
        .args([
            "restore",
            "--image-path",
            images.to_str().unwrap(),
            "--name",
            &name,
        ])
        .arg("--work-path")
        .arg(work)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    std::fs::write(&file, orig).unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(says), "{err}");
    assert!(
        !canary.touched(),
        "the restore opened {}",
        canary.path.display()
    );
    assert!(!registry(&name).exists());
    assert!(!work.join("restore.log").exists(), "criu ran: {err}");
}

#[test]
fn crafted_sandbox_images_make_restore_refuse_and_open_nothing() {
    // The restore refusals of a security review: an image that names an outside file other
    // than the init's stdio, a bind from anywhere but the same host mount point, or a file
    // mapped into the init that is not cleave's own; each a real checkpoint whose
    // description is edited (CRIU's images are left as they are).
    if !support::criu_ready_or_skip() {
        return;
    }
    let s = Scratch::new("crafted");
    let saved = checkpointed(&s, &unique("cks-c"));
    assert!(saved >= 3);
    let images = s.path("img");
    let work = s.path("work");
    let canary = Canary::new(s.path("canary"));
    let host = canary.path.to_string_lossy().into_owned();
    refused(&images, &work, &canary, "not the container's stdio", |v| {
        v["descriptors"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "fd": -1, "key": "file[1b:2a]", "external": true, "host": host, "stdio_of": null
            }));
    });
    let dir = s.0.to_string_lossy().into_owned();
    refused(
        &images,
        &work,
        &canary,
        "binds only the host's own mounts",
        |v| {
            let ext = v["externals"].as_array_mut().unwrap();
            let e = ext
                .iter_mut()
                .find(|e| e["kind"] == "bind" || e["kind"] == "cgroup");
            let e = e.expect("the sandbox has an external mount");
            e["host"] = Value::String(dir.clone());
        },
    );
    let host = canary.path.to_string_lossy().into_owned();
    refused(&images, &work, &canary, "not a file of this cleave", |v| {
        let maps = v["sandbox"]["maps"].as_array_mut().unwrap();
        maps[0]["path"] = Value::String(host.clone());
    });
    // A sandbox's images are not a container's, and the reverse.
    let out = cleave(&[
        "restore",
        "--image-path",
        images.to_str().unwrap(),
        "some-id",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("without a container id"));
    assert!(!canary.touched());
}
