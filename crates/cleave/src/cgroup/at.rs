//! Sets that outlive their maker: [`CgroupSet::create_at`] a path a configuration names, and
//! [`CgroupSet::open`] it again from another process (a runtime's `start`, `pause`, `kill`,
//! `delete`, each a process of its own); plus what such a process asks of a set it did not
//! make: its processes, its limits, whether it is frozen.
use super::layout::Layout;
use super::path::CgroupPath;
use super::set::{
    cg_err, enable, errno, make_dir, procs, read_file, write_file, CgroupSet, Dir, Rollback,
};
use super::Limits;
use crate::error::{CgroupProblem, Result};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Opens a set directory: the cgroup2 one as an O_DIRECTORY fd, a v1 one's `tasks`
/// O_WRONLY (both O_CLOEXEC).
fn open_dir(path: PathBuf, controllers: Vec<String>) -> Result<Dir> {
    let file = if controllers.is_empty() {
        std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&path)
            .map_err(|e| cg_err(format!("failed to open {}", path.display()), e))?
    } else {
        let procs = path.join(super::V1_JOIN_FILE);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&procs)
            .map_err(|e| cg_err(format!("failed to open {}", procs.display()), e))?
    };
    Ok(Dir {
        path,
        controllers,
        fd: file.into(),
    })
}

/// Creates every missing directory from `base` down to `base/rel` (the last must be new);
/// records what it made in `rollback`. On cgroup2 (`v2` non-empty), enables `v2` in `base`
/// and in every directory above the leaf, so that the leaf gets those controllers.
fn make_path(base: &Path, rel: &Path, v2: &[&str], rollback: &mut Rollback) -> Result<PathBuf> {
    let mut at = base.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        enable(&at, v2)?;
        at.push(part);
        let last = i + 1 == parts.len();
        if make_dir(&at, !last)? {
            rollback.0.push(at.clone());
        }
    }
    Ok(at)
}

/// Adds the v1 hierarchy mounted at `mount` to `v1`, once.
impl CgroupSet {
    /// Creates the set at `path` below each hierarchy's root (the cgroup2 directory below
    /// `parent` instead, when a delegated cgroup2 parent is given) and writes the limits. The
    /// directories are those [`CgroupSet::create`] makes: the cgroup2 one whenever a cgroup2
    /// hierarchy is mounted, one in each v1 hierarchy whose controller the limits need, and
    /// the v1 freezer's when there is no cgroup2. Missing directories above the leaf are
    /// created (and stay when the set is removed: others may share them); the leaf itself
    /// must not exist yet (`EEXIST`).
    ///
    /// The set outlives this value: dropping it leaves the cgroups and whatever runs in them;
    /// [`CgroupSet::open`] finds them again, [`CgroupSet::remove`] ends them. No sweep ever
    /// touches them ([`CgroupPath::parse`] refuses the names a sweep removes), and creating
    /// one sweeps nothing. On failure, whatever was created is removed.
    pub fn create_at(
        path: &CgroupPath,
        limits: &Limits,
        parent: Option<&Path>,
    ) -> Result<CgroupSet> {
        CgroupSet::create_at_in(&Layout::detect()?, path, limits, parent)
    }

    /// [`CgroupSet::create_at`] with a layout detected (or built) by the caller.
    pub fn create_at_in(
        layout: &Layout,
        path: &CgroupPath,
        limits: &Limits,
        parent: Option<&Path>,
    ) -> Result<CgroupSet> {
        let rel = path.as_path();
        let (v2_needed, mut v1_mounts) =
            super::hierarchies::hierarchies(layout, limits, parent, "container")?;
        // In the layout's order, as open() finds them.
        v1_mounts.sort_by_key(|(m, _)| layout.v1().iter().position(|h| h.mount == *m));
        let mut rollback = Rollback(Vec::new());
        let mut set = CgroupSet {
            name: path.to_string(),
            unified: None,
            v1: Vec::new(),
            removed: true, // until complete, the rollback guard owns the cleanup
            kept: true,
            notes: Vec::new(),
        };
        if let Some(root) = layout.unified() {
            let base = match parent {
                Some(p) if !p.join("cgroup.controllers").exists() => {
                    return Err(CgroupProblem::ParentNotCgroup2(p.to_path_buf()).into());
                }
                Some(p) => p,
                None => root,
            };
            let dir = make_path(base, rel, &v2_needed, &mut rollback)?;
            set.unified = Some(open_dir(dir, Vec::new())?);
        }
        for (mount, controllers) in v1_mounts {
            let dir = make_path(mount, rel, &[], &mut rollback)?;
            set.v1.push(open_dir(dir, controllers)?);
        }
        set.write_limits(limits)?;
        rollback.0.clear();
        set.removed = false;
        Ok(set)
    }

    /// Opens the set at `path` that [`CgroupSet::create_at`] made, from any process: the
    /// cgroup2 directory `path` below the root (or below `parent`), and `path` in each v1
    /// hierarchy where it exists. Fails with `ENOENT` when no hierarchy has it.
    ///
    /// Like a created one, the opened set is left alone when dropped.
    pub fn open(path: &CgroupPath, parent: Option<&Path>) -> Result<CgroupSet> {
        CgroupSet::open_in(&Layout::detect()?, path, parent)
    }

    /// [`CgroupSet::open`] with a layout detected (or built) by the caller.
    pub fn open_in(layout: &Layout, path: &CgroupPath, parent: Option<&Path>) -> Result<CgroupSet> {
        let rel = path.as_path();
        let mut set = CgroupSet {
            name: path.to_string(),
            unified: None,
            v1: Vec::new(),
            removed: false,
            kept: true,
            notes: Vec::new(),
        };
        if let Some(root) = layout.unified() {
            let dir = parent.unwrap_or(root).join(rel);
            if dir.join("cgroup.controllers").exists() {
                set.unified = Some(open_dir(dir, Vec::new())?);
            }
        }
        for h in layout.v1() {
            let dir = h.mount.join(rel);
            if dir.is_dir() {
                set.v1.push(open_dir(dir, h.controllers.clone())?);
            }
        }
        if set.unified.is_none() && set.v1.is_empty() {
            set.removed = true;
            return Err(cg_err(
                format!("open {path}: no mounted cgroup hierarchy has it"),
                errno(libc::ENOENT),
            ));
        }
        Ok(set)
    }

    /// Moves process `pid` (and, on cgroup v1, only that thread group) into every directory
    /// of the set by writing it to each `cgroup.procs`.
    pub fn attach(&self, pid: i32) -> Result<()> {
        for d in self.unified.iter().chain(&self.v1) {
            write_file(&d.path.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Writes new limits into the set's directories (a runtime's `update`). A limit whose
    /// controller the set has no directory for fails with `ENOENT`; on cgroup v1 that is a
    /// controller the set was not created with.
    pub fn set_limits(&self, limits: &Limits) -> Result<()> {
        limits.validate()?;
        self.write_limits(limits)
    }

    /// The limits the kernel holds for the set, read back from its files. `None` where a
    /// resource is unlimited (`max`, v1's `-1` or page-rounded `LONG_MAX`), where the weight
    /// is the default (100; v1 `cpu.shares` 1024), and where the set has no file for it.
    pub fn limits(&self) -> Result<Limits> {
        let read = |controller: &str, v1: &str, v2: &str| -> Result<Option<String>> {
            let Some(d) = self.dir_for(controller) else {
                return Ok(None);
            };
            let file = d.path.join(if d.is_v1() { v1 } else { v2 });
            match std::fs::read_to_string(&file) {
                Ok(text) => Ok(Some(text.trim().to_string())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(cg_err(format!("failed to read {}", file.display()), e)),
            }
        };
        let number = |text: &str| text.parse::<u64>().ok();
        let memory = read("memory", "memory.limit_in_bytes", "memory.max")?
            .and_then(|t| number(&t))
            .filter(|&b| b < 1 << 62);
        let cpus = read("cpu", "cpu.cfs_quota_us", "cpu.max")?.and_then(|t| {
            let mut f = t.split_whitespace();
            let quota = number(f.next()?)?;
            let period = match f.next() {
                Some(p) => number(p)?,
                None => {
                    let d = self.dir_for("cpu")?;
                    number(read_file(&d.path.join("cpu.cfs_period_us")).ok()?.trim())?
                }
            };
            (period > 0).then(|| quota as f64 / period as f64)
        });
        let cpu_weight = match self.dir_for("cpu") {
            Some(d) if d.is_v1() => read("cpu", "cpu.shares", "")?
                .and_then(|t| number(&t))
                .map(super::shares_to_weight),
            _ => read("cpu", "", "cpu.weight")?.and_then(|t| number(&t)),
        }
        .filter(|&w| w != 100);
        let pids = read("pids", "pids.max", "pids.max")?.and_then(|t| number(&t));
        Ok(Limits {
            memory,
            cpus,
            cpu_weight,
            pids,
            ..Limits::default()
        })
    }

    /// Whether the set is frozen ([`CgroupSet::freeze`]): cgroup2 `cgroup.events` says
    /// `frozen 1`, or v1 `freezer.state` says `FROZEN`.
    pub fn frozen(&self) -> Result<bool> {
        if let Some(d) = &self.unified {
            let events = read_file(&d.path.join("cgroup.events"))?;
            return Ok(events.lines().any(|l| l.trim() == "frozen 1"));
        }
        match self.v1_freezer() {
            Some(d) => Ok(read_file(&d.path.join("freezer.state"))?.trim() == "FROZEN"),
            None => Ok(false),
        }
    }

    /// Every process in the set and in the cgroups below it, sorted, each once.
    pub fn processes(&self) -> Result<Vec<i32>> {
        let mut all = Vec::new();
        for d in self.unified.iter().chain(&self.v1) {
            all.extend(procs(&d.path)?);
        }
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }
}
