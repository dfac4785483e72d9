//! [`CgroupSet`]: the cgroup directories of one sandbox, across hierarchies.
use super::{cpu_quota_in, weight_to_shares, Limits, Swap, CPU_PERIOD_US};
use crate::error::{CgroupProblem, Error, Result};
use crate::raw;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

/// The directory under each hierarchy's root that holds cleave's cgroups when they cannot
/// go below the caller's own (see [`CgroupSet::notes`]). Created when missing and never
/// removed (other sandboxes may be using it); on cgroup2 it never holds a process itself,
/// so it may enable controllers for its children.
pub const PARENT_DIR: &str = "cleave";

/// How long kill and rmdir wait for the kernel to let go of exiting processes.
pub(super) const SETTLE: Duration = Duration::from_secs(2);

pub(super) static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One cgroup directory of the set.
#[derive(Debug)]
pub(super) struct Dir {
    pub(super) path: PathBuf,
    /// The v1 controllers it is for; empty for the cgroup2 directory.
    pub(super) controllers: Vec<String>,
    /// cgroup2: the directory itself (for CLONE_INTO_CGROUP); v1: its `tasks` (see
    /// [`super::V1_JOIN_FILE`]), open O_WRONLY | O_CLOEXEC for the child to join with.
    pub(super) fd: OwnedFd,
}

impl Dir {
    pub(super) fn is_v1(&self) -> bool {
        !self.controllers.is_empty()
    }

    pub(super) fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The cgroups of one sandbox: a cgroup2 directory when a cgroup2 hierarchy is mounted, plus
/// one directory in each cgroup v1 hierarchy that holds a controller the limits need (and
/// the v1 freezer when there is no cgroup2). Each is `<the caller's cgroup>/<leaf>` or,
/// where that cannot be, `<root>/cleave/<leaf>`; or `<parent>/<leaf>` on cgroup2 when a
/// (delegated) parent is given, where the leaf
/// `<name>-<pid>-<n>.<start>.<pidns>` names the process that made it: when that process is
/// killed before it removes them, the next set created under the same parents removes them
/// once they are empty.
///
/// Getting a child in: start it with [`CgroupSet::into_cgroup_dir`] (CLONE_INTO_CGROUP)
/// and have it call [`super::join`] with [`CgroupSet::join_fds`] before it execs, or write
/// its PID to the `cgroup.procs` of each of [`CgroupSet::paths`] while it waits.
///
/// Dropping a set made by [`CgroupSet::create`] kills whatever still runs in it and removes
/// every directory it created; [`CgroupSet::remove`] does the same and reports failures.
///
/// A set can also outlive the process that made it (a container's, whose runtime exits
/// while it runs): [`CgroupSet::create_at`] makes it at a path a configuration names, and
/// [`CgroupSet::open`] finds it again from another process. Such a set is left alone when
/// the value is dropped; only [`CgroupSet::remove`] kills and removes it.
#[derive(Debug)]
pub struct CgroupSet {
    pub(super) name: String,
    pub(super) unified: Option<Dir>,
    pub(super) v1: Vec<Dir>,
    pub(super) removed: bool,
    /// Made by create_at or open: dropping the value leaves the cgroups as they are.
    pub(super) kept: bool,
    /// Why a directory is not below the caller's own cgroup (see [`CgroupSet::notes`]).
    pub(super) notes: Vec<String>,
}

pub(super) fn cg_err(what: String, source: io::Error) -> Error {
    Error::Cgroup { what, source }
}

pub(super) fn errno(n: i32) -> io::Error {
    io::Error::from_raw_os_error(n)
}

/// Writes `value` to a cgroup file with one write(2) (cgroup files take one value a write).
pub(super) fn write_file(path: &Path, value: &str) -> Result<()> {
    let done = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write(value.as_bytes()).map(drop));
    done.map_err(|e| {
        cg_err(
            format!("failed to write {value:?} to {}", path.display()),
            e,
        )
    })
}

pub(super) fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| cg_err(format!("failed to read {}", path.display()), e))
}

/// mkdir that accepts an existing directory; returns whether it created it.
pub(super) fn make_dir(path: &Path, exist_ok: bool) -> Result<bool> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if exist_ok && e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(cg_err(format!("failed to create {}", path.display()), e)),
    }
}

/// rmdir, retrying while the kernel still counts exiting tasks (EBUSY); a missing
/// directory counts as removed.
fn remove_dir(path: &Path) -> Result<()> {
    let start = Instant::now();
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < SETTLE => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(cg_err(format!("failed to remove {}", path.display()), e)),
        }
    }
}

/// The PIDs listed in the `cgroup.procs` of `dir` and of every cgroup below it. A cgroup
/// removed while it is read (its processes ended) counts as empty.
pub(super) fn procs(dir: &Path) -> Result<Vec<i32>> {
    let mut pids = Vec::new();
    for d in tree(dir)? {
        match std::fs::read_to_string(d.join("cgroup.procs")) {
            Ok(text) => pids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound && d != dir => {}
            Err(e) => {
                return Err(cg_err(
                    format!("failed to read {}", d.join("cgroup.procs").display()),
                    e,
                ))
            }
        }
    }
    Ok(pids)
}

/// `dir` and every cgroup below it, each parent before its children.
pub(super) fn tree(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut all = vec![dir.to_path_buf()];
    let mut i = 0;
    while let Some(d) = all.get(i).cloned() {
        i += 1;
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound && d != dir => continue,
            Err(e) => return Err(cg_err(format!("failed to read {}", d.display()), e)),
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                all.push(entry.path());
            }
        }
    }
    Ok(all)
}

/// Makes sure `dir`'s children can use `controllers` (cgroup2): each must be in
/// `dir/cgroup.controllers`, and is added to `dir/cgroup.subtree_control` when missing.
pub(super) fn enable(dir: &Path, controllers: &[&str]) -> Result<()> {
    if controllers.is_empty() {
        return Ok(());
    }
    let control = dir.join("cgroup.subtree_control");
    let enabled = read_file(&control)?;
    let available = read_file(&dir.join("cgroup.controllers"))?;
    for c in controllers {
        if enabled.split_whitespace().any(|e| e == *c) {
            continue;
        }
        if !available.split_whitespace().any(|e| e == *c) {
            let fix = match dir.parent().map(|p| p.join("cgroup.subtree_control")) {
                Some(up) if up.exists() => format!("enable it in {}", up.display()),
                _ => "it is bound to a cgroup v1 hierarchy or not built into this kernel".into(),
            };
            return Err(cg_err(
                format!(
                    "{c} limits need the {c} controller, which {} does not offer: {fix}",
                    dir.display()
                ),
                errno(libc::ENOENT),
            ));
        }
        write_file(&control, &format!("+{c}")).map_err(|e| match e {
            Error::Cgroup { source, .. } => cg_err(
                format!(
                    "{c} limits need the {c} controller: failed to enable it in {}",
                    control.display()
                ),
                source,
            ),
            e => e,
        })?;
    }
    Ok(())
}

/// Writes a v1 memory limit and memory+swap total. The kernel keeps memory+swap at least
/// memory at every step, so the order depends on the change: the limit first when it fits
/// under the current memory+swap, else memory+swap first. Without a total, memory+swap
/// follows the limit (no swap beyond it). Without swap accounting (no memsw file) only the
/// limit is written.
fn write_memory_v1(dir: &Path, memory: Option<u64>, swap: Option<Swap>) -> Result<()> {
    let limit_file = dir.join("memory.limit_in_bytes");
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    let total = match swap {
        Some(Swap::Unlimited) => Some("-1".to_string()),
        Some(Swap::Total(t)) => Some(t.to_string()),
        None => memory.map(|m| m.to_string()),
    };
    let total = total.filter(|_| memsw.exists());
    let Some(bytes) = memory else {
        if let Some(t) = total {
            write_file(&memsw, &t)?;
        }
        return Ok(());
    };
    let current = read_file(&memsw)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    if bytes <= current {
        write_file(&limit_file, &bytes.to_string())?;
        if let Some(t) = total {
            write_file(&memsw, &t)?;
        }
    } else {
        if let Some(t) = total {
            write_file(&memsw, &t)?;
        }
        write_file(&limit_file, &bytes.to_string())?;
    }
    Ok(())
}

/// Undoes a half-built set: removes the directories created so far, newest first.
pub(super) struct Rollback(pub(super) Vec<PathBuf>);

impl Drop for Rollback {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = std::fs::remove_dir(p);
        }
    }
}

impl CgroupSet {
    /// Why directories of the set are not below the caller's own cgroup, one sentence each
    /// (empty when every one is, or when the caller's cgroup is the top of its hierarchy).
    /// [`CgroupSet::create`] puts each directory below the cgroup the caller runs in, in
    /// that hierarchy, so that the sandbox stays within the caller's accounting and limits;
    /// it falls back to the hierarchy's `cleave` directory where that cannot be: the
    /// caller's cgroup cannot be written, or (cgroup2) the limits need a controller that a
    /// cgroup holding processes cannot give its children.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The directory that holds `controller`'s files: its v1 directory, else the cgroup2 one.
    pub(super) fn dir_for(&self, controller: &str) -> Option<&Dir> {
        self.v1
            .iter()
            .find(|d| d.has(controller))
            .or(self.unified.as_ref())
    }

    pub(super) fn write_limits(&self, limits: &Limits) -> Result<()> {
        let missing = |c: &str| {
            cg_err(
                format!("{c} limits need the {c} controller, which this set has no directory for"),
                errno(libc::ENOENT),
            )
        };
        if limits.uses_memory() {
            let d = self.dir_for("memory").ok_or_else(|| missing("memory"))?;
            super::tune::write_memory_more(&d.path, d.is_v1(), limits)?;
        }
        if limits.memory.is_some() || limits.memory_swap.is_some() {
            let d = self.dir_for("memory").ok_or_else(|| missing("memory"))?;
            if d.is_v1() {
                write_memory_v1(&d.path, limits.memory, limits.memory_swap)?;
            } else {
                if let Some(bytes) = limits.memory {
                    write_file(&d.path.join("memory.max"), &bytes.to_string())?;
                }
                let swap = d.path.join("memory.swap.max");
                // memory.swap.max is swap alone, beyond memory.max.
                let value = match (limits.memory_swap, limits.memory) {
                    (Some(Swap::Unlimited), _) => Some("max".to_string()),
                    (Some(Swap::Total(t)), Some(m)) => Some(t.saturating_sub(m).to_string()),
                    (Some(Swap::Total(t)), None) => Some(t.to_string()),
                    (None, Some(_)) => Some("0".to_string()),
                    (None, None) => None,
                };
                if let (Some(v), true) = (value, swap.exists()) {
                    write_file(&swap, &v)?;
                }
            }
        }
        if let (None, Some(period)) = (limits.cpus, limits.cpu_period) {
            let d = self.dir_for("cpu").ok_or_else(|| missing("cpu"))?;
            if d.is_v1() {
                write_file(&d.path.join("cpu.cfs_period_us"), &period.to_string())?;
            } else {
                write_file(&d.path.join("cpu.max"), &format!("max {period}"))?;
            }
        }
        if let Some(cpus) = limits.cpus {
            let d = self.dir_for("cpu").ok_or_else(|| missing("cpu"))?;
            let period = limits.cpu_period.unwrap_or(CPU_PERIOD_US);
            let quota = cpu_quota_in(cpus, period);
            if d.is_v1() {
                // A burst above the new quota would make the kernel refuse it.
                let burst = d.path.join("cpu.cfs_burst_us");
                if burst.exists() {
                    write_file(&burst, "0")?;
                }
                write_file(&d.path.join("cpu.cfs_period_us"), &period.to_string())?;
                write_file(&d.path.join("cpu.cfs_quota_us"), &quota.to_string())?;
            } else {
                write_file(&d.path.join("cpu.max"), &format!("{quota} {period}"))?;
            }
            // Let a period's unused quota carry over to the next (CFS burst; the long-run
            // average stays at the quota). Without it, sandboxes whose quotas add up to a
            // whole CPU leave it idle whenever all are throttled at once, and the larger
            // share comes out 3-11% short (measured here with 0.75 and 0.25).
            for file in ["cpu.cfs_burst_us", "cpu.max.burst"] {
                let path = d.path.join(file);
                if path.exists() {
                    write_file(&path, &quota.to_string())?;
                }
            }
        }
        if let Some(weight) = limits.cpu_weight {
            let d = self.dir_for("cpu").ok_or_else(|| missing("cpu"))?;
            if d.is_v1() {
                let shares = limits
                    .cpu_shares
                    .unwrap_or_else(|| weight_to_shares(weight));
                write_file(&d.path.join("cpu.shares"), &shares.to_string())?;
            } else {
                write_file(&d.path.join("cpu.weight"), &weight.to_string())?;
            }
        }
        if let (None, Some(shares)) = (limits.cpu_weight, limits.cpu_shares) {
            let d = self.dir_for("cpu").ok_or_else(|| missing("cpu"))?;
            if d.is_v1() {
                write_file(&d.path.join("cpu.shares"), &shares.to_string())?;
            } else {
                let weight = super::shares_to_weight(shares).to_string();
                write_file(&d.path.join("cpu.weight"), &weight)?;
            }
        }
        if limits.cpuset_cpus.is_some() || limits.cpuset_mems.is_some() {
            let d = self.dir_for("cpuset").ok_or_else(|| missing("cpuset"))?;
            super::tune::write_cpuset(&d.path, d.is_v1(), limits)?;
        }
        if let Some(pids) = limits.pids {
            let d = self.dir_for("pids").ok_or_else(|| missing("pids"))?;
            write_file(&d.path.join("pids.max"), &pids.to_string())?;
        }
        if let Some(rules) = &limits.devices {
            let d = self
                .v1
                .iter()
                .find(|d| d.has("devices"))
                .ok_or(CgroupProblem::DevicesWithoutV1)?;
            // Everything denied first, then the rules in order: the last that matches wins.
            write_file(&d.path.join("devices.deny"), "a")?;
            for rule in rules {
                let file = if rule.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                for line in rule.v1_lines() {
                    write_file(&d.path.join(file), &line)?;
                }
            }
        }
        Ok(())
    }

    /// The leaf name shared by every directory of the set: `<name>-<pid>-<n>.<start>.<pidns>`
    /// (this process's PID, a counter, its start time in clock ticks since boot and its PID
    /// namespace's inode), or `<name>-<pid>-<n>` when `/proc` cannot tell those. For a set
    /// made by [`CgroupSet::create_at`] or [`CgroupSet::open`]: the path, as `/a/b`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cgroup2 directory, for CLONE_INTO_CGROUP ([`crate::Fork::into_cgroup`],
    /// [`crate::Command::into_cgroup`]); `None` on a v1-only host.
    pub fn into_cgroup_dir(&self) -> Option<BorrowedFd<'_>> {
        self.unified.as_ref().map(|d| d.fd.as_fd())
    }

    /// The `tasks` of each v1 directory (which CLONE_INTO_CGROUP cannot reach), open
    /// O_WRONLY | O_CLOEXEC. A fresh child joins them with [`super::join`] before it execs.
    /// The fds belong to the set and stay open until it is removed; a child forked from the
    /// caller has its own copies. Empty on a pure cgroup2 host.
    pub fn join_fds(&self) -> Vec<RawFd> {
        self.v1.iter().map(|d| d.fd.as_raw_fd()).collect()
    }

    /// Every directory of the set: the cgroup2 one first, then the v1 ones.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.unified
            .iter()
            .chain(&self.v1)
            .map(|d| d.path.clone())
            .collect()
    }

    /// The v1 freezer directory, used only when there is no cgroup2 directory (cgroup2's
    /// own `cgroup.freeze` covers every process of the set).
    pub(super) fn v1_freezer(&self) -> Option<&Dir> {
        self.v1.iter().find(|d| d.has("freezer"))
    }

    /// Freezes every process of the set and waits until the kernel reports it frozen
    /// (cgroup2 `cgroup.freeze` / `cgroup.events`; v1 `freezer.state`).
    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    /// Lets the processes of a frozen set run again.
    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let (file, value, state_file, want) = if let Some(d) = &self.unified {
            let value = if frozen { "1" } else { "0" };
            (
                d.path.join("cgroup.freeze"),
                value,
                d.path.join("cgroup.events"),
                format!("frozen {value}"),
            )
        } else if let Some(d) = self.v1_freezer() {
            let value = if frozen { "FROZEN" } else { "THAWED" };
            let state = d.path.join("freezer.state");
            (state.clone(), value, state, value.to_string())
        } else {
            return Err(cg_err(
                "freeze: this set has neither a cgroup2 directory nor a v1 freezer one".into(),
                errno(libc::ENOENT),
            ));
        };
        write_file(&file, value)?;
        let start = Instant::now();
        // Re-read every millisecond, not poll(2) for POLLPRI on cgroup.events: the kernel
        // rate-limits a cgroup file's notifications, and waiting on them made the pause +
        // resume of a busy container slower (10.0 → 19.1 ms, median of 30).
        loop {
            if read_file(&state_file)?.lines().any(|l| l.trim() == want) {
                return Ok(());
            }
            if start.elapsed() > SETTLE {
                return Err(cg_err(
                    format!(
                        "{} did not report {want:?} within {SETTLE:?}",
                        state_file.display()
                    ),
                    errno(libc::ETIMEDOUT),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Kills every process of the set (cgroup2 `cgroup.kill`; otherwise SIGKILL to every
    /// PID in each `cgroup.procs`, thawing a v1-frozen set so the signal is taken) and waits
    /// until the set is empty. The processes become zombies for their parents to reap.
    pub fn kill(&self) -> Result<()> {
        if let Some(d) = &self.unified {
            let file = d.path.join("cgroup.kill");
            if file.exists() {
                write_file(&file, "1")?;
            }
        }
        let start = Instant::now();
        for d in self.unified.iter().chain(&self.v1) {
            loop {
                let pids = procs(&d.path)?;
                if pids.is_empty() {
                    break;
                }
                if start.elapsed() > SETTLE {
                    return Err(cg_err(
                        format!("kill: {} still holds processes {pids:?}", d.path.display()),
                        errno(libc::EBUSY),
                    ));
                }
                for pid in pids {
                    // Through a pidfd: a PID that was reused after we read it is not hit.
                    if let Ok(fd) = raw::pidfd_open(pid) {
                        let _ = raw::pidfd_send_signal(fd.as_raw_fd(), libc::SIGKILL);
                    }
                }
                if self.unified.is_none() {
                    if let Some(f) = self.v1_freezer() {
                        let _ = write_file(&f.path.join("freezer.state"), "THAWED");
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(())
    }

    /// Kills what is left and removes every directory of the set (the shared `cleave`
    /// parents stay). Returns the first failure; everything is attempted regardless.
    pub fn remove(mut self) -> Result<()> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<()> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        let killed = self.kill();
        let dirs: Vec<Dir> = self
            .unified
            .take()
            .into_iter()
            .chain(self.v1.drain(..))
            .collect();
        let mut first = killed.err();
        for d in dirs {
            let Dir { path, fd, .. } = d;
            drop(fd);
            // Cgroups made inside the set (a container's own) go first, deepest first.
            let inner = tree(&path).unwrap_or_else(|_| vec![path.clone()]);
            for p in inner.iter().rev() {
                if let Err(e) = remove_dir(p) {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for CgroupSet {
    /// Best effort: kills what is left and removes the directories, unless the set was made
    /// by [`CgroupSet::create_at`] or [`CgroupSet::open`] (then it stays as it is).
    fn drop(&mut self) {
        if !self.kept {
            let _ = self.teardown();
        }
    }
}
