//! The target's cgroups: its memberships from `/proc/PID/cgroup`, where each hierarchy is
//! mounted from `/proc/self/mountinfo` (cgroup2, v1 controllers, or both on a hybrid host).
use super::io_err;
use crate::cgroup::{cgroup_mounts, CgroupMount};
use crate::error::Result;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// What joining the target's cgroups takes, opened before any setns.
#[derive(Debug, Default)]
pub(super) struct Cgroups {
    /// The target's cgroup2 directory, when it differs from the caller's.
    pub v2: Option<OwnedFd>,
    pub v2_path: Option<PathBuf>,
    /// `cgroup.procs` of each v1 hierarchy where the target sits elsewhere, open for writing.
    pub v1: Vec<(PathBuf, File)>,
}

/// One line of /proc/PID/cgroup: `hierarchy-id:controllers:path` ("" controllers for v2).
#[derive(Debug, PartialEq, Eq)]
struct Membership {
    controllers: String,
    path: String,
}

fn memberships(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            Some(Membership {
                controllers: parts.next()?.to_string(),
                path: parts.next()?.to_string(),
            })
        })
        .collect()
}

/// The directory of `m` in the mount that shows its hierarchy, if one does.
fn directory(m: &Membership, mounts: &[CgroupMount]) -> Option<PathBuf> {
    let mount = mounts.iter().find(|mnt| {
        if m.controllers.is_empty() {
            mnt.v2
        } else {
            !mnt.v2
                && m.controllers
                    .split(',')
                    .all(|c| mnt.options.split(',').any(|o| o == c))
        }
    })?;
    let rel = if mount.root == "/" {
        m.path.as_str()
    } else {
        m.path.strip_prefix(mount.root.as_str())?
    };
    let rel = rel.trim_start_matches('/');
    Some(mount.point.join(rel))
}

pub(super) fn prepare(t: i32) -> Result<Cgroups> {
    let theirs_path = format!("/proc/{t}/cgroup");
    let theirs = std::fs::read_to_string(&theirs_path)
        .map_err(|e| io_err(format!("read {theirs_path}"), e))?;
    let ours = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| io_err("read /proc/self/cgroup", e))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| io_err("read /proc/self/mountinfo", e))?;
    let ours = memberships(&ours);
    let mounts = cgroup_mounts(&mountinfo);
    let mut out = Cgroups::default();
    for m in memberships(&theirs) {
        if ours.contains(&m) {
            continue;
        }
        let Some(dir) = directory(&m, &mounts) else {
            continue; // hierarchy not mounted here: nothing to write to
        };
        if m.controllers.is_empty() {
            let f = super::open_dir(&dir.to_string_lossy()).map_err(|e| {
                io_err(
                    format!(
                        "open the cgroup2 directory of process {t} ({})",
                        dir.display()
                    ),
                    e,
                )
            })?;
            out.v2 = Some(f.into());
            out.v2_path = Some(dir);
        } else {
            let procs = dir.join("cgroup.procs");
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&procs)
                .map_err(|e| {
                    io_err(
                        format!("open the cgroup of process {t} ({})", procs.display()),
                        e,
                    )
                })?;
            out.v1.push((procs, f));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 /sub /sys/fs/cgroup/uni\\040fied rw,relatime shared:5 - cgroup2 cgroup2 rw";

    #[test]
    fn hybrid_hierarchies_map_to_their_mounts() {
        let mounts = cgroup_mounts(MOUNTINFO);
        assert_eq!(mounts.len(), 4);
        let m = memberships("4:memory:/a/b\n9:name=systemd:/\n0::/sub/x\n7:blkio:/c");
        let dirs: Vec<Option<PathBuf>> = m.iter().map(|m| directory(m, &mounts)).collect();
        assert_eq!(
            dirs,
            vec![
                Some(PathBuf::from("/sys/fs/cgroup/memory/a/b")),
                Some(PathBuf::from("/sys/fs/cgroup/systemd")),
                Some(PathBuf::from("/sys/fs/cgroup/uni fied/x")),
                None,
            ]
        );
    }
}
