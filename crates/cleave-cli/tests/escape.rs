//! The escape suite of issue 8: the program inside a sandbox is the attacker. Each test runs
//! examples/escape_probe (or a shell) inside `cleave spawn --preset sandbox` and
//! `--preset container --rootfs DIR`, as root and as uid 65534, and fails when the door it
//! names is open. The probe prints one line per attack: `closed: <why>` or `OPEN: <what>`.
//! The `review*` tests at the end hold the four doors a later attacker's review found:
//! `cleave enter` and a target's seccomp filter, unmounting /proc's protections without a
//! preset, root-only unix sockets, device nodes outside /dev.
//!
//! These tests need root (the README runs the suite as root); they fail, never skip,
//! without it. `CLEAVE_ESCAPE_RACE_RUNS` sets the raced hostile-rootfs runs (default 200).
#![allow(unsafe_code)]
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

mod support;
use support::{BIN, NOBODY};

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the escape tests need root: run them as root, or through sudo from a normal user (see README)"
    );
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A fresh empty directory DIR (mode 0777: uid 65534 could write there too).
fn fresh_dir(p: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(p);
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    p.to_path_buf()
}

/// The probe on the host: examples/escape_probe.rs, built by `cargo test -p cleave-cli`
/// next to the binary (`cargo test --test escape` alone does not build examples).
fn host_probe() -> PathBuf {
    let p = Path::new(BIN)
        .parent()
        .unwrap()
        .join("examples/escape_probe");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/escape_probe.rs");
    let built = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
    let written = std::fs::metadata(&src).and_then(|m| m.modified()).ok();
    assert!(
        built.is_some() && built >= written,
        "{} is missing or older than its source: run `cargo build -p cleave-cli --examples` \
         (or `cargo test -p cleave-cli`, which builds the examples)",
        p.display()
    );
    p
}

/// The busybox rootfs of scripts/mkrootfs.sh plus the probe and the libraries it loads,
/// at /probe/escape_probe. Built once per test binary.
fn rootfs() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        require_root();
        let dir = tmp("escape-rootfs");
        support::mkrootfs(&dir);
        let probe = host_probe();
        std::fs::create_dir_all(dir.join("probe")).unwrap();
        std::fs::copy(&probe, dir.join("probe/escape_probe")).unwrap();
        let ldd = Command::new("ldd").arg(&probe).output().expect("ldd");
        for lib in String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            let to = dir.join(lib.trim_start_matches('/'));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            // fs::copy follows the symlinks: the file itself lands at the linked name.
            std::fs::copy(lib, &to).unwrap();
        }
        dir
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Preset {
    Sandbox,
    Container,
}

/// Who runs cleave, with which preset: the four cases every attack is tried in.
#[derive(Clone, Copy)]
struct Case {
    preset: Preset,
    nobody: bool,
}

const CASES: [Case; 4] = [
    Case {
        preset: Preset::Sandbox,
        nobody: false,
    },
    Case {
        preset: Preset::Sandbox,
        nobody: true,
    },
    Case {
        preset: Preset::Container,
        nobody: false,
    },
    Case {
        preset: Preset::Container,
        nobody: true,
    },
];

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = match self.preset {
            Preset::Sandbox => "--preset sandbox",
            Preset::Container => "--preset container",
        };
        let who = if self.nobody { "uid 65534" } else { "root" };
        write!(f, "{p} as {who}")
    }
}

impl Case {
    /// `cleave` (or `setpriv ... cleave`) ready for its arguments.
    fn command(&self) -> Command {
        require_root();
        let mut c = if self.nobody {
            let mut c = Command::new("setpriv");
            c.args(NOBODY).arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        c.current_dir("/");
        c
    }

    /// `spawn --preset P [--rootfs R] EXTRA...`.
    fn spawn_args(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec!["spawn".into(), "--preset".into()];
        match self.preset {
            Preset::Sandbox => v.push("sandbox".into()),
            Preset::Container => {
                v.push("container".into());
                v.push("--rootfs".into());
                v.push(rootfs().to_str().unwrap().into());
            }
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    /// The probe's path as the program sees it.
    fn probe(&self) -> String {
        match self.preset {
            Preset::Sandbox => host_probe().to_str().unwrap().into(),
            Preset::Container => "/probe/escape_probe".into(),
        }
    }

    /// Runs `escape_probe ATTACK...` in this case with EXTRA spawn options.
    fn attack(&self, extra: &[&str], attack: &[&str]) -> Output {
        let mut args = self.spawn_args(extra);
        args.push("--".into());
        args.push(self.probe());
        args.extend(attack.iter().map(|s| s.to_string()));
        self.command()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run cleave")
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Collects the open doors of one test, so that one failure lists every case that failed.
#[derive(Default)]
struct Doors(Vec<String>);

impl Doors {
    /// Records `door: what (case): OPEN: ...` unless the probe said `closed:`. A probe that
    /// could not run counts as open too: it proves nothing.
    fn probe(&mut self, door: &str, what: &str, case: &dyn std::fmt::Display, o: &Output) {
        let text = out(o);
        if !text.starts_with("closed:") {
            self.0.push(format!(
                "{door}: {what} from {case}: {} (exit {:?}; stderr: {})",
                text.trim(),
                o.status.code(),
                err(o).trim()
            ));
        }
    }

    fn check(&mut self, ok: bool, msg: impl Into<String>) {
        if !ok {
            self.0.push(msg.into());
        }
    }

    fn assert_closed(self) {
        assert!(
            self.0.is_empty(),
            "{} open:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

fn core_pattern() -> Vec<u8> {
    std::fs::read("/proc/sys/kernel/core_pattern").unwrap()
}

#[test]
fn door1_proc_sys_and_sysrq_not_writable() {
    let before = core_pattern();
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(&[], &["proc-sys-write"]);
        doors.probe(
            "door 1",
            "/proc/sys/kernel/core_pattern or /proc/sysrq-trigger writable",
            &case,
            &o,
        );
    }
    let after = core_pattern();
    if after != before {
        std::fs::write("/proc/sys/kernel/core_pattern", &before).unwrap();
    }
    doors.check(
        after == before,
        format!(
            "door 1: the host's core_pattern changed from {:?} to {:?} (restored)",
            String::from_utf8_lossy(&before),
            String::from_utf8_lossy(&after)
        ),
    );
    doors.assert_closed();
}

#[test]
fn door1_proc_paths_read_only() {
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(&[], &["proc-readonly"]);
        doors.probe(
            "door 1",
            "/proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus or /proc/fs on a writable mount",
            &case,
            &o,
        );
    }
    doors.assert_closed();
}

#[test]
fn door1_proc_paths_masked() {
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(&[], &["proc-masked"]);
        doors.probe(
            "door 1",
            "a masked path (/proc/kcore, /proc/keys, /proc/timer_list, /proc/sched_debug, \
             /proc/latency_stats, /proc/scsi, /proc/acpi, /sys/firmware) reads data",
            &case,
            &o,
        );
    }
    doors.assert_closed();
}

/// A label for a spawn without a preset.
struct Plain(bool);

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = if self.0 { "uid 65534" } else { "root" };
        write!(
            f,
            "`--new user,pid,mount --mount-proc` (no preset) as {who}"
        )
    }
}

fn plain(nobody: bool, program: &[&str]) -> Output {
    require_root();
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(NOBODY).arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    c.current_dir("/")
        .args(["spawn", "--new", "user,pid,mount", "--mount-proc", "--"])
        .args(program)
        .stdin(Stdio::null())
        .output()
        .expect("run cleave")
}

#[test]
fn door2_no_other_process_can_be_written_or_traced() {
    let mut doors = Doors::default();
    for case in CASES {
        for extra in [&[][..], &["--cap-add", "SYS_PTRACE"][..]] {
            let o = case.attack(extra, &["ptrace-others"]);
            let label = format!("{case} {}", extra.join(" "));
            doors.probe(
                "door 2",
                "/proc/PID/mem, process_vm_writev or PTRACE_ATTACH on the init (or another process)",
                &label.trim(),
                &o,
            );
        }
    }
    let probe = host_probe();
    for nobody in [false, true] {
        let o = plain(nobody, &[probe.to_str().unwrap(), "ptrace-others"]);
        doors.probe(
            "door 2",
            "/proc/PID/mem, process_vm_writev or PTRACE_ATTACH on the init",
            &Plain(nobody),
            &o,
        );
    }
    doors.assert_closed();
}

#[test]
fn door2_init_holds_no_way_out() {
    // Even with CAP_SYS_PTRACE inside, the init's descriptors, root and cwd lead nowhere.
    let mut doors = Doors::default();
    for case in CASES {
        for attack in ["others-fds", "others-root"] {
            let o = case.attack(&["--cap-add", "SYS_PTRACE"], &[attack]);
            doors.probe(
                "door 2",
                &format!("{attack}: the init's descriptors, root or cwd reach outside"),
                &format!("{case} --cap-add SYS_PTRACE"),
                &o,
            );
        }
    }
    doors.assert_closed();
}

/// A cleave holding a sleeping program; `init` is the PID cleave reports with -v.
struct Running {
    cleave: Child,
    supervisor: i32,
    init: i32,
}

impl Running {
    fn start(mut cmd: Command, args: &[String]) -> Running {
        let mut cleave = cmd
            .arg("spawn")
            .arg("-v")
            .args(&args[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cleave");
        let init = support::started_pid(&mut cleave);
        let supervisor = cleave.id() as i32;
        Running {
            cleave,
            supervisor,
            init,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.cleave.kill();
        let _ = self.cleave.wait();
    }
}

fn status_field(pid: i32, field: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn kcmp(a: i32, b: i32, kind: i32) -> i64 {
    // SAFETY: kcmp(2) compares kernel objects of two pids; integers only.
    unsafe { libc::syscall(libc::SYS_kcmp, a, b, kind, 0, 0) }
}

#[test]
fn door2_init_shares_nothing_with_cleave_outside() {
    const KCMP: [(i32, &str); 4] = [
        (1, "address space (KCMP_VM)"),
        (2, "fd table (KCMP_FILES)"),
        (3, "fs info (KCMP_FS)"),
        (4, "signal handlers (KCMP_SIGHAND)"),
    ];
    let mut doors = Doors::default();
    let mut runs: Vec<(String, Command, Vec<String>, bool)> = Vec::new();
    for case in CASES {
        let mut args = case.spawn_args(&[]);
        args.extend(["--".into(), "sleep".into(), "30".into()]);
        runs.push((case.to_string(), case.command(), args, true));
    }
    for nobody in [false, true] {
        let mut c = if nobody {
            let mut c = Command::new("setpriv");
            c.args(NOBODY).arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        c.current_dir("/");
        let args = [
            "spawn",
            "--new",
            "user,pid,mount",
            "--mount-proc",
            "--",
            "sleep",
            "30",
        ];
        runs.push((
            Plain(nobody).to_string(),
            c,
            args.iter().map(|s| s.to_string()).collect(),
            false,
        ));
    }
    for (label, cmd, args, preset) in runs {
        let r = Running::start(cmd, &args);
        let ppid = std::fs::read_to_string(format!("/proc/{}/stat", r.init))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()?
                    .split_whitespace()
                    .nth(1)?
                    .parse::<i32>()
                    .ok()
            });
        doors.check(
            ppid == Some(r.supervisor),
            format!(
                "{label}: the init {} is not the child of cleave {} (ppid {ppid:?})",
                r.init, r.supervisor
            ),
        );
        for (kind, what) in KCMP {
            let same = kcmp(r.supervisor, r.init, kind);
            doors.check(
                same != 0,
                format!(
                    "door 2: the sandbox's init (pid {}) shares its {what} with cleave outside \
                     (pid {}) under {label}",
                    r.init, r.supervisor
                ),
            );
        }
        if preset {
            let nnp = status_field(r.init, "NoNewPrivs:");
            doors.check(
                nnp == "1",
                format!("door 2: the init has NoNewPrivs {nnp} under {label}"),
            );
            // The init may keep CAP_KILL (bit 5: to forward signals to a program of another uid).
            for field in ["CapEff:", "CapPrm:"] {
                let caps = u64::from_str_radix(&status_field(r.init, field), 16).unwrap_or(!0);
                doors.check(
                    caps & !(1 << 5) == 0,
                    format!("door 2: the init keeps {field} {caps:#x} under {label}"),
                );
            }
        }
    }
    doors.assert_closed();
}

#[test]
fn only_stdio_and_preserved_fds_arrive() {
    let mut doors = Doors::default();
    let file = std::fs::File::open("/etc/hostname").unwrap();
    let src = file.as_raw_fd();
    for case in CASES {
        let mut args = case.spawn_args(&["--preserve-fd", "9", "--"]);
        args.push(case.probe());
        args.extend(["fds".into(), "9".into()]);
        let mut cmd = case.command();
        cmd.args(&args).stdin(Stdio::null());
        // SAFETY: dup2 is async-signal-safe; fds 5, 7 and 9 are left open (no CLOEXEC).
        unsafe {
            cmd.pre_exec(move || {
                for to in [5, 7, 9] {
                    if libc::dup2(src, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let o = cmd.output().unwrap();
        doors.probe(
            "fd leak",
            "a descriptor other than 0-2 and --preserve-fd 9 (the caller had 5 and 7 open)",
            &case,
            &o,
        );
        doors.check(
            out(&o).contains(", 9]"),
            format!(
                "fd leak test: --preserve-fd 9 did not arrive under {case}: {}",
                out(&o)
            ),
        );
    }
    doors.assert_closed();
}

/// A cheap fingerprint of a file's bytes.
fn digest(p: &Path) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let bytes = std::fs::read(p).unwrap();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    (bytes.len() as u64, h.finish())
}

#[test]
fn exe_cannot_be_overwritten() {
    let cleave = digest(Path::new(BIN));
    let probe = digest(&host_probe());
    let mut doors = Doors::default();
    for case in CASES {
        for extra in [&[][..], &["--cap-add", "SYS_PTRACE"][..]] {
            let o = case.attack(extra, &["exe-write"]);
            doors.probe(
                "exe overwrite",
                "/proc/self/exe or /proc/PID/exe (cleave's binary) opened for writing",
                &format!("{case} {}", extra.join(" ")).trim(),
                &o,
            );
        }
    }
    doors.check(
        digest(Path::new(BIN)) == cleave,
        "exe overwrite: cleave's binary on the host changed",
    );
    doors.check(
        digest(&host_probe()) == probe,
        "exe overwrite: the probe's binary on the host changed",
    );
    doors.assert_closed();
}

#[test]
fn sysfs_and_cgroupfs_not_writable() {
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(&[], &["sys-write"]);
        doors.probe("/sys", "a sysfs file opened for writing", &case, &o);
        let o = case.attack(&[], &["cgroup-write"]);
        doors.probe(
            "cgroupfs",
            "a cgroup file (release_agent, cgroup.procs, limits) written or a cgroup made",
            &case,
            &o,
        );
    }
    doors.assert_closed();
}

/// The directory bound read-only at /mnt in the remount tests; nothing may appear in it.
fn ro_source(name: &str) -> PathBuf {
    fresh_dir(&tmp(name))
}

fn remount_attack(doors: &mut Doors, extra_caps: &[&str], door: &str, src: &Path) {
    let s = src.to_str().unwrap();
    for case in CASES {
        let mut extra = vec!["--ro-bind", s, "/mnt"];
        extra.extend_from_slice(extra_caps);
        // The container's own root is the caller's rootfs and writable by design; the
        // sandbox's root is the host's, read-only.
        let targets: &[&str] = match case.preset {
            Preset::Sandbox => &["remount-rw", "/", "/mnt"],
            Preset::Container => &["remount-rw", "/mnt"],
        };
        let o = case.attack(&extra, targets);
        doors.probe(
            door,
            &format!(
                "a read-only mount made writable ({})",
                targets[1..].join(" ")
            ),
            &format!("{case} {}", extra_caps.join(" ")).trim(),
            &o,
        );
    }
    let marker = src.join("cleave-escape-probe");
    doors.check(
        !marker.exists(),
        format!(
            "{door}: {} written through a remounted --ro-bind",
            marker.display()
        ),
    );
    let host = Path::new("/cleave-escape-probe");
    doors.check(
        !host.exists(),
        format!("{door}: the host's /cleave-escape-probe written through a remounted /"),
    );
    let _ = std::fs::remove_file(marker);
    let _ = std::fs::remove_file(host);
}

#[test]
fn read_only_binds_stay_read_only() {
    let src = ro_source("ro-bind-remount");
    let mut doors = Doors::default();
    remount_attack(&mut doors, &[], "remount", &src);
    doors.assert_closed();
}

#[test]
fn locked_mounts_cannot_be_unmounted() {
    let src = ro_source("ro-bind-umount");
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(
            &["--ro-bind", src.to_str().unwrap(), "/mnt"],
            &[
                "umount",
                "/mnt",
                "/proc/sys",
                "/proc/kcore",
                "/proc",
                "/dev/pts",
                "/dev",
                "/tmp",
                "/sys",
                "/",
            ],
        );
        doors.probe("umount", "a mount unmounted", &case, &o);
    }
    doors.assert_closed();
}

/// Found beside issue 8's list: with `--cap-add SYS_ADMIN` the program would own the mount
/// namespace cleave mounted in, so it could make the host's / writable (as host root for a
/// root caller) and uncover the host's /proc and /dev. cleave gives such a program a nested
/// user and mount namespace in which those mounts are locked.
#[test]
fn cap_sys_admin_cannot_undo_the_sandbox() {
    let src = ro_source("ro-bind-sysadmin");
    let mut doors = Doors::default();
    remount_attack(
        &mut doors,
        &["--cap-add", "SYS_ADMIN"],
        "new door (cap-add SYS_ADMIN)",
        &src,
    );
    for case in CASES {
        let o = case.attack(
            &["--cap-add", "SYS_ADMIN"],
            &["umount", "/proc", "/dev", "/tmp"],
        );
        doors.probe(
            "new door (cap-add SYS_ADMIN)",
            "cleave's /proc, /dev or /tmp unmounted, uncovering what lies below",
            &format!("{case} --cap-add SYS_ADMIN"),
            &o,
        );
    }
    doors.assert_closed();
}

#[test]
fn mknod_gives_no_device() {
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(&[], &["mknod"]);
        doors.probe("mknod", "a device node made and written", &case, &o);
    }
    doors.assert_closed();
}

#[test]
fn setuid_binaries_gain_nothing() {
    require_root();
    // A setuid-root copy of the probe, bound read-only into the sandbox at /mnt.
    let dir = tmp("setuid");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let suid = dir.join("escape_probe");
    std::fs::copy(host_probe(), &suid).unwrap();
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // The control: on the host, uid 65534 does become euid 0 through it. Exec of a file
    // just written can fail with ETXTBSY while another test thread's fork still holds the
    // copy's write fd (until that child execs): try again a few times.
    let mut o = Command::new("true").output().unwrap();
    for _ in 0..20 {
        o = Command::new("setpriv")
            .args(NOBODY)
            .arg(&suid)
            .arg("setuid")
            .output()
            .unwrap();
        if !err(&o).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        out(&o).starts_with("OPEN"),
        "the setuid copy does not work on the host, so the test proves nothing: {}",
        out(&o)
    );
    let d = dir.to_str().unwrap();
    let mut doors = Doors::default();
    for case in CASES {
        // Root maps a range and runs the program as uid 1000; uid 65534 keeps its own uid.
        let ids: &[&str] = if case.nobody {
            &["--map-current"]
        } else {
            &[
                "--map-user",
                "0:0:65536",
                "--map-group",
                "0:0:65536",
                "--uid",
                "1000",
                "--gid",
                "1000",
            ]
        };
        let mut args = case.spawn_args(ids);
        args.extend(
            ["--ro-bind", d, "/mnt", "--", "/mnt/escape_probe", "setuid"].map(String::from),
        );
        let o = case.command().args(&args).output().unwrap();
        doors.probe("setuid", "a setuid-root binary raised the euid", &case, &o);
    }
    doors.assert_closed();
}

#[test]
fn host_abstract_sockets_unreachable() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("cleave-escape-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    // The control: with the host's network namespace shared, the socket is reachable.
    let probe = host_probe();
    let o = plain(false, &[probe.to_str().unwrap(), "abstract", &name]);
    assert!(
        out(&o).starts_with("OPEN"),
        "the control (no new net namespace) did not reach @{name}: {}{}",
        out(&o),
        err(&o)
    );
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(&[], &["abstract", &name]);
        doors.probe(
            "abstract socket",
            "the host's abstract unix socket reached (presets make a new network namespace)",
            &case,
            &o,
        );
    }
    doors.assert_closed();
}

/// A pseudo-terminal pair in raw mode: (master, slave).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty writes two fds; the name, termios and winsize pointers may be null.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened and are owned here.
    let (m, s) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    // SAFETY: a zeroed termios filled by tcgetattr, made raw, written back.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(s.as_raw_fd(), &mut t);
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(s.as_raw_fd(), libc::TCSANOW, &t);
    }
    (m, s)
}

/// Whatever is waiting to be read on FD (non-blocking).
fn drain(fd: &OwnedFd) -> Vec<u8> {
    // SAFETY: fcntl on an owned fd.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let mut all = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: reading into a local buffer of its own length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        all.extend_from_slice(&buf[..n as usize]);
    }
    all
}

#[test]
fn door6_no_tiocsti_into_the_callers_terminal() {
    let mut doors = Doors::default();
    for case in CASES {
        let (master, slave) = pty();
        if case.nobody {
            // The terminal is the caller's own, as a user's is: the program can open the
            // /dev/console a preset binds it on, and tries TIOCSTI through that too.
            // SAFETY: fchown of the pty's slave, owned here.
            assert_eq!(unsafe { libc::fchown(slave.as_raw_fd(), 65534, 65534) }, 0);
        }
        let mut args = case.spawn_args(&["--"]);
        args.push(case.probe());
        args.push("tiocsti".into());
        let mut cmd = case.command();
        cmd.args(&args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: setsid and ioctl are async-signal-safe: cleave starts as the leader of a
        // session whose controlling terminal is the pty, like a login shell's child.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let o = cmd.output().unwrap();
        doors.probe(
            "door 6",
            "TIOCSTI pushed input into the caller's terminal",
            &case,
            &o,
        );
        let typed = drain(&slave);
        let _ = drain(&master);
        doors.check(
            !typed.contains(&b'#'),
            format!(
                "door 6: the caller's terminal received {:?} from {case}",
                String::from_utf8_lossy(&typed)
            ),
        );
    }
    doors.assert_closed();
}

const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_INVALIDATE: libc::c_long = 21;
const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;

#[test]
fn door7_callers_session_keyring_not_readable() {
    require_root();
    // This thread joins a session keyring of its own (credentials are per thread, and the
    // children spawned from it inherit them) and puts a key there.
    let ring = std::ffi::CString::new(format!("cleave-escape-{}", std::process::id())).unwrap();
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) with a C string.
    let sid =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, ring.as_ptr()) };
    assert!(
        sid > 0,
        "join a session keyring: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: keyctl(GET_KEYRING_ID, session, 0): integers only.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        )
    };
    let desc = format!("cleave-escape-secret-{}", std::process::id());
    let (ty, d) = (
        std::ffi::CString::new("user").unwrap(),
        std::ffi::CString::new(desc.clone()).unwrap(),
    );
    // SAFETY: add_key(type, description, payload, length, keyring) with C strings.
    let key = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            d.as_ptr(),
            b"secret".as_ptr(),
            6usize,
            KEY_SPEC_SESSION_KEYRING,
        )
    };
    assert!(key > 0, "add_key: {}", std::io::Error::last_os_error());
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(&[], &["keyring", &id.to_string(), &desc]);
        doors.probe(
            "door 7",
            "the caller's session keyring (or its key) reachable",
            &case,
            &o,
        );
    }
    // SAFETY: keyctl(INVALIDATE, key): integers only.
    unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_INVALIDATE, key) };
    doors.assert_closed();
}

#[test]
fn door5_working_directory_is_resolved_inside() {
    let dir = fresh_dir(&tmp("cwd-hidden"));
    std::fs::write(dir.join("secret"), "hidden-secret\n").unwrap();
    let d = dir.to_str().unwrap();
    let mut doors = Doors::default();
    for nobody in [false, true] {
        for opts in [&["--new", "mount"][..], &["--preset", "sandbox"][..]] {
            let mut c = if nobody {
                let mut c = Command::new("setpriv");
                c.args(NOBODY).arg(BIN);
                c
            } else {
                Command::new(BIN)
            };
            let o = c
                .current_dir(&dir)
                .arg("spawn")
                .args(opts)
                .args([
                    "--tmpfs",
                    d,
                    "--",
                    "sh",
                    "-c",
                    "echo x > t; cat secret; true",
                ])
                .output()
                .unwrap();
            let who = if nobody { "uid 65534" } else { "root" };
            let label = format!("`cd D; cleave spawn {} --tmpfs D` as {who}", opts.join(" "));
            let t = dir.join("t");
            doors.check(
                !t.exists(),
                format!("door 5: {label} wrote t into the host's D"),
            );
            doors.check(
                !out(&o).contains("hidden-secret"),
                format!("door 5: {label} read the host's D/secret hidden by the tmpfs"),
            );
            let _ = std::fs::remove_file(t);
        }
    }
    doors.assert_closed();
}

#[test]
fn door4_sources_are_the_hosts() {
    let mut doors = Doors::default();
    for case in CASES {
        let o = case.attack(&[], &["devices"]);
        doors.probe(
            "door 4",
            "/dev/null, /dev/zero, /dev/urandom or /dev/tty not the host's devices",
            &case,
            &o,
        );
    }
    // Sources under /tmp, which the preset covers with its own tmpfs before the binds.
    let w = fresh_dir(Path::new(&format!(
        "/tmp/cleave-escape-w-{}",
        std::process::id()
    )));
    let data = fresh_dir(Path::new(&format!(
        "/tmp/cleave-escape-data-{}",
        std::process::id()
    )));
    std::fs::write(data.join("file"), "host data\n").unwrap();
    let (ws, ds) = (w.to_str().unwrap(), data.to_str().unwrap());
    for nobody in [false, true] {
        let case = Case {
            preset: Preset::Sandbox,
            nobody,
        };
        let mut args = case.spawn_args(&["--bind", ws, ws, "--"]);
        args.extend(["sh", "-c", &format!("echo x > {ws}/f")].map(String::from));
        let o = case.command().args(&args).output().unwrap();
        doors.check(
            std::fs::read_to_string(w.join("f")).is_ok_and(|s| s == "x\n"),
            format!(
                "door 4: `--bind {ws} {ws}` under {case}: the write did not reach the host \
                 (exit {:?}: {})",
                o.status.code(),
                err(&o).trim()
            ),
        );
        let args = case.spawn_args(&["--ro-bind", ds, "/mnt", "--", "cat", "/mnt/file"]);
        let o = case.command().args(&args).output().unwrap();
        doors.check(
            out(&o) == "host data\n",
            format!(
                "door 4: `--ro-bind {ds} /mnt` under {case}: read {:?} (exit {:?}: {})",
                out(&o),
                o.status.code(),
                err(&o).trim()
            ),
        );
        let _ = std::fs::remove_file(w.join("f"));
    }
    let _ = std::fs::remove_dir_all(&w);
    let _ = std::fs::remove_dir_all(&data);
    doors.assert_closed();
}

/// A copy of the probe rootfs owned by uid 65534, the attacker.
fn hostile_rootfs(name: &str) -> PathBuf {
    let dir = tmp(name);
    let _ = std::fs::remove_dir_all(&dir);
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a rootfs");
    let st = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success(), "chown -R 65534 rootfs");
    dir
}

fn lchown_nobody(p: &Path) {
    std::os::unix::fs::lchown(p, Some(65534), Some(65534)).unwrap();
}

/// Everything under DIR, as relative paths.
fn listing(dir: &Path) -> Vec<String> {
    let o = Command::new("find")
        .arg(dir)
        .arg("-mindepth")
        .arg("1")
        .output()
        .unwrap();
    let prefix = format!("{}/", dir.display());
    let mut v: Vec<String> = out(&o)
        .lines()
        .map(|l| l.trim_start_matches(&prefix).to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn door3_hostile_rootfs_static_symlinks() {
    let root = hostile_rootfs("hostile-static");
    let target = fresh_dir(&tmp("hostile-static-target"));
    let t = target.to_str().unwrap();
    let r = root.to_str().unwrap();
    // From a link at depth 1 or 2, enough ".." to reach / on the host, then the target.
    let rel = |depth: usize| format!("{}{}", "../".repeat(depth + 20), t.trim_start_matches('/'));
    let src = fresh_dir(&tmp("hostile-static-src"));
    std::fs::write(src.join("file"), "src\n").unwrap();
    let s = src.to_str().unwrap();
    let file = src.join("file");
    let f = file.to_str().unwrap();
    // (link in the rootfs, where it points, extra spawn options, program)
    type HostileCase<'a> = (&'a str, String, Vec<&'a str>, Vec<&'a str>);
    let cases: Vec<HostileCase> = vec![
        ("proc", t.to_string(), vec![], vec!["/bin/true"]),
        ("proc", rel(1), vec![], vec!["/bin/true"]),
        ("dev", t.to_string(), vec![], vec!["/bin/true"]),
        ("dev", rel(1), vec![], vec!["/bin/true"]),
        ("tmp", t.to_string(), vec![], vec!["/bin/true"]),
        ("tmp", rel(1), vec![], vec!["/bin/true"]),
        ("dev/pts", t.to_string(), vec![], vec!["/bin/true"]),
        ("dev/shm", rel(2), vec![], vec!["/bin/true"]),
        (
            "mnt",
            t.to_string(),
            vec!["--bind", s, "/mnt/x"],
            vec!["/bin/true"],
        ),
        (
            "mnt",
            rel(1),
            vec!["--ro-bind", s, "/mnt/x"],
            vec!["/bin/true"],
        ),
        (
            "f",
            rel(1),
            vec!["--ro-bind", f, "/f/file"],
            vec!["/bin/true"],
        ),
        (
            "d",
            t.to_string(),
            vec!["--dir", "/d/new"],
            vec!["/bin/true"],
        ),
        (
            "d",
            rel(1),
            vec!["--dir", "/d/new/deeper"],
            vec!["/bin/true"],
        ),
        (
            "s",
            rel(1),
            vec!["--symlink", "/x", "/s/l"],
            vec!["/bin/true"],
        ),
        (
            "k",
            t.to_string(),
            vec!["--tmpfs", "/k/x"],
            vec!["/bin/true"],
        ),
        // Issue 12's operations that write (stdin is /dev/null: an empty file).
        (
            "w",
            t.to_string(),
            vec!["--file", "0", "/w/file"],
            vec!["/bin/true"],
        ),
        (
            "w",
            rel(1),
            vec!["--file", "0", "/w/file"],
            vec!["/bin/true"],
        ),
        (
            "v",
            t.to_string(),
            vec!["--bind-data", "0", "/v/data"],
            vec!["/bin/true"],
        ),
        (
            "v",
            rel(1),
            vec!["--ro-bind-data", "0", "/v/data"],
            vec!["/bin/true"],
        ),
        (
            "o",
            t.to_string(),
            vec!["--overlay-src", s, "--tmp-overlay", "/o/x"],
            vec!["/bin/true"],
        ),
        (
            "u",
            t.to_string(),
            vec!["--chmod", "0777", "/u"],
            vec!["/bin/true"],
        ),
        (
            "c",
            t.to_string(),
            vec!["--chdir", "/c"],
            vec!["/bin/sh", "-c", "touch cwd-marker"],
        ),
        (
            "c",
            rel(1),
            vec!["--chdir", "/c"],
            vec!["/bin/sh", "-c", "touch cwd-marker"],
        ),
    ];
    let mut doors = Doors::default();
    for (link, to, extra, program) in &cases {
        for nobody in [false, true] {
            let case = Case {
                preset: Preset::Container,
                nobody,
            };
            let at = root.join(link);
            let saved = root.join(format!("{link}.saved"));
            let had = at.symlink_metadata().is_ok();
            if had {
                std::fs::rename(&at, &saved).unwrap();
            }
            std::os::unix::fs::symlink(to, &at).unwrap();
            lchown_nobody(&at);
            let mut args = vec!["spawn".to_string(), "--preset".into(), "container".into()];
            args.extend(["--rootfs", r].map(String::from));
            args.extend(extra.iter().map(|s| s.to_string()));
            args.push("--".into());
            args.extend(program.iter().map(|s| s.to_string()));
            let o = case.command().args(&args).output().unwrap();
            std::fs::remove_file(&at).unwrap();
            if had {
                std::fs::rename(&saved, &at).unwrap();
            }
            let found = listing(&target);
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            let label = format!(
                "/{link} -> {to} with `{}` under {case} (exit {:?}: {})",
                extra.join(" "),
                o.status.code(),
                err(&o).trim()
            );
            eprintln!("door 3 static: {label}");
            doors.check(
                found.is_empty(),
                format!("door 3: {label} made {found:?} in the host directory"),
            );
            doors.check(
                !mounts.contains(t) && !mounts.contains(r),
                format!("door 3: {label} left a mount on the host"),
            );
            if !found.is_empty() {
                fresh_dir(&target);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    doors.assert_closed();
}

#[test]
fn door3_symlinked_proc_keeps_its_protections() {
    // A /proc that is a symlink to a directory inside the root: cleave may refuse it (125)
    // or mount there, but then the protections of door 1 must follow the same mount.
    let root = hostile_rootfs("hostile-procfake");
    let r = root.to_str().unwrap();
    let fake = root.join("procfake");
    std::fs::create_dir_all(&fake).unwrap();
    lchown_nobody(&fake);
    std::fs::rename(root.join("proc"), root.join("proc.saved")).unwrap();
    std::os::unix::fs::symlink("procfake", root.join("proc")).unwrap();
    lchown_nobody(&root.join("proc"));
    let o = Command::new(BIN)
        .current_dir("/")
        .args(["spawn", "--preset", "container", "--rootfs", r])
        .args(["--", "/probe/escape_probe", "proc-readonly"])
        .output()
        .unwrap();
    std::fs::remove_file(root.join("proc")).unwrap();
    std::fs::rename(root.join("proc.saved"), root.join("proc")).unwrap();
    let mut doors = Doors::default();
    if o.status.code() != Some(125) {
        doors.probe(
            "door 3",
            "/proc -> procfake inside the rootfs: /proc/sys and the others not read-only",
            &"--preset container as root",
            &o,
        );
    }
    let _ = std::fs::remove_dir_all(&root);
    doors.assert_closed();
}

/// Kills and reaps the child when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn door3_hostile_rootfs_raced_symlink_exchange() {
    let runs: usize = std::env::var("CLEAVE_ESCAPE_RACE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let root = hostile_rootfs("hostile-raced");
    let target = fresh_dir(&tmp("hostile-raced-target"));
    fresh_dir(&target.join("b"));
    let src = fresh_dir(&tmp("hostile-raced-src"));
    // /a/b is a directory of the attacker's; /swap a link to the host's target, which also
    // has a b/. The attacker swaps the two names as fast as it can.
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    lchown_nobody(&root.join("a"));
    lchown_nobody(&root.join("a/b"));
    std::os::unix::fs::symlink(&target, root.join("swap")).unwrap();
    lchown_nobody(&root.join("swap"));
    let racer = Command::new("setpriv")
        .args(NOBODY)
        .arg(host_probe())
        .arg("race-exchange")
        .arg(root.join("a"))
        .arg(root.join("swap"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let racer = Reaped(racer);
    let (r, s) = (root.to_str().unwrap(), src.to_str().unwrap());
    let mut escapes = Vec::new();
    let mut started = 0;
    for run in 0..runs {
        let o = Command::new(BIN)
            .current_dir("/")
            .args(["spawn", "--preset", "container", "--rootfs", r])
            .args(["--dir", "/a/b/c", "--bind", s, "/a/b/d", "--", "/bin/true"])
            .output()
            .unwrap();
        if o.status.success() {
            started += 1;
        }
        let found = listing(&target);
        if found != ["b"] {
            escapes.push(format!("run {run}: {found:?}"));
            let _ = std::fs::remove_dir_all(target.join("b"));
            fresh_dir(&target.join("b"));
            for e in found.iter().filter(|e| !e.starts_with('b')) {
                let _ = std::fs::remove_file(target.join(e));
                let _ = std::fs::remove_dir_all(target.join(e));
            }
        }
    }
    drop(racer);
    eprintln!(
        "door 3 raced: {} escapes in {runs} runs ({started} started the program)",
        escapes.len()
    );
    let src_after = listing(&src);
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        escapes.is_empty(),
        "door 3: a racing rootfs owner made cleave create in the host's {} in {} of {runs} \
         runs: {}",
        target.display(),
        escapes.len(),
        escapes
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert!(
        src_after.is_empty(),
        "door 3: the bind source changed: {src_after:?}"
    );
}

#[test]
fn probe_reports_a_known_open_door() {
    // The probe itself is checked: outside any sandbox, as root, the host's /proc/sys is
    // writable, so `proc-readonly` must say OPEN (or every `closed:` above is worthless).
    require_root();
    let mut buf = String::new();
    let mut child = Command::new(host_probe())
        .arg("proc-readonly")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut buf)
        .unwrap();
    child.wait().unwrap();
    assert!(buf.starts_with("OPEN"), "{buf}");
}

// The four doors an attacker's review of the fixes above found (closed in 6ec325e): each
// test below fails on the code before it (486bafa).

/// The Uid:, CapEff: and CapBnd: of PID's status, as the host sees them.
fn ids_and_caps(pid: i32) -> (String, u64, u64) {
    let caps = |f: &str| u64::from_str_radix(&status_field(pid, f), 16).unwrap_or(!0);
    (status_field(pid, "Uid:"), caps("CapEff:"), caps("CapBnd:"))
}

/// Reads lines from R until one starts with PREFIX; the rest of that line, or every line
/// read when none did.
fn line_after(r: &mut impl BufRead, prefix: &str) -> Result<String, String> {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return Err(seen);
        }
        if let Some(rest) = line.strip_prefix(prefix) {
            return Ok(rest.trim().to_string());
        }
        seen.push_str(&line);
    }
}

/// Kills the process PID when dropped.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a PID and a signal number.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

/// Review door 1: `cleave enter` installed the seccomp filters of a target without
/// no_new_privs before giving up its own privileges, and a target's filter can make
/// setresuid, setgroups, capset and prctl "succeed" without doing anything: the entered
/// program kept cleave's credentials (host root). The target here is uid 65534's, root in
/// its own user namespace with only CAP_SYS_ADMIN left; it installs such a filter.
#[test]
fn review1_enter_drops_privileges_before_the_targets_filters() {
    require_root();
    let probe = host_probe();
    let mut target = Command::new("setpriv")
        .args(NOBODY)
        .arg(BIN)
        .current_dir("/")
        .args(["spawn", "-v", "--new", "user,pid,mount", "--"])
        .arg(&probe)
        .arg("fake-drop-filter")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cleave spawn");
    let mut stderr = BufReader::new(target.stderr.take().unwrap());
    let mut stdout = BufReader::new(target.stdout.take().unwrap());
    let init: i32 = match line_after(&mut stderr, "cleave: started pid ") {
        Ok(rest) => rest.split_whitespace().next().unwrap().parse().unwrap(),
        Err(seen) => {
            let _ = target.kill();
            panic!("the target did not start: {seen}")
        }
    };
    let _kill_target = KillOnDrop(init);
    let target = Reaped(target);
    if let Err(seen) = line_after(&mut stdout, "ready:") {
        panic!("the probe did not install its filter: {seen}");
    }
    // The probe is the init's only child.
    let probe_pid: i32 = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children"))
        .unwrap()
        .trim()
        .parse()
        .expect("the probe's pid");
    let (tuid, tcap, tbnd) = ids_and_caps(probe_pid);
    assert_eq!(
        (
            status_field(probe_pid, "Seccomp_filters:").as_str(),
            tcap,
            tbnd
        ),
        ("1", 1 << 21, 1 << 21),
        "the target is not what the test needs (one filter, CAP_SYS_ADMIN only; uid {tuid})"
    );
    let (_, host_cap, host_bnd) = ids_and_caps(std::process::id() as i32);
    let mut doors = Doors::default();
    // Only root may enter: reading a target's filters needs CAP_SYS_ADMIN on the host. The
    // program says `entered` once it runs (after exec), and sleeps.
    let mut enter = Command::new(BIN)
        .current_dir("/")
        .args(["enter", "-v", "-t", &probe_pid.to_string(), "--"])
        .args(["sh", "-c", "echo entered; exec sleep 30"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cleave enter");
    let mut estderr = BufReader::new(enter.stderr.take().unwrap());
    let mut estdout = BufReader::new(enter.stdout.take().unwrap());
    let _enter = Reaped(enter);
    let entered = line_after(&mut estderr, "cleave: started pid ")
        .and_then(|pid| line_after(&mut estdout, "entered").map(|_| pid));
    match entered {
        Err(seen) => doors.check(false, format!("review door 1: enter failed: {seen}")),
        Ok(pid) => {
            let pid: i32 = pid.parse().unwrap();
            let _kill = KillOnDrop(pid);
            let (uid, cap, bnd) = ids_and_caps(pid);
            eprintln!(
                "review door 1: entered (target uid {tuid}): uid {uid}, CapEff {cap:#x}, \
                 CapBnd {bnd:#x}"
            );
            doors.check(
                uid.split_whitespace().all(|u| u == "65534"),
                format!(
                    "review door 1: the entered program runs as host uid {uid}, not the \
                     target's 65534 (the target's filter faked setresuid)"
                ),
            );
            doors.check(
                cap == tcap && bnd == tbnd && (cap, bnd) != (host_cap, host_bnd),
                format!(
                    "review door 1: the entered program has CapEff {cap:#x} CapBnd {bnd:#x}, \
                     the target {tcap:#x} {tbnd:#x}, the host's root {host_cap:#x} \
                     {host_bnd:#x} (the filter faked capset and prctl)"
                ),
            );
        }
    }
    drop(target);
    doors.assert_closed();
}

/// The exit statuses a shell script printed as `NAME=STATUS` lines.
fn statuses(o: &Output) -> Vec<(String, i32)> {
    out(o)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Checks that the script of O printed each of NAMES with a non-zero status.
fn all_failed(doors: &mut Doors, door: &str, label: &str, o: &Output, names: &[&str]) {
    let got = statuses(o);
    for name in names {
        let status = got.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        doors.check(
            status.is_some_and(|s| s != 0),
            format!(
                "{door}: `{name}` under {label} {} (stdout: {}; stderr: {})",
                match status {
                    Some(0) => "succeeded".to_string(),
                    Some(s) => format!("exited {s}"),
                    None => "did not run".to_string(),
                },
                out(o).trim().replace('\n', ", "),
                err(o).trim()
            ),
        );
    }
}

/// Review door 2: without a preset, root's program is root in its user namespace with every
/// capability, so it owned the mount namespace cleave mounted /proc in: it could unmount
/// the read-only /proc/sys and cleave's /proc, uncover the host's /proc beneath, and (being
/// host uid 0) write the host's core_pattern.
#[test]
fn review2_no_preset_program_cannot_unmount_proc_protections() {
    let before = core_pattern();
    let value = format!("cleave-escape-{}", std::process::id());
    let script = format!(
        "umount /proc/sys 2>/dev/null; echo umount-proc-sys=$?; \
         umount -l /proc 2>/dev/null; echo umount-l-proc=$?; \
         echo {value} 2>/dev/null > /proc/sys/kernel/core_pattern; echo write-core-pattern=$?"
    );
    let mut doors = Doors::default();
    for nobody in [false, true] {
        let o = plain(nobody, &["sh", "-c", &script]);
        let after = core_pattern();
        if after != before {
            std::fs::write("/proc/sys/kernel/core_pattern", &before).unwrap();
        }
        let label = Plain(nobody).to_string();
        doors.check(
            after == before,
            format!(
                "review door 2: {label} changed the host's core_pattern from {:?} to {:?} \
                 (restored)",
                String::from_utf8_lossy(&before),
                String::from_utf8_lossy(&after)
            ),
        );
        all_failed(
            &mut doors,
            "review door 2",
            &label,
            &o,
            &["umount-proc-sys", "umount-l-proc", "write-core-pattern"],
        );
    }
    doors.assert_closed();
}

/// Review door 3: a root caller's preset ran as host uid 0; the host's root-only unix
/// sockets check only the uid and the socket's write permission, which a read-only mount
/// does not take away, so they answered. A socket of mode 0600 in a 0700 directory, both
/// root's, under the target directory (the preset shows it read-only; /tmp it covers).
#[test]
fn review3_preset_cannot_connect_to_root_only_sockets() {
    require_root();
    let dir = tmp(&format!("root-only-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.join("socket");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let p = path.to_str().unwrap();
    // Whatever connected before the program exited waits in the backlog.
    let accepted = || {
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one pollfd of a listener this test owns.
        unsafe { libc::poll(&mut pfd, 1, 100) };
        let mut n = 0;
        while listener.accept().is_ok() {
            n += 1;
        }
        n
    };
    let mut doors = Doors::default();
    for (nobody, map_root) in [(false, false), (true, false), (false, true)] {
        let case = Case {
            preset: Preset::Sandbox,
            nobody,
        };
        let extra: &[&str] = if map_root { &["--map-root"] } else { &[] };
        let o = case.attack(extra, &["connect", p]);
        let n = accepted();
        let label = format!("{case} {}", extra.join(" "));
        let label = label.trim();
        if map_root {
            // The control: 0->0 is the caller's explicit wish, and then the door is there.
            doors.check(
                out(&o).starts_with("OPEN") && n == 1,
                format!(
                    "review door 3 control: {label} did not connect to {p} ({}; {n} \
                     accepted): the test cannot see the door",
                    out(&o).trim()
                ),
            );
        } else {
            doors.probe(
                "review door 3",
                &format!("the root-only socket {p} reached"),
                &label,
                &o,
            );
            doors.check(
                out(&o).contains("Permission denied"),
                format!(
                    "review door 3: under {label} the connect did not fail with EACCES: {}",
                    out(&o).trim()
                ),
            );
            doors.check(
                n == 0,
                format!("review door 3: the listener accepted {n} connection(s) from {label}"),
            );
        }
    }
    drop(listener);
    let _ = std::fs::remove_dir_all(&dir);
    doors.assert_closed();
}

/// mknod PATH c 1 3 (/dev/null's numbers), mode 0666.
fn mknod_null(path: &Path) {
    let _ = std::fs::remove_file(path);
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mknod with a NUL-terminated path, S_IFCHR and a device number.
    let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(
        r,
        0,
        "mknod {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
}

/// Review door 4: device nodes outside /dev opened: the preset's read-only host and a
/// container's rootfs were mounted without nodev, so a node of any device placed there (by
/// whoever can write in the host's directories or owns the rootfs) worked inside.
#[test]
fn review4_device_nodes_outside_dev_do_not_open() {
    require_root();
    let dir = fresh_dir(&tmp(&format!("devnode-{}", std::process::id())));
    let node = dir.join("null");
    mknod_null(&node);
    // The control: the node is a working device on the host.
    let wrote = std::fs::OpenOptions::new()
        .write(true)
        .open(&node)
        .and_then(|mut f| std::io::Write::write(&mut f, b"x\n"));
    assert!(
        matches!(wrote, Ok(2)),
        "the control: {} does not work on the host: {wrote:?}",
        node.display()
    );
    let root = tmp(&format!("devnode-rootfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a rootfs");
    mknod_null(&root.join("root/node"));
    let n = node.to_str().unwrap();
    let r = root.to_str().unwrap();
    let mut doors = Doors::default();
    for nobody in [false, true] {
        for preset in [Preset::Sandbox, Preset::Container] {
            let case = Case { preset, nobody };
            let (opts, at): (&[&str], &str) = match preset {
                Preset::Sandbox => (&["--preset", "sandbox"], n),
                Preset::Container => (&["--preset", "container", "--rootfs", r], "/root/node"),
            };
            let o = case
                .command()
                .arg("spawn")
                .args(opts)
                .args(["--", "sh", "-c"])
                .arg(format!(
                    "test -c {at}; echo see-node=$?; echo x 2>/dev/null > {at}; echo write-node=$?"
                ))
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let label = format!("{case} ({at})");
            // The node is there to be tried: a write that failed for want of it proves nothing.
            doors.check(
                statuses(&o).contains(&("see-node".into(), 0)),
                format!(
                    "review door 4 setup: no device node at {at} under {label}: {}{}",
                    out(&o).trim(),
                    err(&o).trim()
                ),
            );
            all_failed(&mut doors, "review door 4", &label, &o, &["write-node"]);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&root);
    doors.assert_closed();
}

// Leftovers of the second attacker's review (note of the last stop, "Left, low severity"):
// each test below fails on the code before its fix.

/// Runs `escape_probe ATTACK` in CASE with a fresh pty as stdin, cleave being the leader of
/// a session whose controlling terminal that pty is (a login shell's child); returns the
/// output and the pty (master, slave), as the caller keeps it.
fn probe_on_a_terminal(case: Case, attack: &str) -> (Output, (OwnedFd, OwnedFd)) {
    let (master, slave) = pty();
    if case.nobody {
        // The terminal is the caller's own, as a user's is.
        // SAFETY: fchown of the pty's slave, owned here.
        assert_eq!(unsafe { libc::fchown(slave.as_raw_fd(), 65534, 65534) }, 0);
    }
    let mut args = case.spawn_args(&["--"]);
    args.push(case.probe());
    args.push(attack.into());
    let mut cmd = case.command();
    cmd.args(&args)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    (cmd.output().unwrap(), (master, slave))
}

/// Review leftover: TIOCSETD. A preset's new session keeps TIOCSTI away from the caller's
/// terminal, but the program still holds that terminal (its stdin, and the /dev/console a
/// preset binds it on), and changing its line discipline needs no privilege: N_NULL would
/// leave the caller's shell deaf once the sandbox ends, and with dev.tty.ldisc_autoload any
/// discipline's module is loaded on request (n_hdlc's CVE-2017-2636 was exploited that
/// way). The attack is LTP's testcases/kernel/pty/pty03.c (a pty switched through the
/// SLIP, HDLC, GSM... disciplines with TIOCSETD), made on the caller's terminal from inside.
#[test]
fn review_leftover_no_tiocsetd_on_the_callers_terminal() {
    let mut doors = Doors::default();
    for case in CASES {
        let (o, (_master, slave)) = probe_on_a_terminal(case, "tiocsetd");
        doors.probe(
            "TIOCSETD",
            "the caller's terminal took a new line discipline",
            &case,
            &o,
        );
        let mut disc: libc::c_int = -1;
        // SAFETY: TIOCGETD writes one int.
        let r = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCGETD, &mut disc) };
        doors.check(
            r == 0 && disc == 0,
            format!("TIOCSETD: the caller's terminal has line discipline {disc} after {case}"),
        );
    }
    doors.assert_closed();
}

/// Review leftover: the throw-away layer listed a rootfs directory by its host path, in the
/// parent, after the checks. The rootfs owner swaps its directory /d with a link to a host
/// directory (here one of links only, as /etc/alternatives or /dev/disk/by-id are, so that
/// the layer puts every entry back without opening it): the listing then followed the link
/// out of the root and the layer over /d showed the host directory's names and link
/// targets to the program. Now the directory is opened through the rootfs's fd, inside it
/// and following no symlink: a swapped one refuses the sandbox. Raced as door 3 is
/// (CLEAVE_ESCAPE_RACE_RUNS); bubblewrap's tests/test-run.sh has no race of this kind, the
/// attack mirrors runc's CVE-2019-19921 (a mount target swapped for a symlink mid-setup).
#[test]
fn review_leftover_layer_lists_the_rootfs_not_a_swapped_in_host_directory() {
    let runs: usize = std::env::var("CLEAVE_ESCAPE_RACE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let root = hostile_rootfs("layer-raced");
    let secret = fresh_dir(&tmp("layer-raced-host"));
    std::os::unix::fs::symlink("host-secret-target", secret.join("host-secret-name")).unwrap();
    // /d is the attacker's directory (links only too); /swap a link to the host's
    // directory, whose path also exists in the root, so that the link works there.
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::os::unix::fs::symlink("own-target", root.join("d/own")).unwrap();
    let inside = root.join(secret.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    for p in [root.join("d"), root.join("d/own"), inside.clone()] {
        lchown_nobody(&p);
    }
    std::os::unix::fs::symlink(&secret, root.join("swap")).unwrap();
    lchown_nobody(&root.join("swap"));
    let racer = Command::new("setpriv")
        .args(NOBODY)
        .arg(host_probe())
        .arg("race-exchange")
        .arg(root.join("d"))
        .arg(root.join("swap"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let racer = Reaped(racer);
    let r = root.to_str().unwrap();
    let shown = format!("/d /swap {}", secret.display());
    let (mut leaks, mut ran, mut refused) = (Vec::new(), 0, 0);
    for run in 0..runs {
        let o = Command::new(BIN)
            .current_dir("/")
            .args(["spawn", "--preset", "container", "--rootfs", r])
            .args(["--dir", "/d/new", "--", "sh", "-c"])
            .arg(format!("ls -la {shown} 2>&1"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if o.status.success() {
            ran += 1;
        } else if err(&o).contains("the new root changed while the sandbox was being set up") {
            refused += 1;
        }
        if out(&o).contains("host-secret") {
            leaks.push(format!("run {run}: {}", out(&o).trim()));
        }
    }
    drop(racer);
    eprintln!(
        "layer raced: {} leaks in {runs} runs ({ran} ran the program, {refused} refused as \
         changed)",
        leaks.len()
    );
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&secret);
    // The program must have run to have been able to see anything.
    assert!(ran > 0, "the program never ran in {runs} runs");
    assert!(
        leaks.is_empty(),
        "a racing rootfs owner showed the host's {} to the program in {} of {runs} runs: {}",
        secret.display(),
        leaks.len(),
        leaks.first().cloned().unwrap_or_default()
    );
}

/// Review leftover: `--chmod` followed a link at its path. The rootfs owner plants
/// /link -> /hostdir/secret, where the caller binds one of the host's directories (with a
/// file of root's, mode 0600): with root mapped to root, a chmod through the link made the
/// host's file world-writable. The child's lookup refused a link, but the parent resolved
/// the link itself and handed the child the target's path; both refuse it now, and the
/// file keeps its mode (the attack of bubblewrap's CVE-2016-8659 on its own chmod, aimed
/// through a bind).
#[test]
fn review_leftover_chmod_does_not_follow_a_planted_link() {
    let root = hostile_rootfs("chmod-link");
    let host = fresh_dir(&tmp(&format!("chmod-host-{}", std::process::id())));
    let secret = host.join("secret");
    std::fs::write(&secret, "host\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("/hostdir/secret", root.join("link")).unwrap();
    lchown_nobody(&root.join("link"));
    let o = Command::new(BIN)
        .current_dir("/")
        .args(["spawn", "--preset", "container", "--map-root", "--rootfs"])
        .arg(&root)
        .arg("--bind")
        .arg(&host)
        .args(["/hostdir", "--chmod", "0666", "/link", "--", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o7777;
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&host);
    assert_eq!(mode, 0o600, "the host's file changed mode: {}", err(&o));
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(
        err(&o).contains("--chmod 0666 /link") && err(&o).contains("symbolic link"),
        "{}",
        err(&o)
    );
}
