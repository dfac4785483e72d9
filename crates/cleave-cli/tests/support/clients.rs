//! Shared by the real-client tests (tests/clients.rs): the OCI runtime under test behind a
//! wrapper that logs every argv it is given, a scratch directory per test, commands with a
//! deadline, the busybox rootfs and the images made from it, and a guard that stops a daemon
//! by pid and leaves no process or mount of the test behind.
#![allow(dead_code)]
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long one client command may take before the test gives up on it and kills it.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(180);
/// How long a condition polled by `wait_until` may take (generous: a busy two-core machine).
pub const WAIT_DEADLINE: Duration = Duration::from_secs(60);

/// The OCI runtime under test: `CLEAVE_CLIENT_RUNTIME`, or the cleave binary of this build.
pub fn runtime() -> PathBuf {
    match std::env::var_os("CLEAVE_CLIENT_RUNTIME") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.is_absolute() && p.is_file(),
                "CLEAVE_CLIENT_RUNTIME={} is not an absolute path to a file",
                p.display()
            );
            p
        }
        _ => PathBuf::from(env!("CARGO_BIN_EXE_cleave")),
    }
}

/// One client at a time: each drives daemons, shims and containers of its own, and the machine
/// has two cores. Poison is ignored: a failed test must not fail the ones after it.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the client tests start podman, dockerd and containerd: run them as root (scripts/test.sh)"
    );
}

/// A program the tests need, looked for where Debian installs it; missing ones fail the test
/// with the command that installs them.
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is missing: scripts/test.sh installs it (apt-get install podman docker.io containerd runc)");
}

/// A directory of the test's own under /var/tmp/cleave-cl (a short path wherever the
/// checkout is: unix socket paths below it must stay under 108 bytes, and podman refuses a
/// runroot over 50 characters; not under /tmp, which a preset sandbox hides), emptied first.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = PathBuf::from("/var/tmp/cleave-cl").join(tag);
        if dir.exists() {
            // What a killed earlier run left: its mounts first, then the files.
            unmount_below(&dir);
            fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("remove {}: {e}", dir.display()));
        }
        fs::create_dir_all(dir.join("tmp")).unwrap();
        Scratch { dir }
    }

    /// The cgroup parent of this test's containers (`/cleave-clients-TAG`), given to each
    /// client so that the guard can find what a runtime left there and remove it.
    pub fn cgroup_parent(&self) -> String {
        format!(
            "/cleave-clients-{}",
            self.dir.file_name().unwrap().to_string_lossy()
        )
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.dir.join(rel);
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// The wrapper put in front of the runtime: an executable named `name` that appends its
    /// argv as one line to `argv.log` and execs the runtime under test with the same argv,
    /// stdin and fds (the containerd shim feeds `update --resources -` on stdin).
    pub fn wrapper(&self, name: &str) -> PathBuf {
        self.wrapper_of(name, &runtime())
    }

    /// [`Scratch::wrapper`] in front of the runtime at `rt`.
    pub fn wrapper_of(&self, name: &str, rt: &Path) -> PathBuf {
        let bin = self.mkdir("bin");
        let p = bin.join(name);
        let log = self.path("argv.log");
        let script = format!(
            "#!/bin/sh\n\
             # Logs the argv a client sends to its OCI runtime, then becomes that runtime.\n\
             line=\n\
             for a in \"$@\"; do\n  \
               case $a in *[[:space:]]*|'') a=\"'$a'\";; esac\n  \
               line=\"$line${{line:+ }}$a\"\n\
             done\n\
             printf '%s\\n' \"$line\" >> '{log}'\n\
             # `update --resources -` reads JSON on stdin: keep a copy of it (stdin.log).\n\
             case \" $* \" in *\" --resources - \"*|*\" --resources=- \"*)\n  \
               f='{stdin}'.$$; cat > \"$f\"; cat \"$f\" >> '{stdin}'; echo >> '{stdin}'\n  \
               exec '{rt}' \"$@\" < \"$f\";;\n\
             esac\n\
             # podman's `update --resources=FILE`: keep a copy of the file.\n\
             for a in \"$@\"; do case $a in --resources=/*)\n  \
               cat \"${{a#--resources=}}\" >> '{stdin}'; echo >> '{stdin}';; esac; done\n\
             exec '{rt}' \"$@\"\n",
            log = log.display(),
            stdin = self.path("stdin.log").display(),
            rt = rt.display()
        );
        fs::write(&p, script).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// Every argv the wrapper saw, one call per entry.
    pub fn argv_log(&self) -> Vec<String> {
        fs::read_to_string(self.path("argv.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The verbs (first word after the global options) the runtime was called with, in order.
    pub fn verbs(&self) -> Vec<String> {
        self.argv_log().iter().map(|l| verb_of(l)).collect()
    }

    /// Prints the argv log with the scratch dir and long ids shortened, for the report.
    pub fn print_argv(&self, title: &str) {
        eprintln!("--- argv sent to the runtime by {title}:");
        for l in self.argv_log() {
            eprintln!("  {}", self.shorten(&l));
        }
    }

    pub fn shorten(&self, line: &str) -> String {
        shorten(&self.dir, line)
    }
}

/// `line` with `dir` written `$S` and 64-hex ids written `ID`.
pub fn shorten(dir: &Path, line: &str) -> String {
    let dir = dir.to_string_lossy();
    line.split(' ')
        .map(|w| shorten_ids(&w.replace(&*dir, "$S")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shorten_ids(w: &str) -> String {
    // 64-hex container ids become ID.
    let mut out = String::new();
    let mut run = String::new();
    for c in w.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else {
            out.push_str(if run.len() == 64 { "ID" } else { &run });
            run.clear();
            out.push(c);
        }
    }
    out.push_str(if run.len() == 64 { "ID" } else { &run });
    out
}

/// The verb of one logged argv: the first word that is not a global option or its value.
pub fn verb_of(line: &str) -> String {
    let mut words = line.split(' ');
    while let Some(w) = words.next() {
        match w {
            "--root" | "--log" | "--log-format" | "--criu" | "--rootless" => {
                words.next();
            }
            w if w.starts_with('-') => {}
            w => return w.to_owned(),
        }
    }
    String::new()
}

/// What a finished command gave.
pub struct Ran {
    pub what: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Panics, with everything the command printed, unless it exited 0.
    pub fn ok(self) -> Ran {
        assert_eq!(self.code, Some(0), "{} failed:\n{}", self.what, self.show());
        self
    }

    pub fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout:\n{}--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` with stdout and stderr in files under the scratch dir and stdin from /dev/null;
/// kills it at COMMAND_DEADLINE.
pub fn run(s: &Scratch, cmd: &mut Command) -> Ran {
    let what = format!("{cmd:?}");
    let out = s.path("tmp/cmd.out");
    let err = s.path("tmp/cmd.err");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > COMMAND_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish in {COMMAND_DEADLINE:?}:\n--- stdout:\n{}--- stderr:\n{}",
                fs::read_to_string(&out).unwrap_or_default(),
                fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        what,
        code: status.code(),
        stdout: fs::read_to_string(&out).unwrap_or_default(),
        stderr: fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// Polls `f` until it gives Some, failing with `what` at WAIT_DEADLINE.
pub fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < WAIT_DEADLINE, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The container's counter: a shell loop that writes 1, 2, 3... to /out/count (through a
/// rename, so a reader never sees half a number) and exits 0 on SIGTERM.
pub const COUNTER: &str = "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); \
     echo $i > /out/count.new; mv /out/count.new /out/count; sleep 0.1; done";

/// The counter's last value, read from the host side of /out.
pub fn count(out: &Path) -> Option<u64> {
    fs::read_to_string(out.join("count"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Waits until the counter passes `above`, and returns the value seen.
pub fn count_passes(out: &Path, above: u64) -> u64 {
    wait_until(
        &format!("the counter in {} to pass {above}", out.display()),
        || count(out).filter(|&n| n > above),
    )
}

/// The busybox rootfs of scripts/mkrootfs.sh, built once per test binary.
pub fn rootfs() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cl-rootfs");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mkrootfs.sh");
        let st = Command::new("sh")
            .arg(script)
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .expect("run scripts/mkrootfs.sh");
        assert!(st.success(), "scripts/mkrootfs.sh failed");
        dir
    })
}

/// A copy of the rootfs in the scratch dir (a container there is found by its root).
pub fn rootfs_copy(s: &Scratch) -> PathBuf {
    let to = s.path("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&to)
        .status()
        .expect("run cp");
    assert!(st.success(), "cp -a of the rootfs failed");
    to
}

/// The rootfs as one tar (what `docker import` and the OCI archive's layer take).
pub fn rootfs_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let tar = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cl-rootfs.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(rootfs())
            .args(["--numeric-owner", "-cf"])
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(st.success(), "tar of the rootfs failed");
        tar
    })
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Moves `file` into `blobs/sha256/` of the layout at `dir`; returns its digest and size.
fn blob(dir: &Path, file: &Path) -> (String, u64) {
    let digest = sha256(file);
    let size = fs::metadata(file).unwrap().len();
    fs::rename(file, dir.join("blobs/sha256").join(&digest)).unwrap();
    (format!("sha256:{digest}"), size)
}

/// An OCI image archive (oci-layout, index.json, blobs) of the rootfs as one uncompressed
/// layer, its image named `reference`, written at `s/image.oci.tar`.
pub fn oci_archive(s: &Scratch, reference: &str) -> PathBuf {
    let config = serde_json::json!({"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]});
    oci_archive_of(s, "image", reference, rootfs_tar(), config)
}

/// An OCI image archive of one uncompressed layer (a copy of the tar `layer`), its image
/// named `reference` with `config` as the image config's `config` (Cmd, Entrypoint, Env),
/// written at `s/NAME.oci.tar` (its layout built in `s/NAME.oci/`).
pub fn oci_archive_of(
    s: &Scratch,
    name: &str,
    reference: &str,
    layer: &Path,
    config: serde_json::Value,
) -> PathBuf {
    let dir = s.mkdir(&format!("{name}.oci"));
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let layer_file = s.path(&format!("{name}.layer.tar"));
    fs::copy(layer, &layer_file).unwrap();
    let (layer, layer_size) = blob(&dir, &layer_file);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer]},
    });
    let config_file = s.path(&format!("{name}.config.json"));
    fs::write(&config_file, config.to_string()).unwrap();
    let (config, config_size) = blob(&dir, &config_file);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer, "size": layer_size}],
    });
    let manifest_file = s.path(&format!("{name}.manifest.json"));
    fs::write(&manifest_file, manifest.to_string()).unwrap();
    let (manifest, manifest_size) = blob(&dir, &manifest_file);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest, "size": manifest_size,
                       "annotations": {"org.opencontainers.image.ref.name": reference}}],
    });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let archive = s.path(&format!("{name}.oci.tar"));
    let st = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-cf")
        .arg(&archive)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(st.success(), "tar of the OCI layout failed");
    archive
}

/// A daemon the test started (dockerd, containerd), stopped by its pid when dropped, also
/// when the test fails: SIGTERM, a deadline, then SIGKILL. Then whatever still names the
/// scratch dir (shims, conmon, a daemon's own containerd) is killed and every mount below the
/// scratch dir is detached.
pub struct Daemon {
    pub name: &'static str,
    pub child: Option<Child>,
    pub log: PathBuf,
    pub scratch: PathBuf,
    /// Run before the daemon is stopped, while it still answers: removes its containers.
    pub before_stop: Option<Box<dyn FnMut()>>,
    /// The containers' cgroup parent (Scratch::cgroup_parent).
    pub cgroup_parent: String,
    /// Cgroups the runtime left below the parent after every container was deleted.
    pub stale_cgroups: Vec<PathBuf>,
    stopped: bool,
}

impl Daemon {
    pub fn spawn(name: &'static str, s: &Scratch, cmd: &mut Command) -> Daemon {
        let log = s.path(&format!("{name}.log"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::options().append(true).open(&log).unwrap())
            .env("TMPDIR", s.path("tmp"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Daemon {
            name,
            child: Some(child),
            log,
            scratch: s.dir.clone(),
            before_stop: None,
            cgroup_parent: s.cgroup_parent(),
            stale_cgroups: Vec::new(),
            stopped: false,
        }
    }

    /// Waits until `ready` says the daemon answers; fails with its log if it exits first.
    pub fn wait_ready(&mut self, mut ready: impl FnMut() -> bool) {
        let name = self.name;
        let log = self.log.clone();
        let child = self.child.as_mut().unwrap();
        wait_until(
            &format!("{name} to answer (log: {})", log.display()),
            || {
                if let Some(st) = child.try_wait().unwrap() {
                    panic!(
                        "{name} exited ({st}) before it answered:\n{}",
                        fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                ready().then_some(())
            },
        );
    }

    /// A guard with no daemon (podman): only `before_stop` and the sweep.
    pub fn none(name: &'static str, s: &Scratch) -> Daemon {
        Daemon {
            name,
            child: None,
            log: s.path("none.log"),
            scratch: s.dir.clone(),
            before_stop: None,
            cgroup_parent: s.cgroup_parent(),
            stale_cgroups: Vec::new(),
            stopped: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Stops the daemon now (what Drop does) and asserts that nothing of the test is left.
    pub fn stop(mut self) {
        self.shut_down();
        let left = leftovers(&self.scratch);
        assert!(left.is_empty(), "left behind after {}: {left:?}", self.name);
        assert!(
            self.stale_cgroups.is_empty(),
            "the runtime left these cgroups after its containers were deleted: {:?}",
            self.stale_cgroups
        );
        let parent = self.cgroup_parent.trim_start_matches('/');
        let kept: Vec<PathBuf> = cgroup_mounts()
            .into_iter()
            .map(|m| m.join(parent))
            .filter(|p| p.exists())
            .collect();
        assert!(
            kept.is_empty(),
            "cgroups that could not be removed: {kept:?}"
        );
    }

    fn shut_down(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        if let Some(mut f) = self.before_stop.take() {
            f();
        }
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as i32;
            // SAFETY: a plain signal to the daemon this guard started (not yet reaped, so the
            // pid is still its own).
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let start = Instant::now();
            while child.try_wait().unwrap().is_none() {
                if start.elapsed() > Duration::from_secs(30) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        sweep(&self.scratch);
        self.stale_cgroups = remove_cgroups(&self.cgroup_parent);
        let log = fs::read_to_string(self.scratch.join("argv.log")).unwrap_or_default();
        eprintln!("--- argv sent to the runtime ({}):", self.name);
        for l in log.lines() {
            eprintln!("  {}", shorten(&self.scratch, l));
        }
        if let Ok(stdin) = fs::read_to_string(self.scratch.join("stdin.log")) {
            eprintln!("--- resources JSON given to `update`:\n{stdin}");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Processes whose command line names `dir` or whose root is below it, and mounts below it.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let mut left: Vec<String> = processes_naming(dir)
        .into_iter()
        .map(|(pid, cmd)| format!("process {pid}: {cmd}"))
        .collect();
    left.extend(mounts_below(dir).into_iter().map(|m| format!("mount {m}")));
    left
}

/// Kills (SIGKILL, by pid) every process whose command line names `dir` or whose root (a
/// container's rootfs) is below it, then detaches
/// every mount below it, deepest first.
pub fn sweep(dir: &Path) {
    for _ in 0..3 {
        let procs = processes_naming(dir);
        if procs.is_empty() {
            break;
        }
        for (pid, _) in &procs {
            // SAFETY: a plain signal by pid; the pid was just read from /proc.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    unmount_below(dir);
}

fn processes_naming(dir: &Path) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        // A zombie has an empty command line; its parent reaps it.
        let root = fs::read_link(e.path().join("root")).unwrap_or_default();
        if cmd.contains(&needle) || root.starts_with(dir) {
            found.push((pid, cmd.trim_end().to_owned()));
        }
    }
    found
}

fn mounts_below(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.to_string_lossy());
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix) || *m == prefix.trim_end_matches('/'))
        .map(str::to_owned)
        .collect()
}

fn unmount_below(dir: &Path) {
    for _ in 0..3 {
        let mut mounts = mounts_below(dir);
        if mounts.is_empty() {
            return;
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let c = std::ffi::CString::new(m).unwrap();
            // SAFETY: c is a NUL-terminated path that outlives the call.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Every mounted cgroup hierarchy (v1 controllers, the v2 unified tree).
fn cgroup_mounts() -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mnt = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(mnt))
        })
        .collect()
}

/// Removes `parent` (a cgroup path such as `/cleave-clients-p-run`) from every hierarchy,
/// its children first; returns the children that were there (a runtime's leftovers).
pub fn remove_cgroups(parent: &str) -> Vec<PathBuf> {
    let mut stale = Vec::new();
    for mnt in cgroup_mounts() {
        let top = mnt.join(parent.trim_start_matches('/'));
        if !top.is_dir() {
            continue;
        }
        let mut dirs = Vec::new();
        collect_dirs(&top, &mut dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            // `conmon` is podman's own: the cgroup it moves conmon into, never removed.
            if d != top && d.file_name().is_some_and(|n| n != "conmon") {
                stale.push(d.clone());
            }
            // Fails while processes are inside: then it stays and is reported.
            let _ = fs::remove_dir(&d);
        }
    }
    stale
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            collect_dirs(&e.path(), out);
        }
    }
}
