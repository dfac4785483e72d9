//! The limits a container configuration asks for beyond cleave's own options: the CPUs and
//! memory nodes (cpuset), and the memory reservation, swappiness and OOM killer.
use super::set::{read_file, write_file};
use super::Limits;
use crate::error::Result;
use std::path::{Path, PathBuf};

/// Writes `cpuset.cpus` and `cpuset.mems` into `dir`. On v1 a new cpuset cgroup has neither
/// (and refuses tasks until it has): each directory from the hierarchy's top down to `dir`
/// that has an empty one gets its parent's first, then `dir` gets the limits' values.
/// cgroup2 directories start from their parent's effective sets by themselves.
pub(super) fn write_cpuset(dir: &Path, v1: bool, limits: &Limits) -> Result<()> {
    if v1 {
        fill_v1_cpuset(dir)?;
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        write_file(&dir.join("cpuset.cpus"), cpus)?;
    }
    if let Some(mems) = &limits.cpuset_mems {
        write_file(&dir.join("cpuset.mems"), mems)?;
    }
    Ok(())
}

/// Writes the memory reservation (v1 `memory.soft_limit_in_bytes`, cgroup2 `memory.low`),
/// swappiness (v1 `memory.swappiness`) and OOM-killer switch (v1 `memory.oom_control`) into
/// the memory directory `dir`. cgroup2 has neither of the last two: they are not written
/// there (the caller says so where it lowers them).
pub(super) fn write_memory_more(dir: &Path, v1: bool, limits: &Limits) -> Result<()> {
    if let Some(bytes) = limits.memory_reservation {
        let file = if v1 {
            "memory.soft_limit_in_bytes"
        } else {
            "memory.low"
        };
        write_file(&dir.join(file), &bytes.to_string())?;
    }
    if !v1 {
        return Ok(());
    }
    if let Some(s) = limits.memory_swappiness {
        write_file(&dir.join("memory.swappiness"), &s.to_string())?;
    }
    if limits.oom_kill_disable {
        write_file(&dir.join("memory.oom_control"), "1")?;
    }
    Ok(())
}

/// Makes a v1 cpuset directory one that tasks can join: from the hierarchy's top down to
/// `dir`, each directory whose `cpuset.cpus` or `cpuset.mems` is empty (as a new one is) gets
/// its parent's. Values already there stay.
pub fn fill_v1_cpuset(dir: &Path) -> Result<()> {
    // `dir` and its ancestors within the hierarchy (those with cpuset files), top first.
    let mut chain: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| d.join("cpuset.cpus").exists())
        .map(Path::to_path_buf)
        .collect();
    chain.reverse();
    for file in ["cpuset.cpus", "cpuset.mems"] {
        for pair in chain.windows(2) {
            let here = pair[1].join(file);
            if read_file(&here)?.trim().is_empty() {
                let above = read_file(&pair[0].join(file))?;
                write_file(&here, above.trim())?;
            }
        }
    }
    Ok(())
}
