//! Which mounts of a process tree come from outside it. CRIU recreates what it can mount
//! afresh (proc, sysfs, tmpfs with its content, devpts, mqueue) and what is a bind of
//! another mount of the tree; anything else (a bind of a host file or directory, a device
//! node bound over a masked path, a cgroup hierarchy) must be declared external at dump,
//! under a key, and given a source at restore. The key is the mount point inside.
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One line of `/proc/PID/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// The mount's id.
    pub id: u32,
    /// `major:minor` of the filesystem.
    pub dev: String,
    /// The directory of the filesystem that is mounted (`/` for a whole filesystem).
    pub root: String,
    /// Where it is mounted, in the reader's root.
    pub mountpoint: String,
    /// The filesystem type.
    pub fstype: String,
}

/// How a source is found for an external mount at restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExternalKind {
    /// A bind of a host file or directory.
    Bind,
    /// A cgroup (v1) hierarchy.
    Cgroup,
    /// The cgroup2 hierarchy.
    Cgroup2,
}

/// A mount declared external at dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct External {
    /// The mount point inside, which is also CRIU's key for it.
    pub mountpoint: String,
    /// What it is.
    pub kind: ExternalKind,
    /// The same file or directory as the dumping process saw it (its source unless the
    /// restore is told another).
    pub host: PathBuf,
    /// For a cgroup: the directory of the hierarchy's root as the dumping process saw it,
    /// and the mounted directory relative to it.
    #[serde(default)]
    pub hierarchy: Option<PathBuf>,
    /// The mounted directory of the filesystem.
    pub root: String,
}

impl External {
    /// CRIU's `--external` value at dump: `mnt[MOUNTPOINT]:KEY`.
    pub fn dump_arg(&self) -> String {
        format!("mnt[{}]:{}", self.mountpoint, self.mountpoint)
    }

    /// CRIU's `--external` value at restore, with the source to bind: `mnt[KEY]:SOURCE`.
    pub fn restore_arg(&self, source: &Path) -> String {
        format!("mnt[{}]:{}", self.mountpoint, source.display())
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/PID/mountinfo`; lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let fstype = right.split(' ').next()?;
            Some(MountInfo {
                id: f.first()?.parse().ok()?,
                dev: f.get(2)?.to_string(),
                root: unescape(f.get(3)?),
                mountpoint: unescape(f.get(4)?),
                fstype: unescape(fstype),
            })
        })
        .collect()
}

/// Reads and parses `/proc/PID/mountinfo` (`self` for 0).
pub fn read(pid: i32) -> std::io::Result<Vec<MountInfo>> {
    let path = if pid == 0 {
        "/proc/self/mountinfo".to_string()
    } else {
        format!("/proc/{pid}/mountinfo")
    };
    std::fs::read_to_string(path).map(|t| parse(&t))
}

/// Filesystems CRIU mounts afresh at restore when their whole tree is mounted.
const FRESH: &[&str] = &[
    "proc",
    "sysfs",
    "tmpfs",
    "devpts",
    "mqueue",
    "binfmt_misc",
    "securityfs",
    "debugfs",
    "tracefs",
    "pstore",
    "bpf",
    "fusectl",
    "hugetlbfs",
    "configfs",
];

/// Whether `prefix` is `path` or a directory above it.
fn under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// `root` (a directory of the filesystem) as a path of the reader of `host`, through the
/// mount of the same filesystem whose root holds it most closely.
fn host_path(host: &[MountInfo], dev: &str, root: &str) -> Option<PathBuf> {
    host.iter()
        .filter(|h| h.dev == dev && under(root, &h.root))
        .max_by_key(|h| (h.root.len(), std::cmp::Reverse(h.mountpoint.len())))
        .map(|h| {
            let rest = root[h.root.len()..].trim_start_matches('/');
            let base = PathBuf::from(&h.mountpoint);
            if rest.is_empty() {
                base
            } else {
                base.join(rest)
            }
        })
}

/// The mounts of a tree (`inside`: its mountinfo) that come from outside it, each with the
/// path of its source in the reader of `host` (the dumping process's mountinfo). A mount
/// whose source the host cannot name is an error naming its mount point.
pub fn externals(inside: &[MountInfo], host: &[MountInfo]) -> Result<Vec<External>, String> {
    let anchored = |n: &MountInfo| {
        n.mountpoint == "/" || (FRESH.contains(&n.fstype.as_str()) && n.root == "/")
    };
    let mut out: Vec<External> = Vec::new();
    for m in inside {
        if m.mountpoint == "/" {
            continue;
        }
        let kind = match m.fstype.as_str() {
            "cgroup" => ExternalKind::Cgroup,
            "cgroup2" => ExternalKind::Cgroup2,
            _ => {
                let derived = inside.iter().any(|n| {
                    n.id != m.id && n.dev == m.dev && anchored(n) && under(&m.root, &n.root)
                });
                if anchored(m) || derived {
                    continue;
                }
                ExternalKind::Bind
            }
        };
        if out.iter().any(|e| e.mountpoint == m.mountpoint) {
            continue; // stacked mounts at one point share a key
        }
        let host_p = host_path(host, &m.dev, &m.root).ok_or_else(|| {
            format!(
                "the mount at {} ({} {}) is not visible from here",
                m.mountpoint, m.fstype, m.root
            )
        })?;
        let hierarchy = match kind {
            ExternalKind::Bind => None,
            _ => host_path(host, &m.dev, "/"),
        };
        out.push(External {
            mountpoint: m.mountpoint.clone(),
            kind,
            host: host_p,
            hierarchy,
            root: m.root.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Mount lines of a container made by `cleave run` from `cleave spec`'s config (masked
    // paths bound from the host's /dev/null, a v1 memory hierarchy mounted at a subgroup).
    const INSIDE: &str = "\
64 42 254:0 /var/tmp/ck/b/rootfs / rw,nodev,relatime - ext4 /dev/vda rw
65 64 0:40 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
66 65 0:40 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
70 65 0:6 /null /proc/keys ro,nosuid,noexec,relatime - devtmpfs devtmpfs rw
72 65 0:41 / /proc/acpi ro,nosuid,nodev,noexec,relatime - tmpfs none rw
73 64 0:42 / /dev rw,nosuid - tmpfs tmpfs rw
78 77 0:46 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - tmpfs none rw
82 78 0:32 /process_api/d9 /sys/fs/cgroup/memory ro - cgroup none rw,memory
88 78 0:38 /cleave/c1 /sys/fs/cgroup/unified ro - cgroup2 none rw
90 70 0:6 /null /proc/keys ro,nosuid,noexec,relatime - devtmpfs devtmpfs rw
91 64 254:0 /var/tmp/ck/b/hosts /etc/hosts rw - ext4 /dev/vda rw
92 64 254:0 /var/tmp/ck/b/rootfs/data /mnt/data rw - ext4 /dev/vda rw
93 64 0:50 / /mnt/with\\040space rw - ext4 /dev/vdb rw
";
    const HOST: &str = "\
20 1 254:0 / / rw - ext4 /dev/vda rw
24 20 0:6 / /dev rw - devtmpfs devtmpfs rw
30 20 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 20 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
32 20 0:50 / /srv/disk rw - ext4 /dev/vdb rw
";

    #[test]
    fn what_is_external() {
        let ext = externals(&parse(INSIDE), &parse(HOST)).unwrap();
        let got: Vec<(&str, ExternalKind, &Path)> = ext
            .iter()
            .map(|e| (e.mountpoint.as_str(), e.kind, e.host.as_path()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/proc/keys", ExternalKind::Bind, Path::new("/dev/null")),
                (
                    "/sys/fs/cgroup/memory",
                    ExternalKind::Cgroup,
                    Path::new("/sys/fs/cgroup/memory/process_api/d9")
                ),
                (
                    "/sys/fs/cgroup/unified",
                    ExternalKind::Cgroup2,
                    Path::new("/sys/fs/cgroup/unified/cleave/c1")
                ),
                (
                    "/etc/hosts",
                    ExternalKind::Bind,
                    Path::new("/var/tmp/ck/b/hosts")
                ),
                (
                    "/mnt/with space",
                    ExternalKind::Bind,
                    Path::new("/srv/disk")
                ),
            ]
        );
        assert_eq!(
            ext[2].hierarchy.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert_eq!(ext[0].dump_arg(), "mnt[/proc/keys]:/proc/keys");
        assert_eq!(
            ext[0].restore_arg(Path::new("/dev/null")),
            "mnt[/proc/keys]:/dev/null"
        );
    }

    #[test]
    fn a_source_the_host_cannot_see_is_named() {
        let inside = parse("1 0 8:1 / / rw - ext4 x rw\n2 1 9:9 /x /mnt rw - ext4 y rw\n");
        let err = externals(&inside, &parse(HOST)).unwrap_err();
        assert!(err.contains("/mnt"), "{err}");
    }

    #[test]
    fn prefixes_are_whole_components() {
        assert!(under("/a/b", "/a"));
        assert!(under("/a", "/a"));
        assert!(under("/anything", "/"));
        assert!(!under("/ab", "/a"));
    }
}
