//! cgroup limits observed from the inside: children made by cleave join a [`CgroupSet`]
//! (CLONE_INTO_CGROUP for cgroup2, a raw write of "0" to each v1 `cgroup.procs`) and then
//! hit the limit, get frozen, get killed. Needs root; runs on pure cgroup2, hybrid and v1.
mod common;

use cleave::cgroup::{self, CgroupPath, CgroupSet, Layout, Limits};
use cleave::error::{CgroupProblem, LimitProblem};
use cleave::{Child, Error, ExitStatus, Fork};
use cleave_child::sys;
use common::*;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    run(&[
        ("memory_limit", memory_limit),
        ("pids_limit", pids_limit),
        ("cpu_quota_ratio", cpu_quota_ratio),
        ("freeze_thaw", freeze_thaw),
        ("kill_and_nothing_left_behind", kill_and_nothing_left_behind),
        ("v1_only_paths", v1_only_paths),
        ("swept_once_the_maker_is_gone", swept_once_the_maker_is_gone),
        ("refusals", refusals),
        (
            "create_at_then_open_elsewhere",
            create_at_then_open_elsewhere,
        ),
        (
            "create_at_under_a_delegated_parent",
            create_at_under_a_delegated_parent,
        ),
        ("device_rules_enforced", device_rules_enforced),
        ("devices_refused_without_v1", devices_refused_without_v1),
        ("memory_swap_total", memory_swap_total),
    ]);
}

fn e2s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Starts `body` in a child that is in every cgroup of `set` before it runs: created in the
/// cgroup2 directory, joining the v1 ones itself (exit 125 if it cannot).
fn spawn_in(set: &CgroupSet, body: impl FnOnce() -> i32) -> Result<Child, String> {
    let fds = set.join_fds();
    let mut fork = Fork::new();
    if let Some(dir) = set.into_cgroup_dir() {
        fork.into_cgroup(dir).map_err(e2s)?;
    }
    fork.spawn(move || {
        if cgroup::join(&fds).is_err() {
            return 125;
        }
        body()
    })
    .map_err(e2s)
}

/// Maps `bytes` of anonymous memory and writes to every page.
fn touch(bytes: usize) -> i32 {
    // SAFETY: a fresh private anonymous mapping, written within its length only.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return 2;
        }
        let p = p.cast::<u8>();
        for off in (0..bytes).step_by(4096) {
            std::ptr::write_volatile(p.add(off), 1);
        }
    }
    0
}

fn memory_limit() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let limits = Limits {
        memory: Some(cgroup::parse_size("32M").map_err(e2s)?),
        ..Limits::default()
    };
    let set = CgroupSet::create("test-mem", &limits, None).map_err(e2s)?;
    let big = spawn_in(&set, || touch(128 << 20))?.wait().map_err(e2s)?;
    ensure!(
        big.signal() == Some(libc::SIGKILL),
        "touching 128M under a 32M limit: {big}, expected SIGKILL from the OOM killer"
    );
    let small = spawn_in(&set, || touch(8 << 20))?.wait().map_err(e2s)?;
    ensure_eq!(small, ExitStatus::Exited(0));
    set.remove().map_err(e2s)?;
    pass()
}

fn pids_limit() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    const MAX: u64 = 8;
    let limits = Limits {
        pids: Some(MAX),
        ..Limits::default()
    };
    let set = CgroupSet::create("test-pids", &limits, None).map_err(e2s)?;
    let (r, w) = pipe();
    let wfd = w.as_raw_fd();
    let mut child = spawn_in(&set, move || {
        // Fork until refused; each grandchild waits to be killed.
        let mut pids = [0i32; 64];
        let mut count = 0usize;
        let mut errno = 0;
        for slot in pids.iter_mut() {
            // SAFETY: this child is single-threaded; the grandchild only calls pause().
            match unsafe { libc::fork() } {
                0 => loop {
                    // SAFETY: plain system call.
                    unsafe { libc::pause() };
                },
                -1 => {
                    errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
                    break;
                }
                pid => {
                    *slot = pid;
                    count += 1;
                }
            }
        }
        for &pid in pids.iter().take(count) {
            // SAFETY: our own children.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        let mut report = [0u8; 8];
        report[..4].copy_from_slice(&(count as i32).to_ne_bytes());
        report[4..].copy_from_slice(&errno.to_ne_bytes());
        let _ = sys::write(wfd, &report);
        0
    })?;
    drop(w);
    let status = child.wait().map_err(e2s)?;
    ensure_eq!(status, ExitStatus::Exited(0));
    let mut report = [0u8; 8];
    std::fs::File::from(r)
        .read_exact(&mut report)
        .map_err(e2s)?;
    let count = i32::from_ne_bytes(report[..4].try_into().unwrap_or_default());
    let errno = i32::from_ne_bytes(report[4..].try_into().unwrap_or_default());
    ensure_eq!(errno, libc::EAGAIN);
    ensure!(
        (1..=MAX as i32).contains(&count),
        "{count} forks succeeded under pids.max = {MAX}"
    );
    // The forking child itself is one of the MAX tasks.
    ensure_eq!(count, MAX as i32 - 1);
    set.remove().map_err(e2s)?;
    pass()
}

/// The CPU the test pins its busy children to: the highest one it may run on.
fn last_cpu() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity fills it.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        set
    };
    (0..libc::CPU_SETSIZE as usize)
        .rev()
        // SAFETY: reads a bit of a valid set.
        .find(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .unwrap_or(0)
}

fn pin_to(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; one bit within CPU_SETSIZE is set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// CPU time of this process in nanoseconds.
fn own_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time of process `pid` in nanoseconds, read through its CPU-time clock.
fn cpu_ns_of(pid: i32) -> Result<u64, String> {
    let mut clock: libc::clockid_t = 0;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointers.
    let ok = unsafe {
        libc::clock_getcpuclockid(pid, &mut clock) == 0 && libc::clock_gettime(clock, &mut ts) == 0
    };
    ensure!(
        ok,
        "cpu clock of {pid}: {}",
        std::io::Error::last_os_error()
    );
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// The quota each set asked for is the one the kernel holds (cgroup2 `cpu.max`, v1
/// `cpu.cfs_quota_us` / `cpu.cfs_period_us`), and a child spinning in each set for a second
/// gets no more CPU than its quota allows. A quota is a ceiling, so this holds on a busy
/// machine too; how close each set comes to its share on an idle one is measured in bench/,
/// not here.
fn cpu_quota_ratio() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let cpu = last_cpu();
    let wall = Duration::from_secs(1);
    let from = Instant::now() + Duration::from_millis(200);
    let until = from + wall;
    let mut runs = Vec::new();
    for cpus in [0.75, 0.25] {
        let limits = Limits {
            cpus: Some(cpus),
            ..Limits::default()
        };
        let set = CgroupSet::create("test-cpu", &limits, None).map_err(e2s)?;
        let held = set
            .paths()
            .iter()
            .find_map(|dir| {
                if let Ok(max) = std::fs::read_to_string(dir.join("cpu.max")) {
                    let mut f = max.split_whitespace();
                    Some((
                        f.next()?.parse::<u64>().ok()?,
                        f.next()?.parse::<u64>().ok()?,
                    ))
                } else {
                    let read = |f: &str| {
                        std::fs::read_to_string(dir.join(f))
                            .ok()
                            .and_then(|s| s.trim().parse::<u64>().ok())
                    };
                    Some((read("cpu.cfs_quota_us")?, read("cpu.cfs_period_us")?))
                }
            })
            .ok_or("no cpu controller file in the set's directories")?;
        ensure_eq!(held, ((cpus * 100_000.0) as u64, 100_000));
        let (r, w) = pipe();
        let wfd = w.as_raw_fd();
        let child = spawn_in(&set, move || {
            if !pin_to(cpu) {
                return 3;
            }
            while Instant::now() < from {
                std::hint::spin_loop();
            }
            let start = own_cpu_ns();
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            let _ = sys::write(wfd, &(own_cpu_ns() - start).to_ne_bytes());
            0
        })?;
        drop(w);
        runs.push((cpus, set, child, r));
    }
    for (cpus, set, mut child, r) in runs {
        ensure_eq!(child.wait().map_err(e2s)?, ExitStatus::Exited(0));
        let mut b = [0u8; 8];
        std::fs::File::from(r).read_exact(&mut b).map_err(e2s)?;
        let used = u64::from_ne_bytes(b) as f64 / 1e9;
        println!("\n    cpus {cpus}: {used:.3} s of CPU in 1 s on CPU {cpu}");
        // The ceiling: the quota over the window, plus one period's burst (cleave sets a
        // burst equal to the quota) and a period of slack at each end.
        let ceiling = cpus * wall.as_secs_f64() + cpus * 0.1 + 0.2;
        let within = used <= ceiling;
        ensure!(
            within,
            "a {cpus}-CPU cgroup got {used:.3} s of CPU in 1 s, over its ceiling {ceiling:.3} s"
        );
        set.remove().map_err(e2s)?;
    }
    pass()
}

fn freeze_thaw() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let set = CgroupSet::create("test-freeze", &Limits::default(), None).map_err(e2s)?;
    freeze_thaw_in(&set)?;
    set.remove().map_err(e2s)?;
    pass()
}

/// A busy child of `set` stops using CPU while frozen, resumes when thawed, and is ended by
/// kill().
fn freeze_thaw_in(set: &CgroupSet) -> Result<(), String> {
    let mut child = spawn_in(set, || loop {
        std::hint::spin_loop();
    })?;
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(50));
    set.freeze().map_err(e2s)?;
    let t1 = cpu_ns_of(pid)?;
    std::thread::sleep(Duration::from_millis(300));
    let t2 = cpu_ns_of(pid)?;
    ensure!(
        t2 == t1,
        "frozen child used {} ns of CPU in 300 ms",
        t2 - t1
    );
    set.thaw().map_err(e2s)?;
    std::thread::sleep(Duration::from_millis(200));
    let t3 = cpu_ns_of(pid)?;
    ensure!(
        t3 - t2 > 50_000_000,
        "thawed child used only {} ns of CPU in 200 ms",
        t3 - t2
    );
    // kill() works on a frozen set too.
    set.freeze().map_err(e2s)?;
    set.kill().map_err(e2s)?;
    let status = child.wait().map_err(e2s)?;
    ensure_eq!(status.signal(), Some(libc::SIGKILL));
    Ok(())
}

/// A child of `set` that ignores SIGTERM and waits; returns once it is in place.
fn stubborn_child(set: &CgroupSet) -> Result<Child, String> {
    let (r, w) = pipe();
    let wfd = w.as_raw_fd();
    let child = spawn_in(set, move || {
        // SAFETY: setting a disposition in a single-threaded child.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
        let _ = sys::write(wfd, b"R");
        loop {
            // SAFETY: plain system call.
            unsafe { libc::pause() };
        }
    })?;
    drop(w);
    let mut b = [0u8; 1];
    if std::fs::File::from(r).read_exact(&mut b).is_err() {
        let mut child = child;
        return Err(format!(
            "the child ended before it was ready: {}",
            child.wait().map_err(e2s)?
        ));
    }
    Ok(child)
}

fn gone(paths: &[PathBuf]) -> Result<(), String> {
    for p in paths {
        ensure!(!p.exists(), "{} left behind", p.display());
    }
    Ok(())
}

fn kill_and_nothing_left_behind() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let layout = Layout::detect().map_err(e2s)?;
    let limits = Limits {
        memory: Some(64 << 20),
        cpus: Some(1.5),
        cpu_weight: Some(200),
        pids: Some(16),
        ..Limits::default()
    };
    // kill() ends a child that ignores SIGTERM.
    let set = CgroupSet::create("test-gone", &limits, None).map_err(e2s)?;
    let paths = set.paths();
    ensure!(!paths.is_empty(), "no directory created");
    for p in &paths {
        ensure!(p.is_dir(), "{} missing", p.display());
    }
    ensure_eq!(
        paths.len(),
        usize::from(layout.unified().is_some())
            + ["memory", "cpu", "pids"]
                .iter()
                .filter_map(|c| layout
                    .v1()
                    .iter()
                    .position(|h| h.controllers.iter().any(|d| d == c)))
                .collect::<std::collections::BTreeSet<_>>()
                .len()
    );
    // The weight went where the cpu controller lives, converted for v1.
    let weight = paths
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p.join("cpu.shares"))
                .or_else(|_| std::fs::read_to_string(p.join("cpu.weight")))
                .ok()
        })
        .unwrap_or_default();
    ensure!(
        weight.trim() == cgroup::weight_to_shares(200).to_string() || weight.trim() == "200",
        "cpu weight 200 written as {weight:?}"
    );
    let mut child = stubborn_child(&set)?;
    child.signal(libc::SIGTERM).map_err(e2s)?;
    std::thread::sleep(Duration::from_millis(50));
    ensure!(
        child.try_wait().map_err(e2s)?.is_none(),
        "the child should ignore SIGTERM"
    );
    set.kill().map_err(e2s)?;
    ensure_eq!(child.wait().map_err(e2s)?.signal(), Some(libc::SIGKILL));
    set.remove().map_err(e2s)?;
    gone(&paths)?;
    // remove(): with a process still inside. A fresh set: on Linux 6.18 a cgroup2 directory
    // that was once killed through cgroup.kill SIGKILLs every child later cloned into it
    // (the kill sequence is sampled from the parent's cgroup, not the target's).
    let set = CgroupSet::create("test-gone", &limits, None).map_err(e2s)?;
    let paths = set.paths();
    let mut child = stubborn_child(&set)?;
    set.remove().map_err(e2s)?;
    gone(&paths)?;
    ensure_eq!(child.wait().map_err(e2s)?.signal(), Some(libc::SIGKILL));
    for p in &paths {
        let parent = p.parent().ok_or("no parent")?;
        ensure!(
            parent.is_dir(),
            "the shared {} was removed",
            parent.display()
        );
    }
    // Drop: the same, without being asked.
    let set = CgroupSet::create("test-gone", &limits, None).map_err(e2s)?;
    let paths = set.paths();
    let mut child = stubborn_child(&set)?;
    drop(set);
    gone(&paths)?;
    ensure_eq!(child.wait().map_err(e2s)?.signal(), Some(libc::SIGKILL));
    pass()
}

/// On a hybrid host, the v1-only code paths (no CLONE_INTO_CGROUP: the child joins every
/// directory itself; v1 freezer; kill by signals) run against the v1 hierarchies alone.
fn v1_only_paths() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let Some(legacy) = Layout::detect().map_err(e2s)?.without_unified() else {
        // Pure cgroup2: there is no v1 path to exercise here.
        print!("(pure cgroup2: nothing to do) ");
        return pass();
    };
    let limits = Limits {
        memory: Some(32 << 20),
        ..Limits::default()
    };
    let set = CgroupSet::create_in(&legacy, "test-v1", &limits, None).map_err(e2s)?;
    ensure!(
        set.into_cgroup_dir().is_none(),
        "a v1-only set has no cgroup2 dir"
    );
    let paths = set.paths();
    ensure_eq!(set.join_fds().len(), paths.len());
    let big = spawn_in(&set, || touch(128 << 20))?.wait().map_err(e2s)?;
    ensure_eq!(big.signal(), Some(libc::SIGKILL));
    if legacy
        .v1()
        .iter()
        .any(|h| h.controllers.iter().any(|c| c == "freezer"))
    {
        freeze_thaw_in(&set)?;
    }
    let _child = stubborn_child(&set)?;
    set.remove().map_err(e2s)?;
    gone(&paths)?;
    pass()
}

/// A set made by another process that then ends without removing it, as a killed cleave
/// does.
struct Elsewhere {
    maker: Child,
    paths: Vec<PathBuf>,
    /// With `occupied`: a process left running in the set (a sandbox that outlives cleave).
    occupant: Option<i32>,
    /// The maker waits until this is written to or closed.
    release: std::fs::File,
}

impl Elsewhere {
    /// Lets the maker end, without removing its set, and reaps it.
    fn end(&mut self) -> Result<(), String> {
        std::io::Write::write_all(&mut self.release, b"x").map_err(e2s)?;
        self.maker.wait().map_err(e2s)?;
        Ok(())
    }
}

impl Drop for Elsewhere {
    /// On a failed check: no process of the test outlives it.
    fn drop(&mut self) {
        let _ = self.maker.signal(libc::SIGKILL);
        let _ = self.maker.wait();
        if let Some(pid) = self.occupant {
            // SAFETY: kill(2) with a PID and a signal number.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn made_elsewhere(limits: &Limits, occupied: bool) -> Result<Elsewhere, String> {
    let (r, w) = pipe();
    let (hold_r, hold_w) = pipe();
    let (wfd, hfd, hold_wfd) = (w.as_raw_fd(), hold_r.as_raw_fd(), hold_w.as_raw_fd());
    let limits = limits.clone();
    let maker = Fork::new()
        .spawn(move || {
            // SAFETY: the maker's copy of the write end: the release is ours alone.
            unsafe { libc::close(hold_wfd) };
            let set = match CgroupSet::create("test-sweep", &limits, None) {
                Ok(set) => set,
                Err(e) => {
                    let text = format!("error {e}\n");
                    let _ = sys::write(wfd, text.as_bytes());
                    return 2;
                }
            };
            let mut report: String = set
                .paths()
                .iter()
                .map(|p| format!("{}\n", p.display()))
                .collect();
            if occupied {
                // In every cgroup of the set before the maker goes on.
                match stubborn_child(&set) {
                    Ok(c) => report += &format!("pid {}\n", c.id()),
                    Err(e) => report += &format!("error {e}\n"),
                }
            }
            report += "end\n";
            let _ = sys::write(wfd, report.as_bytes());
            let mut b = [0u8; 1];
            // SAFETY: a one-byte buffer.
            unsafe { libc::read(hfd, b.as_mut_ptr().cast(), 1) };
            // Gone without a word: no teardown.
            // SAFETY: ends this process at once.
            unsafe { libc::_exit(0) }
        })
        .map_err(e2s)?;
    drop((w, hold_r));
    // Read up to "end": the occupant holds a copy of the write end.
    let mut reader = std::io::BufReader::new(std::fs::File::from(r));
    let (mut paths, mut occupant) = (Vec::new(), None);
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line).map_err(e2s)? == 0 {
            return Err("the maker ended without a report".into());
        }
        let line = line.trim_end();
        if line == "end" {
            break;
        } else if let Some(e) = line.strip_prefix("error ") {
            return Err(format!("in the maker: {e}"));
        } else if let Some(pid) = line.strip_prefix("pid ") {
            occupant = pid.parse().ok();
        } else {
            paths.push(PathBuf::from(line));
        }
    }
    Ok(Elsewhere {
        maker,
        paths,
        occupant,
        release: std::fs::File::from(hold_w),
    })
}

/// A set whose maker was killed is removed by the next create, in every hierarchy, once it
/// is empty; never while its maker lives or a process runs in it.
fn swept_once_the_maker_is_gone() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    // The occupant of a set whose maker died becomes this process's child, to be reaped.
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let result = sweep_cases();
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0) };
    result
}

fn sweep_cases() -> TestResult {
    let limits = Limits {
        memory: Some(64 << 20),
        pids: Some(16),
        ..Limits::default()
    };
    // Each maker lives until all are made (a create sweeps what came before).
    let mut dead = made_elsewhere(&limits, false)?;
    let mut orphaned = made_elsewhere(&limits, true)?;
    let mut alive = made_elsewhere(&limits, false)?;
    let occupant = orphaned.occupant.ok_or("no occupant")?;
    let dead_pid = dead.maker.id();
    dead.end()?;
    orphaned.end()?;
    for p in dead.paths.iter().chain(&orphaned.paths).chain(&alive.paths) {
        ensure!(p.is_dir(), "{} missing", p.display());
    }
    let kept = |p: &PathBuf| p.is_dir();

    // The next create removes the dead maker's set, in every hierarchy, and leaves the
    // living maker's (empty) one and the one that still holds a process.
    let next = CgroupSet::create("test-sweep", &Limits::default(), None).map_err(e2s)?;
    for p in &dead.paths {
        ensure!(!kept(p), "{} of a dead maker left", p.display());
    }
    for p in orphaned.paths.iter().chain(&alive.paths) {
        ensure!(kept(p), "{} removed", p.display());
    }

    // Names that look alike: this process's PID with another start time (a reused PID: its
    // maker is gone), and two that cannot be judged here (the old form without the maker's
    // start time; another PID namespace).
    let here = next.paths()[0].parent().ok_or("no parent")?.to_path_buf();
    let fields: Vec<&str> = next.name().rsplitn(3, '.').collect();
    let [pidns, start, _] = fields[..] else {
        return Err(format!("leaf name {}", next.name()));
    };
    let (pidns, start): (u64, u64) = (pidns.parse().map_err(e2s)?, start.parse().map_err(e2s)?);
    let me = std::process::id();
    let reused = here.join(format!("test-sweep-{me}-999.{}.{pidns}", start + 1));
    let old_form = here.join(format!("test-sweep-{dead_pid}-999"));
    let foreign = here.join(format!("test-sweep-{dead_pid}-999.{start}.{}", pidns + 1));
    for p in [&reused, &old_form, &foreign] {
        std::fs::create_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }

    // The sandbox ends, the lingering maker ends: the next create sweeps both.
    alive.end()?;
    // SAFETY: kill(2) and waitpid(2) on our (adopted) child.
    unsafe {
        libc::kill(occupant, libc::SIGKILL);
        libc::waitpid(occupant, std::ptr::null_mut(), 0);
    }
    orphaned.occupant = None;
    let last = CgroupSet::create("test-sweep", &limits, None).map_err(e2s)?;
    for p in orphaned.paths.iter().chain(&alive.paths).chain([&reused]) {
        ensure!(!kept(p), "{} left", p.display());
    }
    for p in next.paths().iter().chain([&old_form, &foreign]) {
        ensure!(kept(p), "{} removed", p.display());
    }
    for set in [next, last] {
        set.remove().map_err(e2s)?;
    }
    for p in [&old_form, &foreign] {
        std::fs::remove_dir(p).map_err(e2s)?;
    }
    pass()
}

fn refusals() -> TestResult {
    if !is_root() {
        return skip("needs root to drop to an unprivileged user");
    }
    for name in ["", "a/b", ".hidden"] {
        match CgroupSet::create(name, &Limits::default(), None) {
            Err(Error::CgroupRequest(CgroupProblem::BadName(n))) if n == name => {}
            other => return Err(format!("name {name:?}: {other:?}")),
        }
    }
    let bad = Limits {
        cpu_weight: Some(0),
        ..Limits::default()
    };
    ensure!(
        matches!(
            CgroupSet::create("x", &bad, None),
            Err(Error::Limit(LimitProblem::CpuWeight(_)))
        ),
        "cpu weight 0 accepted"
    );
    if Layout::detect().map_err(e2s)?.unified().is_some() {
        match CgroupSet::create("x", &Limits::default(), Some("/tmp".as_ref())) {
            Err(e @ Error::CgroupRequest(CgroupProblem::ParentNotCgroup2(_))) => {
                ensure!(e.to_string().contains("/tmp"), "{e}")
            }
            other => return Err(format!("parent /tmp: {other:?}")),
        }
    }
    // Unprivileged, without a delegated parent: a clear refusal with advice.
    as_nobody(|| match CgroupSet::create("x", &Limits::default(), None) {
        Err(e @ Error::Cgroup { .. }) => {
            let (text, hint) = (e.to_string(), e.hint().unwrap_or_default());
            ensure!(text.contains("failed to create /"), "{text}");
            ensure!(hint.contains("cgroup parent"), "{text}: hint {hint:?}");
            Ok(())
        }
        other => Err(format!("as nobody: {other:?}")),
    })?;
    pass()
}

/// The layouts this host can show: the detected one, and on a hybrid host its v1 half alone
/// and its cgroup2 half alone (with only the limits the cgroup2 root offers controllers for).
fn layouts(full: &Limits) -> Result<Vec<(&'static str, Layout, Limits)>, String> {
    let detected = Layout::detect().map_err(e2s)?;
    let mut all = vec![("detected", detected.clone(), full.clone())];
    if let (Some(root), Some(legacy)) = (detected.unified(), detected.without_unified()) {
        all.push(("v1 alone", legacy, full.clone()));
        let offered = std::fs::read_to_string(root.join("cgroup.controllers")).map_err(e2s)?;
        let has = |c: &str| offered.split_whitespace().any(|o| o == c);
        let limits = Limits {
            memory: full.memory.filter(|_| has("memory")),
            cpus: full.cpus.filter(|_| has("cpu")),
            cpu_weight: full.cpu_weight.filter(|_| has("cpu")),
            pids: full.pids.filter(|_| has("pids")),
            ..Limits::default()
        };
        all.push((
            "cgroup2 alone",
            Layout::Unified {
                root: root.to_path_buf(),
            },
            limits,
        ));
    }
    Ok(all)
}

/// A set made at a path outlives its value; a fresh value opened by path (in this process
/// and in another one) reads its processes and limits, freezes, thaws, kills and removes it.
/// Runs on every layout the host can show.
fn create_at_then_open_elsewhere() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let full = Limits {
        memory: Some(48 << 20),
        cpus: Some(0.5),
        cpu_weight: Some(300),
        pids: Some(24),
        ..Limits::default()
    };
    let me = std::process::id();
    for (what, layout, limits) in layouts(&full)? {
        let path = CgroupPath::parse(&format!("/cleave-test-at-{me}/ctr-1")).map_err(e2s)?;
        at_cycle(&layout, &path, &limits).map_err(|e| format!("{what} layout: {e}"))?;
        // The shared directory above the leaf stays; the test removes its own.
        for root in layout
            .unified()
            .into_iter()
            .chain(layout.v1().iter().map(|h| h.mount.as_path()))
        {
            let _ = std::fs::remove_dir(root.join(format!("cleave-test-at-{me}")));
        }
    }
    pass()
}

fn at_cycle(layout: &Layout, path: &CgroupPath, limits: &Limits) -> Result<(), String> {
    let set = CgroupSet::create_at_in(layout, path, limits, None).map_err(e2s)?;
    let paths = set.paths();
    ensure!(!paths.is_empty(), "no directory made");
    for p in &paths {
        ensure!(
            p.ends_with("ctr-1") && p.is_dir(),
            "{} missing",
            p.display()
        );
    }
    ensure_eq!(set.name(), path.to_string());
    // The leaf is the set's own: a second create at the same path is refused.
    match CgroupSet::create_at_in(layout, path, limits, None) {
        Err(e) => ensure!(e.errno() == Some(libc::EEXIST), "second create_at: {e}"),
        Ok(_) => return Err("a second create_at at the same path succeeded".into()),
    }
    let mut child = stubborn_child(&set)?;
    let result = opened_elsewhere(layout, path, limits, set, &paths, &mut child);
    if result.is_err() {
        // Leave nothing behind: the child thawed and killed, the set removed.
        if let Ok(set) = CgroupSet::open_in(layout, path, None) {
            let _ = set.thaw();
            let _ = set.remove();
        }
        let _ = child.signal(libc::SIGKILL);
        let _ = child.wait();
    }
    result
}

fn opened_elsewhere(
    layout: &Layout,
    path: &CgroupPath,
    limits: &Limits,
    set: CgroupSet,
    paths: &[PathBuf],
    child: &mut Child,
) -> Result<(), String> {
    let pid = child.id();
    // Dropped: the cgroups and the process stay (a runtime's create exits here).
    drop(set);
    for p in paths {
        ensure!(p.is_dir(), "{} removed with the value", p.display());
    }
    ensure!(
        child.try_wait().map_err(e2s)?.is_none(),
        "the child was killed with the value"
    );
    // A sweep by an ordinary create leaves them alone.
    CgroupSet::create_in(layout, "test-at-sweep", &Limits::default(), None)
        .map_err(e2s)?
        .remove()
        .map_err(e2s)?;

    // Another process opens the set by path and freezes it.
    let text = path.to_string();
    let other_layout = layout.clone();
    let (r, w) = pipe();
    let wfd = w.as_raw_fd();
    let mut other = Fork::new()
        .spawn(move || {
            let report = match CgroupPath::parse(&text)
                .and_then(|p| CgroupSet::open_in(&other_layout, &p, None))
                .and_then(|set| {
                    set.freeze()?;
                    set.processes()
                }) {
                Ok(pids) => format!("{pids:?}"),
                Err(e) => format!("error {e}"),
            };
            let _ = sys::write(wfd, report.as_bytes());
            0
        })
        .map_err(e2s)?;
    drop(w);
    let mut report = String::new();
    std::fs::File::from(r)
        .read_to_string(&mut report)
        .map_err(e2s)?;
    ensure_eq!(other.wait().map_err(e2s)?, ExitStatus::Exited(0));
    ensure_eq!(report, format!("[{pid}]"));

    // A fresh value here sees what the other process did.
    let set = CgroupSet::open_in(layout, path, None).map_err(e2s)?;
    ensure_eq!(set.paths(), paths);
    ensure!(
        set.frozen().map_err(e2s)?,
        "frozen by the other process, not seen as frozen"
    );
    set.thaw().map_err(e2s)?;
    ensure!(!set.frozen().map_err(e2s)?, "still frozen after thaw");
    ensure_eq!(set.processes().map_err(e2s)?, vec![pid]);
    ensure_eq!(set.limits().map_err(e2s)?, limits.clone());
    // An update through the opened set is what the kernel then holds.
    if limits.pids.is_some() {
        let more = Limits {
            pids: Some(48),
            ..limits.clone()
        };
        set.set_limits(&more).map_err(e2s)?;
        ensure_eq!(set.limits().map_err(e2s)?, more);
    }
    set.kill().map_err(e2s)?;
    ensure_eq!(child.wait().map_err(e2s)?.signal(), Some(libc::SIGKILL));
    ensure!(
        set.processes().map_err(e2s)?.is_empty(),
        "processes left after kill"
    );
    set.remove().map_err(e2s)?;
    gone(paths)?;
    match CgroupSet::open_in(layout, path, None) {
        Err(e) => ensure!(e.errno() == Some(libc::ENOENT), "open after remove: {e}"),
        Ok(s) => return Err(format!("opened a removed set: {:?}", s.paths())),
    }
    Ok(())
}

/// Below a delegated cgroup2 parent: the cgroup2 directory is made there, found there again,
/// and removed without touching the parent.
fn create_at_under_a_delegated_parent() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let layout = Layout::detect().map_err(e2s)?;
    let Some(root) = layout.unified() else {
        print!("(no cgroup2 hierarchy: nothing to do) ");
        return pass();
    };
    let parent = root.join(format!("cleave-test-parent-{}", std::process::id()));
    std::fs::create_dir(&parent).map_err(e2s)?;
    let result = (|| {
        let path = CgroupPath::parse("ctr").map_err(e2s)?;
        let set = CgroupSet::create_at(&path, &Limits::default(), Some(&parent)).map_err(e2s)?;
        let dir = parent.join("ctr");
        ensure!(
            set.paths().contains(&dir),
            "{:?} lacks {}",
            set.paths(),
            dir.display()
        );
        let mut child = stubborn_child(&set)?;
        drop(set);
        let set = CgroupSet::open(&path, Some(&parent)).map_err(e2s)?;
        ensure_eq!(set.processes().map_err(e2s)?, vec![child.id()]);
        set.remove().map_err(e2s)?;
        ensure_eq!(child.wait().map_err(e2s)?.signal(), Some(libc::SIGKILL));
        ensure!(
            !dir.exists() && parent.is_dir(),
            "leaf left or parent removed"
        );
        Ok(())
    })();
    let _ = std::fs::remove_dir(&parent);
    result?;
    pass()
}

fn device_rule(
    allow: bool,
    kind: cgroup::DeviceKind,
    major: u32,
    minor: u32,
    access: &str,
) -> cgroup::DeviceRule {
    cgroup::DeviceRule {
        allow,
        kind,
        major: Some(major),
        minor: Some(minor),
        access: cgroup::DeviceAccess::parse(access).expect("access"),
    }
}

/// Device rules are the kernel's: a child (root, every capability) in a set that allows
/// only /dev/null (c 1:3 rw) opens it, is refused /dev/zero (c 1:5) and cannot mknod a
/// block device (loop0, b 7:0) at all.
fn device_rules_enforced() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let layout = Layout::detect().map_err(e2s)?;
    if !matches!(layout.home("devices"), Some(cgroup::Home::V1(_))) {
        return skip("no cgroup v1 devices controller on this host");
    }
    use cgroup::DeviceKind::Char;
    let limits = Limits {
        devices: Some(vec![
            device_rule(true, Char, 1, 3, "rwm"),
            device_rule(true, Char, 1, 5, "rwm"),
            // A later deny wins over the allow before it.
            device_rule(false, Char, 1, 5, "rw"),
        ]),
        ..Limits::default()
    };
    let set = CgroupSet::create("test-devices", &limits, None).map_err(e2s)?;
    let dir = std::env::temp_dir().join(format!("cleave-dev-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(e2s)?;
    let node =
        std::ffi::CString::new(dir.join("disk").as_os_str().as_encoded_bytes()).map_err(e2s)?;
    let mut child = spawn_in(&set, move || {
        let open = |p: &[u8]| {
            // SAFETY: NUL-terminated path.
            let fd = unsafe { libc::open(p.as_ptr().cast(), libc::O_RDWR) };
            if fd >= 0 {
                // SAFETY: the fd just opened, closed once.
                unsafe { libc::close(fd) };
                0
            } else {
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
            }
        };
        if open(b"/dev/null\0") != 0 {
            return 10;
        }
        if open(b"/dev/zero\0") != libc::EPERM {
            return 11;
        }
        // SAFETY: NUL-terminated path.
        let r = unsafe { libc::mknod(node.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) };
        if r == 0 {
            return 12;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
            return 13;
        }
        0
    })?;
    let status = child.wait().map_err(e2s)?;
    let _ = std::fs::remove_dir_all(&dir);
    set.remove().map_err(e2s)?;
    ensure_eq!(status, ExitStatus::Exited(0));
    pass()
}

/// On a layout without the v1 devices controller (pure cgroup2: no eBPF filter yet), rules
/// are refused before anything is made, never left unenforced.
fn devices_refused_without_v1() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let layout = Layout::detect().map_err(e2s)?;
    let Some(root) = layout.unified() else {
        return skip("no cgroup2 hierarchy");
    };
    let unified = Layout::Unified {
        root: root.to_path_buf(),
    };
    let limits = Limits {
        devices: Some(vec![device_rule(
            true,
            cgroup::DeviceKind::Char,
            1,
            3,
            "rwm",
        )]),
        ..Limits::default()
    };
    let path =
        CgroupPath::parse(&format!("/cleave-test-nodev-{}", std::process::id())).map_err(e2s)?;
    match CgroupSet::create_at_in(&unified, &path, &limits, None) {
        Err(Error::CgroupRequest(CgroupProblem::DevicesWithoutV1)) => {}
        other => return Err(format!("devices on cgroup2 alone: {other:?}")),
    }
    ensure!(
        !root.join(path.as_path()).exists(),
        "a directory was left behind"
    );
    pass()
}

/// A memory+swap total lands in v1 memory.memsw.limit_in_bytes (or cgroup2 memory.swap.max
/// as the swap beyond memory), and growing then shrinking both through set_limits works in
/// either order the kernel needs.
fn memory_swap_total() -> TestResult {
    if !is_root() {
        return skip("needs root to create cgroups");
    }
    let first = Limits {
        memory: Some(32 << 20),
        memory_swap: Some(cgroup::Swap::Total(64 << 20)),
        ..Limits::default()
    };
    ensure!(
        matches!(
            Limits {
                memory_swap: Some(cgroup::Swap::Total(16 << 20)),
                ..first.clone()
            }
            .problem(),
            Some(LimitProblem::SwapBelowMemory { .. })
        ),
        "a total below memory accepted"
    );
    let set = CgroupSet::create("test-swap", &first, None).map_err(e2s)?;
    let dir = set.paths().into_iter().find(|p| {
        p.join("memory.memsw.limit_in_bytes").exists() || p.join("memory.swap.max").exists()
    });
    let read = |d: &PathBuf| -> (String, String) {
        let r = |f: &str| {
            std::fs::read_to_string(d.join(f))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        if d.join("memory.memsw.limit_in_bytes").exists() {
            (r("memory.limit_in_bytes"), r("memory.memsw.limit_in_bytes"))
        } else {
            (r("memory.max"), r("memory.swap.max"))
        }
    };
    let result = (|| -> Result<(), String> {
        let Some(d) = dir else {
            return Ok(()); // no swap accounting: nothing to check beyond acceptance
        };
        let v1 = d.join("memory.memsw.limit_in_bytes").exists();
        let want = |m: u64, t: u64| {
            if v1 {
                (m.to_string(), t.to_string())
            } else {
                (m.to_string(), (t - m).to_string())
            }
        };
        ensure_eq!(read(&d), want(32 << 20, 64 << 20));
        // Growing past the old total: the total must go first.
        let grow = Limits {
            memory: Some(128 << 20),
            memory_swap: Some(cgroup::Swap::Total(256 << 20)),
            ..Limits::default()
        };
        set.set_limits(&grow).map_err(e2s)?;
        ensure_eq!(read(&d), want(128 << 20, 256 << 20));
        // Shrinking below the old limit: the limit must go first.
        let shrink = Limits {
            memory: Some(16 << 20),
            memory_swap: Some(cgroup::Swap::Total(16 << 20)),
            ..Limits::default()
        };
        set.set_limits(&shrink).map_err(e2s)?;
        ensure_eq!(read(&d), want(16 << 20, 16 << 20));
        Ok(())
    })();
    set.remove().map_err(e2s)?;
    result?;
    pass()
}
