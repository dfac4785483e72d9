//! The caller's own cgroups, where a sandbox's go by default: below the cgroup the caller
//! runs in, in each hierarchy, so that the sandbox stays inside the caller's accounting and
//! limits (and inside a delegated subtree, as systemd's delegation expects), rather than at
//! the top of the tree.
use super::layout::CgroupMount;
use std::path::{Path, PathBuf};

/// The caller's cgroup directory in the hierarchy mounted at `mount` (cgroup2 when `v2`,
/// else the v1 hierarchy with these `controllers`), from the texts of `/proc/self/cgroup`
/// and the cgroup mounts of `/proc/self/mountinfo`. `None` when it is that hierarchy's top
/// as this process sees it (the root, or its cgroup namespace's root) or out of its reach
/// (another mount shows a subtree that does not hold it).
pub(super) fn own_dir(
    self_cgroup: &str,
    mounts: &[CgroupMount],
    mount: &Path,
    v2: bool,
    controllers: &[String],
) -> Option<PathBuf> {
    let path = self_cgroup.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (id, ctls, path) = (f.next()?, f.next()?, f.next()?);
        let matches = if v2 {
            id == "0" && ctls.is_empty()
        } else {
            let listed: Vec<&str> = ctls.split(',').collect();
            controllers.iter().any(|c| listed.contains(&c.as_str()))
        };
        matches.then_some(path)
    })?;
    let root = &mounts.iter().find(|m| m.point == mount && m.v2 == v2)?.root;
    let rel = Path::new(path).strip_prefix(root).ok()?;
    // A path that leaves the mount through `..` (a cgroup namespace's view from outside)
    // is out of reach.
    if rel.as_os_str().is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    Some(mount.join(rel))
}

/// The calling process's own cgroup2 directory, from `/proc/self/cgroup` and the cgroup2
/// mount of `/proc/self/mountinfo`; `None` without a cgroup2 hierarchy, or at its top as
/// this process sees it. Where a process without root may make cgroups when that directory
/// was delegated to its user (cgroups(7), "Cgroups v2 delegation": the directory and its
/// `cgroup.procs` owned by the user, as systemd's `user@UID.service` is): a rootless
/// container runtime's place for a container's cgroup.
pub fn own_cgroup2_dir() -> Option<PathBuf> {
    let layout = super::Layout::detect().ok()?;
    Own::read().dir(layout.unified()?, true, &[])
}

/// What this process's `/proc` says about its cgroups, read once.
pub(super) struct Own {
    cgroup: String,
    mounts: Vec<CgroupMount>,
}

impl Own {
    /// Reads `/proc/self/cgroup` and `/proc/self/mountinfo`; unreadable ones count as empty
    /// (every set then goes where it went before: under each hierarchy's `cleave`).
    pub(super) fn read() -> Own {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Own {
            cgroup: read("/proc/self/cgroup"),
            mounts: super::layout::cgroup_mounts(&read("/proc/self/mountinfo")),
        }
    }

    /// [`own_dir`] for this process.
    pub(super) fn dir(&self, mount: &Path, v2: bool, controllers: &[String]) -> Option<PathBuf> {
        own_dir(&self.cgroup, &self.mounts, mount, v2, controllers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::layout::cgroup_mounts;

    const MOUNTS: &str = "\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
90 88 0:38 /user.slice /mnt/v2 rw,relatime - cgroup2 cgroup2 rw
";

    const SELF: &str = "\
4:memory:/process_api/abc
2:cpu,cpuacct:/
0::/user.slice/session-1.scope
";

    fn own(mount: &str, v2: bool, ctls: &[&str]) -> Option<PathBuf> {
        let ctls: Vec<String> = ctls.iter().map(|c| c.to_string()).collect();
        own_dir(SELF, &cgroup_mounts(MOUNTS), Path::new(mount), v2, &ctls)
    }

    #[test]
    fn below_the_callers_cgroup_in_each_hierarchy() {
        assert_eq!(
            own("/sys/fs/cgroup/memory", false, &["memory"]),
            Some("/sys/fs/cgroup/memory/process_api/abc".into())
        );
        assert_eq!(
            own("/sys/fs/cgroup/unified", true, &[]),
            Some("/sys/fs/cgroup/unified/user.slice/session-1.scope".into())
        );
        // A mount of a subtree: the path is taken relative to what it shows.
        assert_eq!(
            own("/mnt/v2", true, &[]),
            Some("/mnt/v2/session-1.scope".into())
        );
        // At the top of the hierarchy: none (the caller of a root cgroup).
        assert_eq!(
            own("/sys/fs/cgroup/cpu,cpuacct", false, &["cpu", "cpuacct"]),
            None
        );
        // A hierarchy this process has no line for.
        assert_eq!(own("/sys/fs/cgroup/pids", false, &["pids"]), None);
    }

    #[test]
    fn a_cgroup_outside_the_mounted_subtree_is_out_of_reach() {
        let mounts = "90 88 0:38 /machine.slice /mnt/v2 rw - cgroup2 cgroup2 rw\n";
        let got = own_dir(
            SELF,
            &cgroup_mounts(mounts),
            Path::new("/mnt/v2"),
            true,
            &[],
        );
        assert_eq!(got, None);
        let escaping = "0::/../../outside\n";
        let mounts = "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let got = own_dir(
            escaping,
            &cgroup_mounts(mounts),
            Path::new("/sys/fs/cgroup"),
            true,
            &[],
        );
        assert_eq!(got, None);
    }
}
