//! The real clients drive the OCI runtime under test through their normal paths (issue 10,
//! "Proof with real clients"): Debian's podman 4.3 (through conmon), docker 20.10 (dockerd
//! and its containerd shim) and containerd 1.6 (`ctr` and the runc v2 shim).
//!
//! The runtime is `CLEAVE_CLIENT_RUNTIME` (an absolute path, e.g. `/usr/sbin/runc` to check
//! the harness against the reference) or, by default, the cleave binary of this build. The
//! clients reach it through a wrapper script that logs every argv (`argv.log` in the test's
//! scratch dir, printed at the end of each test: run with `--nocapture` to see them).
//!
//! Each test has its own scratch dir under /var/tmp/cleave-cl/ holding the client's
//! state (podman's --root/--runroot, dockerd's data and exec roots, containerd's root, state
//! and socket); every daemon is stopped by its pid at the end, also when the test fails, and
//! the test then asserts that no process and no mount of it is left. The three clients run
//! one at a time. Needs root and `apt-get install podman docker.io containerd` (scripts/test.sh
//! installs them).
//!
//! How each client is pointed at the runtime here (what the README will show for cleave):
//! - podman: `--runtime PATH`, and in containers.conf
//!   `[engine] runtime_supports_json = ["cleave"]` with `[engine.runtimes] cleave = ["PATH"]`
//!   (without the first, conmon does not pass `--log-format=json --log FILE`);
//! - dockerd: `--add-runtime cleave=PATH`, then `docker run --runtime cleave`;
//! - containerd: `ctr run --runc-binary PATH` (the runc v2 shim calls PATH with runc's argv).

#[path = "support/clients.rs"]
mod clients;

use clients::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The name under which every client knows the runtime (the wrapper's file name: podman
/// takes it from `--runtime PATH`, dockerd from `--add-runtime NAME=PATH`).
const NAME: &str = "cleave";

/// What podman's containers need on this host: no network, and ulimits no higher than the
/// host's (root lacks CAP_SYS_RESOURCE here, so podman's defaults cannot be set).
const PODMAN_RUN: [&str; 6] = [
    "--network",
    "none",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// The script every "prints and passes exit codes" case runs: pid 1 proves it runs in its own
/// pid namespace, the two streams must arrive apart, 3 must come back as the exit code.
const PRINTS: &str = "echo pid=$$; echo to-stderr >&2; exit 3";

const LIMIT: &str = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null \
     || cat /sys/fs/cgroup/memory.max";

fn assert_prints(r: &Ran) {
    assert_eq!(
        r.code,
        Some(3),
        "exit code 3 must pass through:\n{}",
        r.show()
    );
    assert_eq!(r.stdout.trim(), "pid=1", "{}", r.show());
    assert!(r.stderr.contains("to-stderr"), "{}", r.show());
}

/// Fails unless the runtime was called with each verb in `want` (so the client did not fall
/// back on a runtime of its own).
fn assert_verbs(s: &Scratch, want: &[&str]) {
    let verbs = s.verbs();
    for w in want {
        assert!(
            verbs.iter().any(|v| v == w),
            "the runtime was never called with `{w}`; it got: {verbs:?}"
        );
    }
}

fn done(name: &str, start: Instant) {
    eprintln!("--- {name}: {:.1} s", start.elapsed().as_secs_f64());
}

/// Holds still for a moment: long enough that a running counter (10 a second) moves.
fn hold_still() {
    std::thread::sleep(Duration::from_millis(500));
}

// ----------------------------------------------------------------------------------- podman

struct Podman {
    s: Scratch,
    wrapper: PathBuf,
    rootfs: PathBuf,
}

impl Podman {
    fn new(tag: &str) -> (Podman, Daemon) {
        require_root();
        tool("podman");
        tool("conmon");
        let s = Scratch::new(tag);
        let wrapper = s.wrapper(NAME);
        // The containers.conf entry that registers the runtime: its path, and its name among
        // those that write their errors as JSON (conmon then passes --log-format=json).
        let conf = format!(
            "[engine]\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             runtime_supports_json = [\"{NAME}\"]\n\
             [engine.runtimes]\n\
             {NAME} = [\"{}\"]\n",
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
        let p = Podman { s, wrapper, rootfs };
        let mut guard = Daemon::none("podman", &p.s);
        let mut rm = p.cmd();
        rm.args(["rm", "--all", "--force", "--time", "0"]);
        let dir = p.s.dir.clone();
        guard.before_stop = Some(Box::new(move || {
            let s = Scratch { dir: dir.clone() };
            let r = run(&s, &mut rm);
            if r.code != Some(0) {
                eprintln!("podman rm --all --force: {}", r.show());
            }
        }));
        (p, guard)
    }

    fn cmd(&self) -> Command {
        let s = &self.s;
        let mut c = Command::new(tool("podman"));
        c.env("CONTAINERS_CONF", s.path("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", s.path("storage.conf"))
            .env("TMPDIR", s.path("tmp"))
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

    fn run(&self, args: &[&str]) -> Ran {
        run(&self.s, self.cmd().args(args))
    }

    /// `podman run OPTS --rootfs ROOTFS sh -c SCRIPT`, with this host's options.
    fn run_sh(&self, opts: &[&str], script: &str) -> Ran {
        let mut c = self.cmd();
        c.arg("run").args(PODMAN_RUN).args(opts);
        c.args(["--cgroup-parent", &self.s.cgroup_parent()]);
        c.arg("--rootfs")
            .arg(&self.rootfs)
            .args(["sh", "-c", script]);
        run(&self.s, &mut c)
    }

    /// A detached counter with /out on the host; returns its id and /out.
    fn counter(&self, opts: &[&str]) -> (String, PathBuf) {
        let out = self.s.mkdir("out");
        let vol = format!("{}:/out", out.display());
        let mut all = vec!["-d", "-v", &vol];
        all.extend_from_slice(opts);
        let id = self.run_sh(&all, COUNTER).ok().stdout.trim().to_owned();
        count_passes(&out, 1);
        (id, out)
    }

    fn inspect(&self, id: &str, format: &str) -> String {
        self.run(&["inspect", "--format", format, id])
            .ok()
            .stdout
            .trim()
            .to_owned()
    }

    fn assert_no_containers(&self) {
        let r = self.run(&["ps", "--all", "--quiet"]).ok();
        assert_eq!(r.stdout.trim(), "", "containers left: {}", r.show());
    }
}

#[test]
fn podman_run_rm_prints_and_passes_exit_codes() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Podman::new("p-run");
    assert_prints(&p.run_sh(&["--rm"], PRINTS));
    let r = p.run_sh(&["--rm"], "exit 0");
    assert_eq!(r.code, Some(0), "{}", r.show());
    let r = p.run_sh(&["--rm"], "exit 42");
    assert_eq!(r.code, Some(42), "{}", r.show());
    p.assert_no_containers();
    assert_verbs(&p.s, &["create", "start", "delete"]);
    guard.stop();
    done("podman run --rm", start);
}

/// A program that does not exist is the runtime's error at `create`; podman reads it from the
/// runtime's JSON log (`--log`) and answers 127, as a shell would.
#[test]
fn podman_missing_program_exits_127() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Podman::new("p-127");
    let mut c = p.cmd();
    c.arg("run").args(PODMAN_RUN).arg("--rm");
    c.args(["--cgroup-parent", &p.s.cgroup_parent()]);
    c.arg("--rootfs").arg(&p.rootfs).arg("/no/such/program");
    let r = run(&p.s, &mut c);
    assert_eq!(r.code, Some(127), "{}", r.show());
    p.assert_no_containers();
    assert_verbs(&p.s, &["create"]);
    guard.stop();
    done("podman run of a missing program", start);
}

#[test]
fn podman_detached_exec_stop_rm() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Podman::new("p-exec");
    let (id, _out) = p.counter(&[]);
    let r = p
        .run(&["exec", &id, "sh", "-c", "echo exec-pid=$$; cat /out/count"])
        .ok();
    let pid = r.stdout.lines().next().unwrap_or_default();
    assert!(
        pid.starts_with("exec-pid=") && pid != "exec-pid=1",
        "{}",
        r.show()
    );
    let r = p.run(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(
        r.code,
        Some(7),
        "exec's exit code must pass through: {}",
        r.show()
    );
    p.run(&["stop", "--time", "30", &id]).ok();
    // The counter traps SIGTERM and exits 0; 137 would mean only the SIGKILL arrived.
    assert_eq!(
        p.inspect(&id, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    p.run(&["rm", &id]).ok();
    p.assert_no_containers();
    assert_verbs(&p.s, &["create", "start", "exec", "kill", "delete"]);
    guard.stop();
    done("podman -d, exec, stop, rm", start);
}

#[test]
fn podman_pause_unpause_stops_and_restarts_a_counter() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Podman::new("p-pause");
    let (id, out) = p.counter(&[]);
    p.run(&["pause", &id]).ok();
    assert_eq!(p.inspect(&id, "{{.State.Status}}"), "paused");
    let frozen = count(&out);
    hold_still();
    assert_eq!(count(&out), frozen, "the counter moved while paused");
    p.run(&["unpause", &id]).ok();
    assert_eq!(p.inspect(&id, "{{.State.Status}}"), "running");
    count_passes(&out, frozen.unwrap_or(0));
    p.run(&["rm", "--force", "--time", "0", &id]).ok();
    p.assert_no_containers();
    assert_verbs(&p.s, &["pause", "resume"]);
    guard.stop();
    done("podman pause/unpause", start);
}

#[test]
fn podman_memory_limit_is_in_the_containers_cgroup() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Podman::new("p-mem");
    let r = p.run_sh(&["--rm", "--memory", "64m"], LIMIT).ok();
    assert_eq!(r.stdout.trim(), "67108864", "{}", r.show());
    guard.stop();
    done("podman --memory", start);
}

#[test]
fn podman_update_changes_the_memory_limit() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Podman::new("p-upd");
    let (id, _out) = p.counter(&["--memory", "64m"]);
    let r = p.run(&["exec", &id, "sh", "-c", LIMIT]).ok();
    assert_eq!(r.stdout.trim(), "67108864", "{}", r.show());
    p.run(&["update", "--memory", "128m", &id]).ok();
    let r = p.run(&["exec", &id, "sh", "-c", LIMIT]).ok();
    assert_eq!(r.stdout.trim(), "134217728", "{}", r.show());
    p.run(&["rm", "--force", "--time", "0", &id]).ok();
    assert_verbs(&p.s, &["update"]);
    guard.stop();
    done("podman update", start);
}

/// `podman container checkpoint` and `restore` through the runtime's checkpoint and restore
/// verbs (podman runs `criu` from PATH itself for its version check: scripts/install-criu.sh
/// puts one there). Mirrors podman's test/e2e/checkpoint_test.go "podman checkpoint a
/// running container by id" and its restore: the counter stops, then continues.
#[test]
fn podman_checkpoint_and_restore_continue_a_counter() {
    let _one = serial();
    let start = Instant::now();
    let (p, guard) = Podman::new("p-ckpt");
    let (id, out) = p.counter(&[]);
    p.run(&["container", "checkpoint", &id]).ok();
    assert_eq!(p.inspect(&id, "{{.State.Status}}"), "exited");
    let saved = count(&out).unwrap_or(0);
    hold_still();
    assert_eq!(
        count(&out),
        Some(saved),
        "the counter moved while checkpointed"
    );
    p.run(&["container", "restore", &id]).ok();
    assert_eq!(p.inspect(&id, "{{.State.Status}}"), "running");
    let after = count_passes(&out, saved);
    assert!(
        after > saved,
        "the counter restarted: {after} after {saved}"
    );
    p.run(&["rm", "--force", "--time", "0", &id]).ok();
    p.assert_no_containers();
    assert_verbs(&p.s, &["checkpoint", "restore"]);
    guard.stop();
    done("podman checkpoint/restore", start);
}

// ----------------------------------------------------------------------------------- docker

const DOCKER_IMAGE: &str = "cleave-test:1";

struct Docker {
    s: Scratch,
}

impl Docker {
    /// Starts dockerd with roots, pid file and socket of its own, no bridge and no iptables,
    /// the wrapper registered as runtime `cleave`, and the rootfs imported as DOCKER_IMAGE.
    fn new(tag: &str) -> (Docker, Daemon) {
        require_root();
        let s = Scratch::new(tag);
        let wrapper = s.wrapper(NAME);
        std::fs::write(s.path("daemon.json"), "{}").unwrap();
        let mut c = Command::new(tool("dockerd"));
        c.arg("--config-file")
            .arg(s.path("daemon.json"))
            .arg("--data-root")
            .arg(s.path("data"))
            .arg("--exec-root")
            .arg(s.path("exec"))
            .arg("--pidfile")
            .arg(s.path("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", s.path("docker.sock").display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .args(["--storage-driver", "vfs"])
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
            .arg(format!("--cgroup-parent={}", s.cgroup_parent()))
            .arg(format!("--add-runtime={NAME}={}", wrapper.display()));
        let mut daemon = Daemon::spawn("dockerd", &s, &mut c);
        let d = Docker { s };
        daemon.wait_ready(|| run(&d.s, d.cmd().arg("version")).code == Some(0));
        let dir = d.s.dir.clone();
        daemon.before_stop = Some(Box::new(move || {
            let d = Docker {
                s: Scratch { dir: dir.clone() },
            };
            let ids = run(&d.s, d.cmd().args(["ps", "--all", "--quiet"])).stdout;
            for id in ids.split_whitespace() {
                run(&d.s, d.cmd().args(["rm", "--force", id]));
            }
        }));
        d.run(&["import", rootfs_tar().to_str().unwrap(), DOCKER_IMAGE])
            .ok();
        (d, daemon)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(tool("docker"));
        c.env("DOCKER_CONFIG", self.s.path("client"))
            .arg("-H")
            .arg(format!("unix://{}", self.s.path("docker.sock").display()));
        c
    }

    fn run(&self, args: &[&str]) -> Ran {
        run(&self.s, self.cmd().args(args))
    }

    fn run_sh(&self, opts: &[&str], script: &str) -> Ran {
        let mut c = self.cmd();
        c.args(["run", "--runtime", NAME, "--network", "none"])
            .args(opts);
        c.args([DOCKER_IMAGE, "sh", "-c", script]);
        run(&self.s, &mut c)
    }

    fn inspect(&self, id: &str, format: &str) -> String {
        self.run(&["inspect", "--format", format, id])
            .ok()
            .stdout
            .trim()
            .to_owned()
    }

    fn assert_no_containers(&self) {
        let r = self.run(&["ps", "--all", "--quiet"]).ok();
        assert_eq!(r.stdout.trim(), "", "containers left: {}", r.show());
    }
}

#[test]
fn docker_run_rm_prints_and_passes_exit_codes() {
    let _one = serial();
    let start = Instant::now();
    let (d, daemon) = Docker::new("d-run");
    assert_prints(&d.run_sh(&["--rm"], PRINTS));
    let r = d.run_sh(&["--rm"], "exit 0");
    assert_eq!(r.code, Some(0), "{}", r.show());
    d.assert_no_containers();
    assert_verbs(&d.s, &["create", "start", "delete"]);
    daemon.stop();
    done("docker run --rm", start);
}

#[test]
fn docker_exec_update_pause_stop_rm() {
    let _one = serial();
    let start = Instant::now();
    let (d, daemon) = Docker::new("d-exec");
    let out = d.s.mkdir("out");
    let vol = format!("{}:/out", out.display());
    let id = d
        .run_sh(&["-d", "-v", &vol, "--memory", "64m"], COUNTER)
        .ok()
        .stdout
        .trim()
        .to_owned();
    count_passes(&out, 1);
    let r = d.run(&["exec", &id, "sh", "-c", "echo exec-pid=$$"]).ok();
    assert!(
        r.stdout.starts_with("exec-pid=") && r.stdout.trim() != "exec-pid=1",
        "{}",
        r.show()
    );
    let r = d.run(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(
        r.code,
        Some(7),
        "exec's exit code must pass through: {}",
        r.show()
    );
    // The shim sends `update --resources -` with the resources as JSON on stdin.
    let r = d.run(&["exec", &id, "sh", "-c", LIMIT]).ok();
    assert_eq!(r.stdout.trim(), "67108864", "{}", r.show());
    let update = ["update", "--memory", "128m", "--memory-swap", "256m", &id];
    d.run(&update).ok();
    let r = d.run(&["exec", &id, "sh", "-c", LIMIT]).ok();
    assert_eq!(r.stdout.trim(), "134217728", "{}", r.show());
    d.run(&["pause", &id]).ok();
    assert_eq!(d.inspect(&id, "{{.State.Status}}"), "paused");
    let frozen = count(&out);
    hold_still();
    assert_eq!(count(&out), frozen, "the counter moved while paused");
    d.run(&["unpause", &id]).ok();
    count_passes(&out, frozen.unwrap_or(0));
    d.run(&["stop", "--time", "30", &id]).ok();
    // The counter traps SIGTERM and exits 0; 137 would mean only the SIGKILL arrived.
    assert_eq!(
        d.inspect(&id, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    d.run(&["rm", &id]).ok();
    d.assert_no_containers();
    assert_verbs(
        &d.s,
        &[
            "create", "start", "exec", "pause", "resume", "kill", "delete",
        ],
    );
    daemon.stop();
    done("docker -d, exec, update, pause, stop, rm", start);
}

// ------------------------------------------------------------------------------- containerd

const CTR_IMAGE: &str = "docker.io/library/cleave-test:1";

struct Ctr {
    s: Scratch,
    wrapper: PathBuf,
}

impl Ctr {
    /// Starts containerd with its own root, state and sockets (the CRI plugin off), and
    /// imports the OCI archive of the rootfs as CTR_IMAGE.
    fn new(tag: &str) -> (Ctr, Daemon) {
        require_root();
        tool("containerd-shim-runc-v2");
        let s = Scratch::new(tag);
        let wrapper = s.wrapper(NAME);
        let conf = format!(
            "version = 2\n\
             root = \"{root}\"\n\
             state = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n\
             [ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"\"\n\
             [metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
            root = s.path("root").display(),
            state = s.path("state").display(),
            sock = s.path("c.sock").display(),
            opt = s.path("opt").display(),
        );
        std::fs::write(s.path("config.toml"), conf).unwrap();
        let mut c = Command::new(tool("containerd"));
        c.arg("--config").arg(s.path("config.toml"));
        let mut daemon = Daemon::spawn("containerd", &s, &mut c);
        let ctr = Ctr { s, wrapper };
        daemon.wait_ready(|| run(&ctr.s, ctr.cmd().arg("version")).code == Some(0));
        let dir = ctr.s.dir.clone();
        daemon.before_stop = Some(Box::new(move || {
            let c = Ctr {
                s: Scratch { dir: dir.clone() },
                wrapper: PathBuf::new(),
            };
            let tasks = run(&c.s, c.cmd().args(["tasks", "list", "--quiet"])).stdout;
            for t in tasks.split_whitespace() {
                run(&c.s, c.cmd().args(["tasks", "delete", "--force", t]));
            }
            let ids = run(&c.s, c.cmd().args(["containers", "list", "--quiet"])).stdout;
            for id in ids.split_whitespace() {
                run(&c.s, c.cmd().args(["containers", "delete", id]));
            }
        }));
        let archive = oci_archive(&ctr.s, CTR_IMAGE);
        ctr.run(&["images", "import", archive.to_str().unwrap()])
            .ok();
        (ctr, daemon)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(tool("ctr"));
        c.env("CONTAINERD_SNAPSHOTTER", "native")
            .arg("--address")
            .arg(self.s.path("c.sock"))
            .args(["--namespace", "cleave-test"]);
        c
    }

    fn run(&self, args: &[&str]) -> Ran {
        run(&self.s, self.cmd().args(args))
    }

    /// `ctr run OPTS --runc-binary WRAPPER IMAGE ID sh -c SCRIPT`.
    fn run_sh(&self, opts: &[&str], id: &str, script: &str) -> Ran {
        let mut c = self.cmd();
        c.arg("run")
            .args(opts)
            .arg("--runc-binary")
            .arg(&self.wrapper);
        c.arg("--runc-root").arg(self.s.path("runc"));
        c.arg("--cgroup")
            .arg(format!("{}/{id}", self.s.cgroup_parent()));
        c.args([CTR_IMAGE, id, "sh", "-c", script]);
        run(&self.s, &mut c)
    }

    /// The STATUS column of `ctr tasks list` for `id`, or None without such a task.
    fn status(&self, id: &str) -> Option<String> {
        let r = self.run(&["tasks", "list"]).ok();
        r.stdout.lines().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.first() == Some(&id)).then(|| w.get(2).unwrap_or(&"").to_string())
        })
    }

    fn pid(&self, id: &str) -> String {
        let r = self.run(&["tasks", "list"]).ok();
        r.stdout
            .lines()
            .find_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.first() == Some(&id)).then(|| w[1].to_owned())
            })
            .unwrap_or_else(|| panic!("no task {id}: {}", r.show()))
    }
}

#[test]
fn containerd_ctr_run_prints_and_passes_exit_codes() {
    let _one = serial();
    let start = Instant::now();
    let (c, daemon) = Ctr::new("c-run");
    assert_prints(&c.run_sh(&["--rm"], "r1", PRINTS));
    let r = c.run_sh(&["--rm"], "r2", "exit 0");
    assert_eq!(r.code, Some(0), "{}", r.show());
    let r = c.run(&["containers", "list", "--quiet"]).ok();
    assert_eq!(r.stdout.trim(), "", "containers left: {}", r.show());
    assert_verbs(&c.s, &["create", "start", "delete"]);
    daemon.stop();
    done("ctr run --rm", start);
}

#[test]
fn containerd_detached_exec_ps_pause_resume_kill_delete() {
    let _one = serial();
    let start = Instant::now();
    let (c, daemon) = Ctr::new("c-exec");
    let out = c.s.mkdir("out");
    let mount = format!("type=bind,src={},dst=/out,options=rbind:rw", out.display());
    c.run_sh(&["--detach", "--mount", &mount], "t1", COUNTER)
        .ok();
    count_passes(&out, 1);
    let init = c.pid("t1");

    let r = c
        .run(&[
            "tasks",
            "exec",
            "--exec-id",
            "e1",
            "t1",
            "sh",
            "-c",
            "echo exec-pid=$$",
        ])
        .ok();
    assert!(
        r.stdout.starts_with("exec-pid=") && r.stdout.trim() != "exec-pid=1",
        "{}",
        r.show()
    );
    let r = c.run(&[
        "tasks",
        "exec",
        "--exec-id",
        "e2",
        "t1",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(
        r.code,
        Some(7),
        "exec's exit code must pass through: {}",
        r.show()
    );

    // ps lists the container's processes by host pid: the init is among them.
    let r = c.run(&["tasks", "ps", "t1"]).ok();
    assert!(
        r.stdout
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(&init)),
        "ctr tasks ps does not list the init {init}: {}",
        r.show()
    );

    c.run(&["tasks", "pause", "t1"]).ok();
    assert_eq!(c.status("t1").as_deref(), Some("PAUSED"));
    let frozen = count(&out);
    hold_still();
    assert_eq!(count(&out), frozen, "the counter moved while paused");
    c.run(&["tasks", "resume", "t1"]).ok();
    assert_eq!(c.status("t1").as_deref(), Some("RUNNING"));
    count_passes(&out, frozen.unwrap_or(0));

    c.run(&["tasks", "kill", "--signal", "SIGKILL", "t1"]).ok();
    wait_until("task t1 to stop after SIGKILL", || {
        (c.status("t1").as_deref() == Some("STOPPED")).then_some(())
    });
    assert!(!Path::new(&format!("/proc/{init}")).exists() || is_zombie(&init));
    c.run(&["tasks", "delete", "t1"]).ok();
    assert_eq!(c.status("t1"), None);
    c.run(&["containers", "delete", "t1"]).ok();
    let r = c.run(&["containers", "list", "--quiet"]).ok();
    assert_eq!(r.stdout.trim(), "", "containers left: {}", r.show());
    assert_verbs(
        &c.s,
        &[
            "create", "start", "exec", "ps", "pause", "resume", "kill", "delete",
        ],
    );
    daemon.stop();
    done("ctr -d, exec, ps, pause/resume, kill, delete", start);
}

/// containerd 1.6's checkpoint path: `ctr tasks checkpoint --image-path` reaches the runtime's
/// `checkpoint --image-path DIR --work-path DIR --leave-running ID` through the runc v2 shim
/// (mirrors containerd's integration/client/checkpoint_test.go, TestCheckpointLeaveRunning):
/// the task goes on running and the images are written.
#[test]
fn containerd_checkpoint_leaves_the_task_running() {
    let _one = serial();
    let start = Instant::now();
    let (c, daemon) = Ctr::new("c-ckpt");
    let out = c.s.mkdir("out");
    let mount = format!("type=bind,src={},dst=/out,options=rbind:rw", out.display());
    c.run_sh(&["--detach", "--mount", &mount], "k1", COUNTER)
        .ok();
    count_passes(&out, 1);
    let images = c.s.mkdir("images");
    c.run(&[
        "tasks",
        "checkpoint",
        "--image-path",
        images.to_str().unwrap(),
        "k1",
    ])
    .ok();
    assert_eq!(c.status("k1").as_deref(), Some("RUNNING"));
    let seen = count(&out).unwrap_or(0);
    count_passes(&out, seen);
    assert!(
        images.join("cleave-checkpoint.json").exists() && images.join("inventory.img").exists(),
        "no images in {}",
        images.display()
    );
    assert!(
        s_argv_has(&c.s, "--leave-running"),
        "the shim's checkpoint argv: {:?}",
        c.s.argv_log()
    );
    c.run(&["tasks", "kill", "--signal", "SIGKILL", "k1"]).ok();
    wait_until("task k1 to stop after SIGKILL", || {
        (c.status("k1").as_deref() == Some("STOPPED")).then_some(())
    });
    c.run(&["tasks", "delete", "k1"]).ok();
    c.run(&["containers", "delete", "k1"]).ok();
    assert_verbs(&c.s, &["checkpoint"]);
    daemon.stop();
    done("ctr tasks checkpoint", start);
}

fn s_argv_has(s: &Scratch, word: &str) -> bool {
    s.argv_log()
        .iter()
        .any(|l| verb_of(l) == "checkpoint" && l.split_whitespace().any(|w| w == word))
}

fn is_zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}
