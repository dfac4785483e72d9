//! Cgroups for a sandbox on pure cgroup2, hybrid (cgroup2 beside v1 controllers) and v1-only
//! hosts: one [`CgroupSet`] per sandbox holds a cgroup2 directory when a cgroup2 hierarchy is
//! mounted (the child starts there through CLONE_INTO_CGROUP) and one directory per cgroup
//! v1 hierarchy whose controller the [`Limits`] need (the child joins those itself, with
//! [`join`], before it execs).
//!
//! ```no_run
//! use cleave::cgroup::{self, CgroupSet, Limits};
//! use cleave::Fork;
//! let limits = Limits { memory: Some(cgroup::parse_size("64M")?), pids: Some(32), ..Limits::default() };
//! let set = CgroupSet::create("demo", &limits, None)?;
//! let fds = set.join_fds();
//! let mut fork = Fork::new();
//! if let Some(dir) = set.into_cgroup_dir() {
//!     fork.into_cgroup(dir).expect("dup");
//! }
//! let mut child = fork.spawn(move || {
//!     if cgroup::join(&fds).is_err() {
//!         return 125;
//!     }
//!     0 // the work, limited
//! })?;
//! child.wait()?;
//! set.remove()?;
//! # Ok::<(), cleave::Error>(())
//! ```
//!
//! A container's cgroups outlive the process that made them: [`CgroupSet::create_at`] makes
//! them at the path its configuration names, and a later process finds them again with
//! [`CgroupSet::open`] to freeze, kill, read or remove them.
//!
//! ```no_run
//! use cleave::cgroup::{CgroupPath, CgroupSet, Limits};
//! let path = CgroupPath::parse("/machine/ctr-1")?;
//! let limits = Limits { pids: Some(64), ..Limits::default() };
//! drop(CgroupSet::create_at(&path, &limits, None)?); // the cgroups stay
//! // Later, in another process:
//! let set = CgroupSet::open(&path, None)?;
//! set.freeze()?;
//! println!("{:?} frozen: {}", set.processes()?, set.frozen()?);
//! set.remove()?;
//! # Ok::<(), cleave::Error>(())
//! ```
mod at;
mod create;
mod hierarchies;
mod layout;
mod own;
mod path;
mod set;
mod sweep;
mod tune;

pub(crate) use layout::{cgroup_mounts, CgroupMount};
pub use layout::{Home, Layout, V1Hierarchy};
pub use own::own_cgroup2_dir;
pub use path::{CgroupPath, CgroupPathError};
pub use set::CgroupSet;
pub use tune::fill_v1_cpuset;

use crate::error::{Error, LimitProblem, RangeError, Result};
use std::os::fd::RawFd;

/// Resource limits for a [`CgroupSet`]; `None` leaves a resource unlimited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// Memory in bytes (cgroup2 `memory.max`, v1 `memory.limit_in_bytes`), at least
    /// [`MIN_MEMORY`]; swap is not allowed beyond it, so going over means the OOM killer,
    /// not swapping.
    pub memory: Option<u64>,
    /// CPU bandwidth as a fraction of one CPU (0.75, or 2.0 for two CPUs' worth): a quota
    /// per 100 ms period (cgroup2 `cpu.max`, v1 `cpu.cfs_quota_us`), [`MIN_CPUS`] to
    /// [`MAX_CPUS`].
    pub cpus: Option<f64>,
    /// Relative CPU weight on the cgroup2 scale, 1..=10000, default 100 (cgroup2
    /// `cpu.weight`; v1 `cpu.shares` through [`weight_to_shares`]).
    pub cpu_weight: Option<u64>,
    /// Maximum number of tasks (`pids.max`), at least 1.
    pub pids: Option<u64>,
    /// Memory and swap together (v1 `memory.memsw.limit_in_bytes`; cgroup2
    /// `memory.swap.max` = total - memory), at least `memory`. `None` keeps the rule above:
    /// no swap beyond `memory`. Where the kernel does not account swap (no such file),
    /// nothing is written: it cannot enforce what it does not count.
    pub memory_swap: Option<Swap>,
    /// Device access rules, applied in order after denying every device (v1 `devices.deny`
    /// `a`, then each rule to `devices.allow` or `devices.deny`). Needs the v1 devices
    /// controller: on a host without it the set is refused
    /// ([`crate::error::CgroupProblem::DevicesWithoutV1`]), never left unenforced.
    pub devices: Option<Vec<DeviceRule>>,
    /// The CFS period for `cpus`, in microseconds, 1000 to 1000000 (v1 `cpu.cfs_period_us`,
    /// cgroup2 the second field of `cpu.max`); `None` is [`CPU_PERIOD_US`]. The quota is
    /// `cpus` of it.
    pub cpu_period: Option<u64>,
    /// The v1 `cpu.shares` to write as given (2 to 262144), in place of `cpu_weight`
    /// converted by [`weight_to_shares`]: a container configuration speaks shares, and reads
    /// them back. cgroup2 writes `cpu_weight` and ignores this.
    pub cpu_shares: Option<u64>,
    /// The CPUs the processes may run on, as the kernel lists them (`0-3,6`): `cpuset.cpus`.
    /// A new v1 cpuset cgroup starts with none: every directory of the path that has none
    /// gets its parent's first.
    pub cpuset_cpus: Option<String>,
    /// The memory nodes the processes may use (`0`, `0-1`): `cpuset.mems`, filled as
    /// `cpuset_cpus` is.
    pub cpuset_mems: Option<String>,
    /// A memory amount in bytes the kernel reclaims from last under pressure: v1
    /// `memory.soft_limit_in_bytes`, cgroup2 `memory.low`.
    pub memory_reservation: Option<u64>,
    /// How readily the kernel swaps the set's memory, 0 to 100: v1 `memory.swappiness`.
    /// cgroup2 has no per-cgroup swappiness: nothing is written there.
    pub memory_swappiness: Option<u64>,
    /// The OOM killer leaves the set's processes alone (they wait for memory instead): v1
    /// `memory.oom_control` 1. cgroup2 cannot disable it: nothing is written there.
    pub oom_kill_disable: bool,
}

/// A memory+swap total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swap {
    /// No limit on swap (v1 `-1`, cgroup2 `max`).
    Unlimited,
    /// Memory and swap together, in bytes.
    Total(u64),
}

/// Which devices a [`DeviceRule`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// Every device, character and block (`a`).
    All,
    /// Character devices (`c`).
    Char,
    /// Block devices (`b`).
    Block,
}

/// What a [`DeviceRule`] allows or denies: read, write, mknod (at least one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceAccess {
    /// Open for reading (`r`).
    pub read: bool,
    /// Open for writing (`w`).
    pub write: bool,
    /// Create the node with mknod (`m`).
    pub mknod: bool,
}

impl DeviceAccess {
    /// Read, write and mknod.
    pub const ALL: DeviceAccess = DeviceAccess {
        read: true,
        write: true,
        mknod: true,
    };

    /// Reads `rwm` or any non-empty subset; an empty string means all three (as the runtime
    /// specification's `access` does when left out).
    pub fn parse(s: &str) -> std::result::Result<DeviceAccess, LimitProblem> {
        if s.is_empty() {
            return Ok(DeviceAccess::ALL);
        }
        let mut a = DeviceAccess {
            read: false,
            write: false,
            mknod: false,
        };
        for c in s.chars() {
            match c {
                'r' => a.read = true,
                'w' => a.write = true,
                'm' => a.mknod = true,
                _ => return Err(LimitProblem::DeviceAccess(s.to_string())),
            }
        }
        Ok(a)
    }
}

impl std::fmt::Display for DeviceAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (on, c) in [(self.read, 'r'), (self.write, 'w'), (self.mknod, 'm')] {
            if on {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One device access rule: allow or deny `access` to the devices of `kind` with this major
/// and minor number (`None`: any).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    /// Allow (else deny).
    pub allow: bool,
    /// Character, block or all devices.
    pub kind: DeviceKind,
    /// The major number; `None` for any.
    pub major: Option<u32>,
    /// The minor number; `None` for any.
    pub minor: Option<u32>,
    /// What is allowed or denied.
    pub access: DeviceAccess,
}

impl DeviceRule {
    /// The rule as v1 `devices.allow`/`devices.deny` lines: `c 1:3 rwm`, `b *:* m`, `a`.
    /// The kernel reads a line starting `a` as every device with every access whatever
    /// follows, so a rule for all kinds with a number or less than rwm becomes two lines,
    /// one for character and one for block devices.
    pub fn v1_lines(&self) -> Vec<String> {
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let line = |k: char| {
            format!(
                "{k} {}:{} {}",
                num(self.major),
                num(self.minor),
                self.access
            )
        };
        match self.kind {
            DeviceKind::All
                if self.major.is_none()
                    && self.minor.is_none()
                    && self.access == DeviceAccess::ALL =>
            {
                vec!["a".into()]
            }
            DeviceKind::All => vec![line('c'), line('b')],
            DeviceKind::Char => vec![line('c')],
            DeviceKind::Block => vec![line('b')],
        }
    }
}

impl Limits {
    /// No limit is set.
    pub fn is_empty(&self) -> bool {
        self.memory.is_none()
            && self.cpus.is_none()
            && self.cpu_weight.is_none()
            && self.pids.is_none()
            && self.memory_swap.is_none()
            && self.devices.is_none()
            && self.cpu_period.is_none()
            && self.cpu_shares.is_none()
            && self.cpuset_cpus.is_none()
            && self.cpuset_mems.is_none()
            && self.memory_reservation.is_none()
            && self.memory_swappiness.is_none()
            && !self.oom_kill_disable
    }

    /// Whether the memory controller is needed.
    pub(crate) fn uses_memory(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swappiness.is_some()
            || self.oom_kill_disable
    }

    /// The controllers these limits need, in a fixed order.
    pub(crate) fn controllers(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.uses_memory() {
            v.push("memory");
        }
        if self.cpus.is_some()
            || self.cpu_weight.is_some()
            || self.cpu_period.is_some()
            || self.cpu_shares.is_some()
        {
            v.push("cpu");
        }
        if self.cpuset_cpus.is_some() || self.cpuset_mems.is_some() {
            v.push("cpuset");
        }
        if self.pids.is_some() {
            v.push("pids");
        }
        if self.devices.is_some() {
            v.push("devices");
        }
        v
    }

    /// Refuses values the kernel would refuse or silently clamp.
    pub(crate) fn validate(&self) -> Result<()> {
        self.problem().map_or(Ok(()), |p| Err(p.into()))
    }

    /// The first value the kernel would refuse or silently clamp, if any.
    pub fn problem(&self) -> Option<LimitProblem> {
        if let Some(Err(e)) = self.memory.map(check_memory) {
            return Some(LimitProblem::Memory(e));
        }
        if let Some(Err(e)) = self.cpus.map(check_cpus) {
            return Some(LimitProblem::Cpus(e));
        }
        if let Some(Err(e)) = self.cpu_weight.map(check_cpu_weight) {
            return Some(LimitProblem::CpuWeight(e));
        }
        if self.pids == Some(0) {
            return Some(LimitProblem::NoPids);
        }
        if let Some(Err(e)) = self.cpu_period.map(check_cpu_period) {
            return Some(LimitProblem::CpuPeriod(e));
        }
        if let Some(s) = self.cpu_shares.filter(|s| !(2..=262_144).contains(s)) {
            return Some(LimitProblem::CpuShares(RangeError::new(
                "CPU shares",
                s,
                "give shares from 2 to 262144 (1024 is the default share)",
            )));
        }
        for list in [&self.cpuset_cpus, &self.cpuset_mems].into_iter().flatten() {
            if !is_cpu_list(list) {
                return Some(LimitProblem::CpuList(list.clone()));
            }
        }
        if let Some(s) = self.memory_swappiness.filter(|s| *s > 100) {
            return Some(LimitProblem::Swappiness(RangeError::new(
                "swappiness",
                s,
                "give a swappiness from 0 to 100",
            )));
        }
        if let (Some(Swap::Total(total)), Some(memory)) = (self.memory_swap, self.memory) {
            if total < memory {
                return Some(LimitProblem::SwapBelowMemory { total, memory });
            }
        }
        None
    }
}

/// The CFS period cleave uses, in microseconds (100 ms, the kernel's default).
pub const CPU_PERIOD_US: u64 = 100_000;

/// The largest CFS quota the kernel takes, in microseconds: `max_cfs_runtime`, 2^44 - 1
/// (kernel/sched/core.c, `tg_set_cfs_bandwidth`; EINVAL above it). Measured on 6.18:
/// cpu.cfs_quota_us takes 17592186044415 and refuses 17592186044416.
pub const MAX_CPU_QUOTA_US: u64 = (1 << 44) - 1;

/// The fewest CPUs a limit may give: 1 ms per 100 ms period, the kernel's smallest quota.
pub const MIN_CPUS: f64 = 0.01;

/// The most CPUs a limit may give: [`MAX_CPU_QUOTA_US`] per [`CPU_PERIOD_US`], whole
/// (175921860). A quota above the machine's CPUs is valid (it never throttles) and
/// configurations move between machines, so cleave refuses only what cpu.max cannot hold.
pub const MAX_CPUS: f64 = (MAX_CPU_QUOTA_US / CPU_PERIOD_US) as f64;

/// The smallest memory limit, in bytes: 1 MiB. The kernel counts memory.max in pages and
/// charges page tables, kernel stacks and the program's first pages to it; measured on
/// 6.18, 64 KiB kills /bin/true before it runs and `--memory 1` fails its exec with ENOMEM,
/// while a sandbox preset's init and a shell start at 1 MiB. Anything lower is a mistake
/// (1 for 1G, say), never a limit that lets a program run.
pub const MIN_MEMORY: u64 = 1 << 20;

/// Checks a memory limit in bytes: at least [`MIN_MEMORY`].
pub fn check_memory(bytes: u64) -> std::result::Result<(), RangeError> {
    if bytes >= MIN_MEMORY {
        return Ok(());
    }
    Err(RangeError::new(
        "memory limit",
        bytes,
        format!("below the minimum of 1M ({MIN_MEMORY} bytes), in which no program starts; give e.g. 64M"),
    ))
}

/// Checks a CPU limit in CPUs: a number from [`MIN_CPUS`] to [`MAX_CPUS`].
pub fn check_cpus(cpus: f64) -> std::result::Result<(), RangeError> {
    if cpus.is_finite() && (MIN_CPUS..=MAX_CPUS).contains(&cpus) {
        return Ok(());
    }
    Err(RangeError::new(
        "CPU limit",
        format!("{cpus:?}"),
        format!(
            "give a number of CPUs from {MIN_CPUS} to {MAX_CPUS} (1 ms to the largest quota cpu.max takes, per 100 ms period), e.g. 0.5 or 2"
        ),
    ))
}

/// The cgroup2 `cpu.weight` range (kernel/sched/core.c `CGROUP_WEIGHT_MIN..=MAX`).
pub const CPU_WEIGHT: std::ops::RangeInclusive<u64> = 1..=10000;

/// Checks a CPU weight: within [`CPU_WEIGHT`] (100 is the kernel's default).
pub fn check_cpu_weight(weight: u64) -> std::result::Result<(), RangeError> {
    if CPU_WEIGHT.contains(&weight) {
        return Ok(());
    }
    Err(RangeError::new(
        "CPU weight",
        weight,
        "give a weight from 1 to 10000 (100 is the default share)",
    ))
}

/// The quota per [`CPU_PERIOD_US`] for `cpus` CPUs, in microseconds (at least 1 ms, the
/// kernel's minimum).
pub fn cpu_quota_us(cpus: f64) -> u64 {
    cpu_quota_in(cpus, CPU_PERIOD_US)
}

/// The quota per `period` microseconds for `cpus` CPUs (at least 1 ms).
pub fn cpu_quota_in(cpus: f64, period: u64) -> u64 {
    ((cpus * period as f64).round() as u64).max(1000)
}

/// The shortest and longest CFS periods the kernel takes, in microseconds: 1 ms and 1 s
/// (kernel/sched/core.c, `min_cfs_quota_period` and `max_cfs_quota_period`).
pub const CPU_PERIODS_US: std::ops::RangeInclusive<u64> = 1000..=1_000_000;

/// Checks a CFS period in microseconds: within [`CPU_PERIODS_US`].
pub fn check_cpu_period(period: u64) -> std::result::Result<(), RangeError> {
    if CPU_PERIODS_US.contains(&period) {
        return Ok(());
    }
    Err(RangeError::new(
        "CPU period",
        period,
        "give a period from 1000 to 1000000 microseconds (100000 is the default)",
    ))
}

/// Whether `s` is a list as `cpuset.cpus` takes it: numbers and ranges (`0-3,6`), at least
/// one.
pub fn is_cpu_list(s: &str) -> bool {
    let number = |n: &str| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit());
    !s.is_empty()
        && s.split(',').all(|part| match part.split_once('-') {
            Some((a, b)) => {
                number(a) && number(b) && a.parse::<u32>().ok() <= b.parse::<u32>().ok()
            }
            None => number(part),
        })
}

/// Reads a CPU fraction such as `0.5` or `2` (CPUs' worth of time) and checks it as
/// [`Limits`] checks `cpus`.
pub fn parse_cpus(s: &str) -> Result<f64> {
    let cpus: f64 = s
        .trim()
        .parse()
        .map_err(|_| LimitProblem::CpuFraction(s.to_string()))?;
    Limits {
        cpus: Some(cpus),
        ..Limits::default()
    }
    .validate()?;
    Ok(cpus)
}

/// Parses a size in bytes with an optional binary unit: `4096`, `100k`, `512M`, `1G`, `2T`
/// (also `512MiB`, `512mb`): k = 1024, M = 1024², G = 1024³, T = 1024⁴. With a unit the
/// number may have a decimal part (`1.5G`, rounded down to a whole byte); bytes are whole.
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = || Error::from(LimitProblem::Size(s.to_string()));
    let t = s.trim();
    let whole_len = t.bytes().take_while(u8::is_ascii_digit).count();
    let (whole, rest) = t.split_at(whole_len);
    let (fraction, unit) = match rest.strip_prefix('.') {
        Some(after) => {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return Err(bad());
            }
            after.split_at(n)
        }
        None => ("", rest),
    };
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let unit = unit.to_ascii_lowercase();
    // "ib" alone (e.g. "12ib") is nonsense; "b" alone means bytes.
    if unit == "ib" {
        return Err(bad());
    }
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(bad()),
    };
    if !fraction.is_empty() && shift == 0 {
        return Err(bad());
    }
    // fraction / 10^len of a unit, rounded down; at most 19 digits are read exactly.
    let digits = &fraction[..fraction.len().min(19)];
    let part = if digits.is_empty() {
        0
    } else {
        let num: u128 = digits.parse().map_err(|_| bad())?;
        (num << shift) / 10u128.pow(digits.len() as u32)
    };
    let total = (u128::from(whole) << shift) + part;
    u64::try_from(total).map_err(|_| bad())
}

/// Converts a cgroup2 `cpu.weight` (1..=10000, default 100) to a cgroup v1 `cpu.shares`
/// (2..=262144, default 1024).
///
/// The map is piecewise power-law, i.e. linear between the logarithms:
/// `shares = 2 · 512^(log w / log 100)` for `w ≤ 100` and
/// `shares = 1024 · 256^(log(w/100) / log 100)` above, rounded. It sends the ends of one
/// range to the ends of the other (1 → 2, 10000 → 262144) and the default to the default
/// (100 → 1024), and keeps ratios close to the weights' (exponent 1.35 below 100, 1.20 above:
/// weight 200 against 100 gives shares 2359 against 1024). A linear map through both ends
/// would send 100 to 2597, making every default-weight group heavier than v1's own default.
pub fn weight_to_shares(weight: u64) -> u64 {
    let w = weight.clamp(1, 10_000) as f64;
    let decades = 100f64.ln();
    let shares = if w <= 100.0 {
        2.0 * 512f64.powf(w.ln() / decades)
    } else {
        1024.0 * 256f64.powf((w / 100.0).ln() / decades)
    };
    (shares.round() as u64).clamp(2, 262_144)
}

/// The cgroup2 `cpu.weight` whose [`weight_to_shares`] is nearest to a v1 `cpu.shares`: the
/// weight that was written, for shares that [`weight_to_shares`] made (the map is strictly
/// increasing).
pub fn shares_to_weight(shares: u64) -> u64 {
    // The first weight whose shares reach `shares`, then whichever neighbour is nearer.
    let (mut lo, mut hi) = (1u64, 10_000u64);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if weight_to_shares(mid) < shares {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if lo > 1 && shares.abs_diff(weight_to_shares(lo - 1)) < weight_to_shares(lo).abs_diff(shares) {
        lo - 1
    } else {
        lo
    }
}

/// The file of a v1 cgroup a fresh child joins through: `tasks`, written `0` (the calling
/// thread; a fresh child has no other). Moving one's own thread needs no global lock, where
/// any write to `cgroup.procs` takes cgroup_threadgroup_rwsem for writing and waits for an
/// RCU grace period: 9-11 ms a write on this project's machine, against 0.25 ms (kernel
/// 6.18, hybrid hierarchy; cgroup_procs_write_start in kernel/cgroup/cgroup.c).
pub(crate) const V1_JOIN_FILE: &str = "tasks";

/// Joins the cgroups behind `fds` ([`CgroupSet::join_fds`]) by writing `"0"` (the calling
/// thread, which in a fresh child is the whole process) to each v1 `tasks` file with one
/// raw write(2) apiece.
///
/// Safe to call in a freshly cloned child (no allocation, no lock; DESIGN.md section 3).
/// Returns the first errno: `EAGAIN`/`ENOMEM` would mean a limit is already exceeded,
/// `EACCES` a permission problem.
pub fn join(fds: &[RawFd]) -> core::result::Result<(), i32> {
    for &fd in fds {
        cleave_child::sys::write(fd, b"0")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("100k").unwrap(), 100 * 1024);
        assert_eq!(parse_size("100K").unwrap(), 100 * 1024);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("512mb").unwrap(), 512 << 20);
        assert_eq!(parse_size(" 1G ").unwrap(), 1 << 30);
        assert_eq!(parse_size("2T").unwrap(), 2 << 40);
        assert_eq!(parse_size("12b").unwrap(), 12);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("0.5k").unwrap(), 512);
        assert_eq!(parse_size("2.25MiB").unwrap(), 9 << 18);
        for bad in [
            "",
            "M",
            "-1",
            "1.5",
            "1.G",
            ".5G",
            "12x",
            "1 G",
            "12ib",
            "1GG",
            "99999999999T",
            "0x10",
        ] {
            match parse_size(bad) {
                Err(e @ Error::Limit(LimitProblem::Size(_))) => {
                    assert!(e.to_string().contains("512M"), "{e}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn shares() {
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(100), 1024);
        assert_eq!(weight_to_shares(10_000), 262_144);
        assert_eq!(weight_to_shares(200), 2359);
        assert_eq!(weight_to_shares(50), 400);
        assert_eq!(weight_to_shares(0), 2);
        assert_eq!(weight_to_shares(20_000), 262_144);
        let all: Vec<u64> = (1..=10_000).map(weight_to_shares).collect();
        assert!(all.windows(2).all(|p| p[0] < p[1]), "strictly increasing");
        for w in 1..=10_000 {
            assert_eq!(shares_to_weight(weight_to_shares(w)), w);
        }
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(0), 1);
        assert_eq!(shares_to_weight(1 << 20), 10_000);
        assert!(all.iter().all(|s| (2..=262_144).contains(s)));
    }

    #[test]
    fn limits() {
        assert!(Limits::default().is_empty());
        let l = Limits {
            cpu_weight: Some(50),
            pids: Some(4),
            ..Limits::default()
        };
        assert!(!l.is_empty());
        assert_eq!(l.controllers(), ["cpu", "pids"]);
        assert!(l.validate().is_ok());
        for bad in [
            Limits {
                cpu_weight: Some(0),
                ..Limits::default()
            },
            Limits {
                cpu_weight: Some(10_001),
                ..Limits::default()
            },
            Limits {
                cpus: Some(f64::NAN),
                ..Limits::default()
            },
            Limits {
                cpus: Some(0.0),
                ..Limits::default()
            },
            Limits {
                pids: Some(0),
                ..Limits::default()
            },
            Limits {
                memory: Some(0),
                ..Limits::default()
            },
            Limits {
                memory: Some(MIN_MEMORY - 1),
                ..Limits::default()
            },
            Limits {
                cpus: Some(1e308),
                ..Limits::default()
            },
            Limits {
                cpus: Some(f64::INFINITY),
                ..Limits::default()
            },
            Limits {
                cpus: Some(-1.0),
                ..Limits::default()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Limit(_))), "{bad:?}");
        }
        assert!(check_memory(MIN_MEMORY).is_ok());
        let e = check_memory(1).unwrap_err();
        assert!(e.why.contains("minimum of 1M"), "{e}");
        assert!(check_cpus(MIN_CPUS).is_ok() && check_cpus(MAX_CPUS).is_ok());
        assert_eq!(MAX_CPUS, 175_921_860.0);
        assert!(cpu_quota_us(MAX_CPUS) <= MAX_CPU_QUOTA_US);
        for bad in [
            0.0,
            0.009,
            -1.0,
            MAX_CPUS + 1.0,
            1e308,
            f64::NAN,
            f64::NEG_INFINITY,
        ] {
            let e = check_cpus(bad).unwrap_err();
            assert!(e.why.contains("from 0.01 to 175921860"), "{bad}: {e}");
        }
        assert_eq!(check_cpus(1e308).unwrap_err().value, "1e308");
        for ok in [1, 100, 10_000] {
            assert!(check_cpu_weight(ok).is_ok());
        }
        for bad in [0, 10_001, u64::MAX] {
            let e = check_cpu_weight(bad).unwrap_err();
            assert_eq!(e.value, bad.to_string());
            assert!(e.why.contains("from 1 to 10000"), "{e}");
        }
        assert_eq!(cpu_quota_us(0.75), 75_000);
        assert_eq!(cpu_quota_us(2.0), 200_000);
        assert_eq!(cpu_quota_us(0.001), 1000);
    }
}
