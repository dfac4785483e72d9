//! Which cgroup hierarchies this host mounts, and which one holds each controller: read from
//! `/proc/self/mountinfo` (fstype `cgroup2`, or `cgroup` with the controllers in its super
//! options), never from well-known paths.
use crate::error::{Error, Result};
use std::io;
use std::path::{Path, PathBuf};

/// The controllers a cgroup v1 mount can name in its super options. Anything else there
/// (`rw`, `name=systemd`, `xattr`, `clone_children`, ...) is a mount option, not a controller.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "io",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// One cgroup v1 hierarchy: where it is mounted and the controllers bound to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// The mount point, e.g. `/sys/fs/cgroup/memory`.
    pub mount: PathBuf,
    /// The controllers bound to it, e.g. `["cpu", "cpuacct"]`.
    pub controllers: Vec<String>,
}

/// The cgroup layout of a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Pure cgroup2 ("unified"): every controller lives in one hierarchy.
    Unified {
        /// The cgroup2 mount point, e.g. `/sys/fs/cgroup`.
        root: PathBuf,
    },
    /// A cgroup2 hierarchy (for process tracking, freezing, killing, CLONE_INTO_CGROUP)
    /// beside v1 hierarchies that hold the resource controllers.
    Hybrid {
        /// The cgroup2 mount point, e.g. `/sys/fs/cgroup/unified`.
        unified: PathBuf,
        /// The v1 hierarchies with at least one controller.
        v1: Vec<V1Hierarchy>,
    },
    /// cgroup v1 only.
    Legacy {
        /// The v1 hierarchies with at least one controller.
        v1: Vec<V1Hierarchy>,
    },
}

/// Where a controller lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Home<'a> {
    /// In the cgroup2 hierarchy mounted here (if the parent cgroup enables it).
    Unified(&'a Path),
    /// In the v1 hierarchy mounted here.
    V1(&'a Path),
}

impl Layout {
    /// Reads `/proc/self/mountinfo`.
    pub fn detect() -> Result<Layout> {
        let text =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| Error::Cgroup {
                what: "failed to read /proc/self/mountinfo".into(),
                source,
            })?;
        Layout::parse(&text)
    }

    /// The layout described by the text of a `/proc/<pid>/mountinfo`. The first mount of
    /// each hierarchy wins (later ones are bind mounts of it).
    pub fn parse(mountinfo: &str) -> Result<Layout> {
        let mut unified: Option<PathBuf> = None;
        let mut v1: Vec<V1Hierarchy> = Vec::new();
        for m in cgroup_mounts(mountinfo) {
            if m.v2 {
                unified.get_or_insert(m.point);
                continue;
            }
            let controllers: Vec<String> = m
                .options
                .split(',')
                .filter(|o| V1_CONTROLLERS.contains(o))
                .map(str::to_string)
                .collect();
            let known = v1.iter().any(|h| {
                h.controllers
                    .iter()
                    .any(|c| controllers.iter().any(|d| c == d))
            });
            if !controllers.is_empty() && !known {
                v1.push(V1Hierarchy {
                    mount: m.point,
                    controllers,
                });
            }
        }
        match (unified, v1.is_empty()) {
            (Some(root), true) => Ok(Layout::Unified { root }),
            (Some(unified), false) => Ok(Layout::Hybrid { unified, v1 }),
            (None, false) => Ok(Layout::Legacy { v1 }),
            (None, true) => Err(Error::Cgroup {
                what: "find a cgroup hierarchy: /proc/self/mountinfo lists no cgroup2 mount and no cgroup v1 controller".into(),
                source: io::Error::from_raw_os_error(libc::ENOENT),
            }),
        }
    }

    /// The cgroup2 mount point, when there is one.
    pub fn unified(&self) -> Option<&Path> {
        match self {
            Layout::Unified { root } => Some(root),
            Layout::Hybrid { unified, .. } => Some(unified),
            Layout::Legacy { .. } => None,
        }
    }

    /// The v1 hierarchies (empty on a pure cgroup2 host).
    pub fn v1(&self) -> &[V1Hierarchy] {
        match self {
            Layout::Unified { .. } => &[],
            Layout::Hybrid { v1, .. } | Layout::Legacy { v1 } => v1,
        }
    }

    /// Where `controller` lives: the v1 hierarchy that binds it, else the cgroup2 hierarchy
    /// (a controller bound to v1 cannot be enabled in cgroup2). `None` when neither exists.
    pub fn home(&self, controller: &str) -> Option<Home<'_>> {
        self.v1()
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| Home::V1(&h.mount))
            .or_else(|| self.unified().map(Home::Unified))
    }

    /// This layout without its cgroup2 hierarchy: what a v1-only host would look like
    /// (useful to exercise the v1 paths on a hybrid host). `None` when no v1 hierarchy is left.
    pub fn without_unified(&self) -> Option<Layout> {
        let v1 = self.v1().to_vec();
        (!v1.is_empty()).then_some(Layout::Legacy { v1 })
    }
}

/// One cgroup or cgroup2 mount, from a mountinfo line:
/// `ID PARENT MAJ:MIN ROOT MOUNT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`.
#[derive(Debug)]
pub(crate) struct CgroupMount {
    /// cgroup2 (else a v1 hierarchy).
    pub v2: bool,
    /// The cgroup shown at the mount point (`/` unless a sub-cgroup is bind-mounted).
    pub root: String,
    /// Where it is mounted.
    pub point: PathBuf,
    /// The super options: for v1, the controllers among them.
    pub options: String,
}

/// Every cgroup mount in a mountinfo text, in order.
pub(crate) fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut left = left.split(' ').skip(3);
            let (root, point) = (left.next()?, left.next()?);
            let mut right = right.split(' ');
            let fstype = right.next()?;
            let _source = right.next()?;
            let options = right.next().unwrap_or("");
            (fstype == "cgroup" || fstype == "cgroup2").then(|| CgroupMount {
                v2: fstype == "cgroup2",
                root: unescape(root),
                point: PathBuf::from(unescape(point)),
                options: options.to_string(),
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    const PURE_V2: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
27 24 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    const V1_ONLY: &str = "\
25 24 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
30 25 0:28 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
31 25 0:29 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
32 25 0:30 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer
90 88 0:28 / /mnt/memory\\040copy rw - cgroup cgroup rw,memory
";

    #[test]
    fn hybrid() {
        let l = Layout::parse(HYBRID).unwrap();
        assert_eq!(l.unified(), Some(Path::new("/sys/fs/cgroup/unified")));
        assert!(matches!(l, Layout::Hybrid { .. }));
        // name=systemd has no controller: not listed.
        assert_eq!(l.v1().len(), 5);
        assert_eq!(
            l.home("memory"),
            Some(Home::V1(Path::new("/sys/fs/cgroup/memory")))
        );
        assert_eq!(
            l.home("cpu"),
            Some(Home::V1(Path::new("/sys/fs/cgroup/cpu")))
        );
        assert_eq!(
            l.home("hugetlb"),
            Some(Home::Unified(Path::new("/sys/fs/cgroup/unified")))
        );
        let legacy = l.without_unified().unwrap();
        assert_eq!(legacy.unified(), None);
        assert_eq!(legacy.home("hugetlb"), None);
    }

    #[test]
    fn pure_v2() {
        let l = Layout::parse(PURE_V2).unwrap();
        assert_eq!(
            l,
            Layout::Unified {
                root: "/sys/fs/cgroup".into()
            }
        );
        assert_eq!(
            l.home("memory"),
            Some(Home::Unified(Path::new("/sys/fs/cgroup")))
        );
        assert!(l.v1().is_empty());
        assert_eq!(l.without_unified(), None);
    }

    #[test]
    fn v1_only() {
        let l = Layout::parse(V1_ONLY).unwrap();
        assert_eq!(l.unified(), None);
        assert_eq!(
            l.v1(),
            &[
                V1Hierarchy {
                    mount: "/sys/fs/cgroup/cpu,cpuacct".into(),
                    controllers: vec!["cpu".into(), "cpuacct".into()]
                },
                V1Hierarchy {
                    mount: "/sys/fs/cgroup/memory".into(),
                    controllers: vec!["memory".into()]
                },
                V1Hierarchy {
                    mount: "/sys/fs/cgroup/pids".into(),
                    controllers: vec!["pids".into()]
                },
                V1Hierarchy {
                    mount: "/sys/fs/cgroup/freezer".into(),
                    controllers: vec!["freezer".into()]
                },
            ]
        );
        assert_eq!(
            l.home("cpuacct"),
            Some(Home::V1(Path::new("/sys/fs/cgroup/cpu,cpuacct")))
        );
        assert_eq!(l.home("io"), None);
    }

    #[test]
    fn escapes_and_no_cgroup() {
        assert_eq!(unescape("/mnt/a\\040b\\134c"), "/mnt/a b\\c");
        assert_eq!(unescape("/x\\04"), "/x\\04");
        assert!(Layout::parse("22 1 0:21 / /proc rw - proc proc rw\n").is_err());
    }
}
