//! [`CgroupSet::create`]: a sandbox's cgroups, below the caller's own where they can be.
use super::layout::Layout;
use super::own::Own;
use super::set::{cg_err, enable, make_dir, read_file, Dir, Rollback, COUNTER, PARENT_DIR};
use super::sweep::{leaf_name, sweep, Owner};
use super::{CgroupSet, Limits};
use crate::error::{CgroupProblem, Result};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

impl CgroupSet {
    /// Creates a leaf in each hierarchy these limits need, below the caller's own cgroup
    /// there (falling back to the hierarchy's `cleave` directory where that cannot be:
    /// [`CgroupSet::notes`] says why), or directly under `parent`, a delegated cgroup2
    /// directory, for the cgroup2 one when it is given; then writes the limits. The cgroup2
    /// directory is created whenever a cgroup2 hierarchy is mounted, the v1 freezer one
    /// when none is.
    ///
    /// First it removes the leaves that killed makers left behind, in every hierarchy's
    /// `cleave` directory, below the caller's own cgroups and in `parent`: those of
    /// processes that are gone, once empty.
    /// This never makes the call fail.
    ///
    /// Fails with [`Error::Cgroup`](crate::Error::Cgroup) naming the file (and
    /// [`Error::hint`](crate::Error::hint) saying how to fix it),
    /// [`Error::CgroupRequest`](crate::Error::CgroupRequest) for a bad name or parent, or
    /// [`Error::Limit`](crate::Error::Limit) for a bad limit; on failure, whatever was
    /// created is removed.
    pub fn create(name: &str, limits: &Limits, parent: Option<&Path>) -> Result<CgroupSet> {
        CgroupSet::create_in(&Layout::detect()?, name, limits, parent)
    }

    /// [`CgroupSet::create`] with a layout detected (or built) by the caller.
    pub fn create_in(
        layout: &Layout,
        name: &str,
        limits: &Limits,
        parent: Option<&Path>,
    ) -> Result<CgroupSet> {
        if name.is_empty()
            || name.len() > 200
            || name.contains(['/', '\0', '\n'])
            || name.starts_with('.')
        {
            return Err(CgroupProblem::BadName(name.to_string()).into());
        }
        let (v2_needed, v1_mounts) =
            super::hierarchies::hierarchies(layout, limits, parent, "sandbox")?;
        let owner = Owner::current();
        let leaf = leaf_name(name, owner, COUNTER.fetch_add(1, Ordering::Relaxed));

        // Below the caller's own cgroup in each hierarchy, where it may be made (see
        // CgroupSet::notes); else under the hierarchy's `cleave` directory.
        let own = Own::read();
        let own_v2 = layout.unified().and_then(|r| own.dir(r, true, &[]));
        let own_v1: Vec<Option<PathBuf>> = v1_mounts
            .iter()
            .map(|(mount, controllers)| own.dir(mount, false, controllers))
            .collect();

        // First the leaves that killed cleaves left behind, in every hierarchy (not only
        // those this set uses: a killed cleave's other limits live elsewhere), and below
        // the caller's own cgroups.
        if let Some(me) = owner {
            let mut parents: Vec<PathBuf> = parent.map(Path::to_path_buf).into_iter().collect();
            parents.extend(layout.unified().map(|r| r.join(PARENT_DIR)));
            parents.extend(layout.v1().iter().map(|h| h.mount.join(PARENT_DIR)));
            parents.extend(own_v2.iter().cloned());
            parents.extend(
                layout
                    .v1()
                    .iter()
                    .filter_map(|h| own.dir(&h.mount, false, &h.controllers)),
            );
            sweep(&parents, me);
        }

        let mut rollback = Rollback(Vec::new());
        let mut set = CgroupSet {
            name: leaf.clone(),
            unified: None,
            v1: Vec::new(),
            removed: true, // until complete, the rollback guard owns the cleanup
            kept: false,
            notes: Vec::new(),
        };
        if let Some(root) = layout.unified() {
            let path = match parent {
                Some(p) => {
                    if !p.join("cgroup.controllers").exists() {
                        return Err(CgroupProblem::ParentNotCgroup2(p.to_path_buf()).into());
                    }
                    enable(p, &v2_needed)?;
                    let path = p.join(&leaf);
                    make_dir(&path, false)?;
                    path
                }
                None => {
                    // cgroup2 gives controllers only to the children of a cgroup without
                    // processes of its own (the root excepted): below the caller's cgroup,
                    // which holds cleave itself, only when no controller is needed there.
                    let own = match own_v2 {
                        Some(dir) if !v2_needed.is_empty() && !enabled_in(&dir, &v2_needed) => {
                            set.notes.push(format!(
                                "{} holds processes (cleave's own), and cgroup2 lets such a cgroup give no controller ({}) to a child",
                                dir.display(),
                                v2_needed.join(", ")
                            ));
                            None
                        }
                        dir => dir,
                    };
                    place(own, &leaf, &mut set.notes, || {
                        let base = root.join(PARENT_DIR);
                        make_dir(&base, true)?;
                        enable(root, &v2_needed)?;
                        enable(&base, &v2_needed)?;
                        Ok(base)
                    })?
                }
            };
            rollback.0.push(path.clone());
            let fd = std::fs::File::options()
                .read(true)
                .custom_flags(libc::O_DIRECTORY)
                .open(&path)
                .map_err(|e| cg_err(format!("failed to open {}", path.display()), e))?;
            set.unified = Some(Dir {
                path,
                controllers: Vec::new(),
                fd: fd.into(),
            });
        }
        for ((mount, controllers), own) in v1_mounts.into_iter().zip(own_v1) {
            let path = place(own, &leaf, &mut set.notes, || {
                let base = mount.join(PARENT_DIR);
                make_dir(&base, true)?;
                Ok(base)
            })?;
            rollback.0.push(path.clone());
            let procs = path.join(super::V1_JOIN_FILE);
            let fd = std::fs::OpenOptions::new()
                .write(true)
                .open(&procs)
                .map_err(|e| cg_err(format!("failed to open {}", procs.display()), e))?;
            set.v1.push(Dir {
                path,
                controllers,
                fd: fd.into(),
            });
        }
        set.write_limits(limits)?;
        rollback.0.clear();
        set.removed = false;
        Ok(set)
    }
}

/// Whether `dir`'s children may use every one of `controllers` (cgroup2).
fn enabled_in(dir: &Path, controllers: &[&str]) -> bool {
    read_file(&dir.join("cgroup.subtree_control")).is_ok_and(|t| {
        controllers
            .iter()
            .all(|c| t.split_whitespace().any(|e| e == *c))
    })
}

/// Makes the leaf below `own` (the caller's cgroup in one hierarchy) when there is one and
/// it can be made there, else below the directory `fallback` gives, noting why.
fn place(
    own: Option<PathBuf>,
    leaf: &str,
    notes: &mut Vec<String>,
    fallback: impl FnOnce() -> Result<PathBuf>,
) -> Result<PathBuf> {
    if let Some(own) = own {
        let path = own.join(leaf);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) => notes.push(format!("cannot create a cgroup in {}: {e}", own.display())),
        }
    }
    let path = fallback()?.join(leaf);
    make_dir(&path, false)?;
    Ok(path)
}
