//! config.json values beyond the basics, each proven where it takes effect: the CPUs and
//! memory nodes a container may use (seen from inside in /proc/self/status), the CFS period,
//! v1 shares, memory reservation, swappiness and the OOM killer switch (read back from the
//! container's own cgroup files, found through /proc/PID/cgroup of its process), and
//! propagation options on new filesystems and binds (seen from inside in mountinfo). They
//! mirror what runtime-tools' validation programs linux_cgroups_cpus,
//! linux_cgroups_relative_cpus, linux_cgroups_memory and mounts check. Needs root; with
//! CI=true a missing privilege is a failure, not a skip.
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
        "these tests need root (CI=true: no skipping)"
    );
    eprintln!("skipped: needs root");
    false
}

/// A bundle with the busybox rootfs and `cleave spec`'s config running `args`, its state
/// under a root of its own; removed with every container in it when dropped.
struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn new(name: &str, args: &[&str]) -> Bundle {
        let dir = PathBuf::from(format!(
            "/var/tmp/cleave-conf-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        support::mkrootfs(&dir.join("rootfs"));
        let out = support::cleave(&["spec", "--bundle", dir.to_str().unwrap()]);
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let b = Bundle { dir };
        b.edit(|c| {
            c["process"]["terminal"] = json!(false);
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

    fn cleave(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--root")
            .arg(self.dir.join("state"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run cleave")
    }

    /// `run --bundle B ID`: its exit status must be 0; its stdout.
    fn run(&self, id: &str) -> String {
        let out = self.cleave(&["run", "--bundle", self.dir.to_str().unwrap(), id]);
        assert!(
            out.status.success(),
            "run: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `create --bundle B ID`, the container left waiting: its pid.
    fn create(&self, id: &str) -> i32 {
        let pid_file = self.dir.join(format!("{id}.pid"));
        let st = Command::new(BIN)
            .arg("--root")
            .arg(self.dir.join("state"))
            .args([
                "create",
                "--bundle",
                self.dir.to_str().unwrap(),
                "--pid-file",
            ])
            .arg(&pid_file)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "create {id} failed");
        std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
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

/// The directory of `pid`'s cgroup that holds `controller`'s files: its v1 hierarchy's,
/// else its cgroup2 one.
fn cgroup_dir(pid: i32, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mut v2 = None;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctls, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        let rel = path.trim_start_matches('/');
        if ctls.split(',').any(|c| c == controller) {
            let mount = Path::new("/sys/fs/cgroup").join(ctls);
            if mount.is_dir() {
                return mount.join(rel);
            }
        }
        if ctls.is_empty() {
            v2 = Some(rel.to_string());
        }
    }
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.join("cgroup.controllers").exists())
        .expect("a cgroup2 mount");
    unified.join(v2.expect("a cgroup2 line"))
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// The CPUs this process may use, as the kernel lists them.
fn my_cpus() -> Vec<u32> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<u32>().unwrap()..=b.parse().unwrap()),
            None => cpus.push(part.parse().unwrap()),
        }
    }
    cpus
}

/// linux.resources.cpu.cpus and mems: the program may run on the CPU named and no other
/// (its own Cpus_allowed_list, from inside), in a cgroup path three levels deep that does
/// not exist yet (every new v1 cpuset directory on the way is filled from its parent, or
/// the container could not join it). Mirrors runtime-tools' linux_cgroups_cpus.
#[test]
fn cpuset_cpus_and_mems_hold_inside() {
    if !root_or_skip() {
        return;
    }
    let cpu = *my_cpus().last().unwrap();
    let me = std::process::id();
    let b = Bundle::new(
        "cpuset",
        &[
            "grep",
            "-E",
            "^(Cpus|Mems)_allowed_list",
            "/proc/self/status",
        ],
    );
    let top = format!("cleave-conf-cpuset-{me}");
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{top}/a/box"));
        c["linux"]["resources"] = json!({"cpu": {"cpus": cpu.to_string(), "mems": "0"}});
    });
    let out = b.run("cpuset");
    let mut seen = out.lines();
    assert_eq!(
        seen.next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["Cpus_allowed_list:", &cpu.to_string()]),
        "{out}"
    );
    assert_eq!(
        seen.next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["Mems_allowed_list:", "0"]),
        "{out}"
    );
    // The directories above the leaf stay (others may share them): the test removes its own.
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(
        std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|e| e.path()),
    );
    for root in roots {
        let _ = std::fs::remove_dir(root.join(&top).join("a"));
        let _ = std::fs::remove_dir(root.join(&top));
    }
    // A list the kernel cannot read is refused with its JSON path, before anything is made.
    b.edit(|c| c["linux"]["resources"]["cpu"]["cpus"] = json!("0-"));
    let out = b.cleave(&["run", "--bundle", b.dir.to_str().unwrap(), "bad"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("linux.resources.cpu.cpus: invalid CPU or memory node list"),
        "{}",
        text(&out.stderr)
    );
    assert!(!b.dir.join("state/bad").exists());
}

/// A CFS period other than 100 ms, v1 shares as given, memory reservation, swappiness and
/// disableOOMKiller, read back from the files of the created container's own cgroup. Where
/// memory is on cgroup2 the reservation is memory.low and the last two have no file.
/// Mirrors runtime-tools' linux_cgroups_relative_cpus and the memory part of
/// linux_cgroups_memory.
#[test]
fn cpu_period_shares_and_memory_settings_reach_the_cgroup() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("cgfiles", &["true"]);
    b.edit(|c| {
        c["linux"]["resources"] = json!({
            "cpu": {"quota": 200000, "period": 500000, "shares": 2048},
            "memory": {"limit": 268435456, "reservation": 134217728, "swappiness": 7,
                       "disableOOMKiller": true}
        });
    });
    let pid = b.create("cg");
    let cpu = cgroup_dir(pid, "cpu");
    if cpu.join("cpu.cfs_period_us").exists() {
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "500000");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "200000");
        assert_eq!(read(&cpu, "cpu.shares"), "2048");
    } else {
        assert_eq!(read(&cpu, "cpu.max"), "200000 500000");
        assert_eq!(
            read(&cpu, "cpu.weight"),
            cleave_oci::shares_to_weight(2048).to_string()
        );
    }
    let memory = cgroup_dir(pid, "memory");
    if memory.join("memory.soft_limit_in_bytes").exists() {
        assert_eq!(read(&memory, "memory.soft_limit_in_bytes"), "134217728");
        assert_eq!(read(&memory, "memory.swappiness"), "7");
        let oom = read(&memory, "memory.oom_control");
        assert!(oom.lines().any(|l| l == "oom_kill_disable 1"), "{oom}");
    } else {
        assert_eq!(read(&memory, "memory.low"), "134217728");
    }
    // What cgroup2 lacks is said in the log's lowering notes.
    let log = b.dir.join("log.json");
    let out = b.cleave(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        b.dir.to_str().unwrap(),
        "cg2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("linux.resources.memory.disableOOMKiller: applied through the v1 memory controller (memory.oom_control); cgroup2 cannot disable the OOM killer"),
        "{logged}"
    );
    assert!(
        logged.contains(
            "linux.resources.memory.swappiness: applied through the v1 memory controller"
        ),
        "{logged}"
    );
}

/// Propagation options on a new filesystem and on binds, seen from inside in mountinfo: a
/// shared tmpfs has a peer group, a runbindable bind and the mount below it are unbindable, a
/// slave bind follows its master. Mirrors runtime-tools' mounts.
#[test]
fn propagation_options_on_new_filesystems_and_binds_hold_inside() {
    if !root_or_skip() {
        return;
    }
    let b = Bundle::new("prop", &["cat", "/proc/self/mountinfo"]);
    let data = b.dir.join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        let d = data.to_str().unwrap();
        mounts.extend([
            json!({"destination": "/t-shared", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid", "size=1k", "shared"]}),
            json!({"destination": "/t-private", "type": "tmpfs", "source": "tmpfs",
                   "options": ["private"]}),
            json!({"destination": "/u", "source": d, "options": ["rbind", "runbindable"]}),
            json!({"destination": "/u/sub", "type": "tmpfs", "source": "tmpfs"}),
            json!({"destination": "/s", "source": d,
                   "options": ["bind", "mode=755", "shared"]}),
        ]);
    });
    let out = b.run("prop");
    // mountinfo: ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE ...
    let optional = |point: &str| -> Vec<String> {
        let line = out
            .lines()
            .rev()
            .find(|l| l.split_whitespace().nth(4) == Some(point))
            .unwrap_or_else(|| panic!("{point} not mounted inside:\n{out}"));
        line.split_whitespace()
            .skip(6)
            .take_while(|f| *f != "-")
            .map(str::to_string)
            .collect()
    };
    let shared = optional("/t-shared");
    assert!(
        shared.iter().any(|f| f.starts_with("shared:")),
        "{shared:?}"
    );
    assert!(optional("/t-private").is_empty(), "{out}");
    assert_eq!(optional("/u"), ["unbindable"], "{out}");
    assert!(
        optional("/s").iter().any(|f| f.starts_with("shared:")),
        "{out}"
    );
    // The config's mounts keep their order in the mount table.
    let points: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| ["/proc", "/dev", "/t-shared", "/u", "/s"].contains(p))
        .collect();
    let first = |p: &str| points.iter().position(|q| *q == p).unwrap();
    assert!(
        first("/proc") < first("/dev")
            && first("/dev") < first("/t-shared")
            && first("/t-shared") < first("/u")
            && first("/u") < first("/s"),
        "{points:?}"
    );
}

/// `update --resources FILE` with CPUs and memory settings the container was created
/// without: its cgroup grows a v1 cpuset directory (filled from its parents before the
/// container's processes move in) and the process may then run on the CPU named alone; the
/// swappiness reaches its memory cgroup. As containerd's shim and podman send `update`.
#[test]
fn update_gives_a_created_container_cpus_and_memory_settings() {
    if !root_or_skip() {
        return;
    }
    let cpu = *my_cpus().last().unwrap();
    let b = Bundle::new("update", &["true"]);
    let pid = b.create("up");
    let resources = b.dir.join("resources.json");
    std::fs::write(
        &resources,
        json!({"cpu": {"cpus": cpu.to_string(), "mems": "0"},
               "memory": {"limit": 268435456, "swappiness": 3}})
        .to_string(),
    )
    .unwrap();
    let out = b.cleave(&["update", "--resources", resources.to_str().unwrap(), "up"]);
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    assert_eq!(allowed, cpu.to_string());
    let memory = cgroup_dir(pid, "memory");
    if memory.join("memory.swappiness").exists() {
        assert_eq!(read(&memory, "memory.swappiness"), "3");
    }
}
