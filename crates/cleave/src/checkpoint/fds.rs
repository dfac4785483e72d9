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
    inside: &[MountInfo],
) -> Option<Descriptor> {
    if link.starts_with("pipe:[") {
        return Some(Descriptor {
            fd,
            key: link.to_string(),
            external: false,
        });
    }
    if link.starts_with('/') && !inside.iter().any(|m| m.id == mnt_id) {
        return Some(Descriptor {
            fd,
            key: format!("file[{mnt_id:x}:{ino:x}]"),
            external: true,
        });
    }
    None
}

/// The standard descriptors (0, 1, 2) of `pid` that must be handed over.
pub fn stdio(pid: i32, inside: &[MountInfo]) -> std::io::Result<Vec<Descriptor>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for fd in 0..3 {
        let Ok(link) = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
            continue; // closed
        };
        let link = link.to_string_lossy().into_owned();
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))?;
        let mnt_id = info
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        let ino = std::fs::metadata(format!("/proc/{pid}/fd/{fd}"))?.ino();
        out.extend(classify(fd, &link, mnt_id, ino, inside));
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
            classify(1, "pipe:[4242]", 15, 4242, &inside),
            Some(Descriptor {
                fd: 1,
                key: "pipe:[4242]".into(),
                external: false
            })
        );
        let null = classify(0, "/dev/null", 24, 3, &inside).unwrap();
        assert_eq!(null.key, "file[18:3]");
        assert!(null.external);
        assert_eq!(null.inherit_arg(0), "fd[0]:file[18:3]");
        assert_eq!(classify(2, "/log", 64, 9, &inside), None);
        assert_eq!(classify(2, "socket:[1]", 9, 1, &inside), None);
    }
}
