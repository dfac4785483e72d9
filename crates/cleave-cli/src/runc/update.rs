//! `update`: new limits for a container's cgroup, from linux.resources JSON (`--resources
//! FILE`, `--resources -` for stdin) and the single-value options.
use super::cli::UpdateArgs;
use super::common::{self, oci_spec_runtime::LinuxResources, Ctx, Fail, Res};
use cleave::cgroup::{self, Limits};
use std::io::Read;
use std::path::Path;

pub fn run(ctx: &Ctx, a: UpdateArgs) -> Res<i32> {
    let mut limits = Limits::default();
    let mut period = cgroup::CPU_PERIOD_US;
    let mut quota: Option<i64> = None;
    let mut shares: Option<u64> = None;
    if let Some(src) = &a.resources {
        let text = if src == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Fail::failed(format!("--resources -: read stdin: {e}")))?;
            s
        } else {
            std::fs::read_to_string(src)
                .map_err(|e| Fail::bad(format!("--resources {src}: {e}")))?
        };
        let r: LinuxResources = serde_json::from_str(&text)
            .map_err(|e| Fail::bad(format!("--resources {src}: not linux.resources JSON: {e}")))?;
        if let Some(m) = r.memory() {
            limits.memory = m.limit().filter(|&l| l > 0).map(|l| l as u64);
            limits.memory_swap = swap(m.swap())?;
            limits.memory_reservation = m.reservation().filter(|&r| r >= 0).map(|r| r as u64);
            limits.memory_swappiness = m.swappiness();
            limits.oom_kill_disable = m.disable_oom_killer() == Some(true);
        }
        if let Some(c) = r.cpu() {
            period = c.period().unwrap_or(period);
            quota = c.quota().filter(|&q| q > 0);
            shares = c.shares().filter(|&s| s > 0);
            let list = |l: &Option<String>| l.clone().filter(|l| !l.is_empty());
            limits.cpuset_cpus = list(c.cpus());
            limits.cpuset_mems = list(c.mems());
            limits.cpu_weight = shares.map(cleave_oci::shares_to_weight);
        }
        if let Some(p) = r.pids() {
            limits.pids = (p.limit() > 0).then_some(p.limit() as u64);
        }
    }
    if let Some(m) = &a.memory {
        limits.memory =
            Some(cgroup::parse_size(m).map_err(|e| Fail::bad(format!("--memory {m}: {e}")))?);
    }
    if let Some(s) = &a.memory_swap {
        limits.memory_swap = if s.trim() == "-1" {
            Some(cgroup::Swap::Unlimited)
        } else {
            Some(cgroup::Swap::Total(
                cgroup::parse_size(s).map_err(|e| Fail::bad(format!("--memory-swap {s}: {e}")))?,
            ))
        };
    }
    if let Some(p) = a.pids_limit {
        limits.pids = (p > 0).then_some(p as u64);
    }
    if let Some(p) = a.cpu_period {
        period = p;
    }
    if let Some(q) = a.cpu_quota {
        quota = (q > 0).then_some(q);
    }
    if let Some(s) = a.cpu_share {
        shares = Some(s).filter(|&s| (2..=262_144).contains(&s));
        limits.cpu_weight = Some(cleave_oci::shares_to_weight(s));
    }
    if let Some(q) = quota {
        if period == 0 {
            return Err(Fail::bad("--cpu-period 0: give a period in microseconds"));
        }
        limits.cpus = Some(q as f64 / period as f64);
        limits.cpu_period = Some(period);
    }
    // v1 takes the shares as given (the weight is for cgroup2).
    limits.cpu_shares = shares.filter(|_| limits.cpu_weight.is_some());
    if let Some(p) = limits.problem() {
        return Err(Fail::bad(format!("update {}: {p}", a.id)));
    }
    let lock = ctx.lock(&a.id)?;
    let mut rec = lock.load()?;
    let Some(set) = common::cgroup(&rec) else {
        return Err(Fail::failed(format!("container {} has no cgroup", a.id)));
    };
    grow(&rec, &set, &limits)?;
    let set = common::cgroup(&rec).unwrap_or(set);
    set.set_limits(&limits)?;
    rec.cgroup_dirs = set.paths();
    lock.save(&rec)?;
    Ok(0)
}

/// linux.resources.memory.swap: -1 unlimited, else a memory+swap total in bytes.
fn swap(v: Option<i64>) -> Res<Option<cgroup::Swap>> {
    match v {
        None => Ok(None),
        Some(-1) => Ok(Some(cgroup::Swap::Unlimited)),
        Some(t) if t >= 0 => Ok(Some(cgroup::Swap::Total(t as u64))),
        Some(t) => Err(Fail::bad(format!(
            "--resources: memory.swap {t}: give a memory+swap total in bytes, or -1 for unlimited"
        ))),
    }
}

/// The controllers `limits` need, as the kernel names them.
fn controllers(limits: &Limits) -> Vec<&'static str> {
    let mut v = Vec::new();
    if limits.memory.is_some()
        || limits.memory_swap.is_some()
        || limits.memory_reservation.is_some()
        || limits.memory_swappiness.is_some()
        || limits.oom_kill_disable
    {
        v.push("memory");
    }
    if limits.cpus.is_some() || limits.cpu_weight.is_some() || limits.cpu_period.is_some() {
        v.push("cpu");
    }
    if limits.cpuset_cpus.is_some() || limits.cpuset_mems.is_some() {
        v.push("cpuset");
    }
    if limits.pids.is_some() {
        v.push("pids");
    }
    v
}

/// Gives the container's cgroup the controllers `limits` need and it was not created with
/// (a container created without a memory limit, updated with one): a v1 directory at the
/// same path, with every process of the container moved in; on cgroup2 the controller
/// enabled in each directory above the container's.
fn grow(rec: &cleave::container::State, set: &cgroup::CgroupSet, limits: &Limits) -> Res<()> {
    let Some(rel) = rec.cgroup_path.as_deref() else {
        return Ok(());
    };
    let rel = rel.trim_start_matches('/');
    let layout = cgroup::Layout::detect()?;
    for c in controllers(limits) {
        match layout.home(c) {
            Some(cgroup::Home::V1(mount)) => {
                let dir = mount.join(rel);
                if dir.is_dir() {
                    continue;
                }
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Fail::failed(format!("make {}: {e}", dir.display())))?;
                if c == "cpuset" {
                    // A new cpuset takes no task before it has CPUs and memory nodes.
                    cgroup::fill_v1_cpuset(&dir)?;
                }
                // Twice: a process forked while the first pass moved its parent.
                for _ in 0..2 {
                    for pid in set.processes()? {
                        let _ = std::fs::write(dir.join("cgroup.procs"), pid.to_string());
                    }
                }
            }
            Some(cgroup::Home::Unified(root)) => {
                let base = rec.cgroup_parent.as_deref().unwrap_or(root);
                let mut at = base.to_path_buf();
                for part in Path::new(rel).components() {
                    let file = at.join("cgroup.subtree_control");
                    let on = std::fs::read_to_string(&file).unwrap_or_default();
                    if !on.split_whitespace().any(|x| x == c) {
                        std::fs::write(&file, format!("+{c}")).map_err(|e| {
                            Fail::failed(format!("enable {c} in {}: {e}", file.display()))
                        })?;
                    }
                    at.push(part);
                }
            }
            None => {
                return Err(Fail::failed(format!(
                    "{c} limits need the {c} controller, which no mounted cgroup hierarchy offers"
                )))
            }
        }
    }
    Ok(())
}
