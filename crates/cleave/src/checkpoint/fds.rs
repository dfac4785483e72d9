//! The init's standard descriptors that point outside the tree: a pipe to its supervisor
//! (conmon, the containerd shim), `/dev/null` opened from the host's `/dev`. CRIU cannot
//! dump a file of a mount it does not see, and a pipe it would restore would lead nowhere:
//! each is recorded under CRIU's key for it and, at restore, the restoring process's own
//! descriptor of the same number takes its place (`--inherit-fd`).
use super::mounts::MountInfo;
use serde::{Deserialize, Serialize};

/// One inherited descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Its number in the init.
    pub fd: i32,
    /// CRIU's key: `pipe:[INODE]` or `file[MNTID:INODE]` (hexadecimal).
    pub key: String,
    /// Whether it must be declared with `--external KEY` at dump (files of outside mounts).
    pub external: bool,
    /// For an outside file, its path as the dumping process saw it: what a restore opens
    /// when no stdio of its own takes its place.
    #[serde(default)]
    pub host: Option<std::path::PathBuf>,
    /// For an outside file held under another number (fd -1): the init's standard
    /// descriptor (0, 1 or 2) that is the same file (device and inode), whose replacement a
    /// restore hands over for it too. A restore never opens a host path an image names: the
    /// program inside chooses what its links read (a file on a mount of its own at
    /// `/etc/shadow` reads `/etc/shadow`), and an image directory is not to be trusted.
    #[serde(default)]
    pub stdio_of: Option<i32>,
}

impl Descriptor {
    /// CRIU's `--inherit-fd` value at restore, for the restorer's descriptor `fd`.
    pub fn inherit_arg(&self, fd: i32) -> String {
        format!("fd[{fd}]:{}", self.key)
    }
}

/// How one descriptor is to be handed over, from its link text, its mount id and inode,
/// and the mount ids of the tree.
fn classify(
    fd: i32,
    link: &str,
    mnt_id: u32,
    ino: u64,
    tty: Option<(u64, u64)>,
    inside: &[MountInfo],
) -> Option<Descriptor> {
    // A terminal whose master is held outside (a console socket's receiver): CRIU's key
    // `tty[RDEV:DEV]`, given a new terminal at restore.
    if let Some((rdev, dev)) = tty.filter(|_| !inside.iter().any(|m| m.id == mnt_id)) {
        return Some(Descriptor {
            fd,
            key: format!("tty[{rdev:x}:{dev:x}]"),
            external: true,
            host: None,
            stdio_of: None,
        });
    }
    if link.starts_with("pipe:[") {
        return Some(Descriptor {
            fd,
            key: link.to_string(),
            external: false,
            host: None,
            stdio_of: None,
        });
    }
    if link.starts_with('/') && !inside.iter().any(|m| m.id == mnt_id) {
        return Some(Descriptor {
            fd,
            key: format!("file[{mnt_id:x}:{ino:x}]"),
            external: true,
            host: Some(link.into()),
            stdio_of: None,
        });
    }
    None
}

/// One descriptor of `pid`, if it must be handed over.
fn one(pid: i32, fd: i32, inside: &[MountInfo]) -> Option<Descriptor> {
    use std::os::unix::fs::MetadataExt;
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let link = link.to_string_lossy().into_owned();
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    let mnt_id = info
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let meta = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")).ok()?;
    // Unix98 pty slaves: majors 136-143 (devices.txt).
    let major = ((meta.rdev() >> 32) & 0xffff_f000) | ((meta.rdev() >> 8) & 0xfff);
    let tty = (136..=143)
        .contains(&major)
        .then(|| (meta.rdev(), meta.dev()));
    classify(fd, &link, mnt_id, meta.ino(), tty, inside)
}

/// The processes of the tree rooted at `pid` (its threads' children, recursively).
fn tree(pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                let path = t.path().join("children");
                let kids = std::fs::read_to_string(path).unwrap_or_default();
                out.extend(
                    kids.split_whitespace()
                        .filter_map(|k| k.parse::<i32>().ok()),
                );
            }
        }
        i += 1;
    }
    out
}

/// What of the tree rooted at `pid` must be handed over: the init's standard descriptors
/// (0, 1, 2) that are pipes or outside files, each under its number, then every other
/// outside file any process of the tree holds (a shell's saved copy of its stdin, say),
/// once per key, under fd -1.
///
/// An outside file that is not one of the init's standard descriptors (the same device and
/// inode) is left out: CRIU then refuses the dump, naming it, and no restore is asked to
/// open a host path on the program's word.
pub fn stdio(pid: i32, inside: &[MountInfo]) -> std::io::Result<Vec<Descriptor>> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/fd"))?;
    let identity = |p: i32, fd: i32| {
        std::fs::metadata(format!("/proc/{p}/fd/{fd}"))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let init_stdio: Vec<(i32, (u64, u64))> = (0..3)
        .filter_map(|fd| identity(pid, fd).map(|id| (fd, id)))
        .collect();
    let mut out: Vec<Descriptor> = (0..3).filter_map(|fd| one(pid, fd, inside)).collect();
    for p in tree(pid) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{p}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Some(fd) = fd.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if p == pid && fd < 3 {
                continue;
            }
            if let Some(mut d) = one(p, fd, inside).filter(|d| d.external) {
                let same = identity(p, fd)
                    .and_then(|id| init_stdio.iter().find(|(_, s)| *s == id).map(|(k, _)| *k));
                if let Some(k) = same {
                    if !out.iter().any(|o| o.key == d.key) {
                        d.fd = -1;
                        d.stdio_of = Some(k);
                        out.push(d);
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_and_outside_files() {
        let inside = super::super::mounts::parse("64 42 254:0 /r / rw - ext4 x rw\n");
        assert_eq!(
            classify(1, "pipe:[4242]", 15, 4242, None, &inside),
            Some(Descriptor {
                fd: 1,
                key: "pipe:[4242]".into(),
                external: false,
                host: None,
                stdio_of: None,
            })
        );
        let null = classify(0, "/dev/null", 24, 3, None, &inside).unwrap();
        assert_eq!(null.key, "file[18:3]");
        assert!(null.external);
        assert_eq!(null.inherit_arg(0), "fd[0]:file[18:3]");
        assert_eq!(classify(2, "/log", 64, 9, None, &inside), None);
        assert_eq!(classify(2, "socket:[1]", 9, 1, None, &inside), None);
        let tty = classify(0, "/dev/pts/3", 26, 6, Some((0x8803, 0x18)), &inside).unwrap();
        assert_eq!(tty.key, "tty[8803:18]");
        assert!(tty.external);
    }
}
