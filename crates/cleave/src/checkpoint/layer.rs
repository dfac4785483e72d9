//! A root that is not the rootfs. When the rootfs lacks a mount point, cleave puts a
//! throw-away tmpfs over it (crates/cleave/src/mount/shadow.rs) and the container's "/" is
//! that tmpfs, its entries bound back from the rootfs. CRIU restores the tree's root mount
//! from the directory given as `--root` and recreates nothing in it, so the mount points
//! the layer held (a volume's `/out`, say) would be missing at restore. The layer's own
//! entries are recorded at dump and made again, on a new tmpfs, as the restore's root.
//! What the layer's directories and files hold is not carried: they are mount points (or
//! empty), everything else of the root lives in the mounts on them.
use super::mounts::MountInfo;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// What an entry of the root layer is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// A directory.
    Dir,
    /// Anything else that is not a symlink (made as an empty file).
    File,
    /// A symlink with this target.
    Link(String),
}

/// The root layer of a container: the mode of its "/" and its entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootLayer {
    /// The permission bits of "/".
    pub mode: u32,
    /// Its entries, by name (one path component each).
    pub entries: Vec<(String, LayerKind)>,
}

/// Whether a name read from the container may be made again as one entry of a directory.
fn plain(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

/// The root layer of the process `pid` whose mounts are `inside`, when its "/" is a tmpfs
/// (never the rootfs itself: an OCI root is a directory of the host); `None` otherwise.
/// The entries are read through `/proc/PID/root`, so the container's own view.
pub fn read(pid: i32, inside: &[MountInfo]) -> std::io::Result<Option<RootLayer>> {
    let root = inside.iter().find(|m| m.mountpoint == "/");
    if root.is_none_or(|m| m.fstype != "tmpfs") {
        return Ok(None);
    }
    let dir = format!("/proc/{pid}/root");
    let mode = std::fs::metadata(&dir)?.permissions().mode() & 0o7777;
    let mut entries = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !plain(&name) {
            continue;
        }
        let kind = match e.file_type()? {
            t if t.is_dir() => LayerKind::Dir,
            t if t.is_symlink() => {
                let target = std::fs::read_link(e.path())?;
                LayerKind::Link(target.to_string_lossy().into_owned())
            }
            _ => LayerKind::File,
        };
        entries.push((name, kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(RootLayer { mode, entries }))
}

impl RootLayer {
    /// The entries as paths below `dir` (with the targets of symlinks), for the restore to
    /// make on the tmpfs it mounts there; names that are not one plain component are left
    /// out (the file is the caller's, but not trusted to be well-formed).
    pub fn paths(&self, dir: &Path) -> Vec<(std::path::PathBuf, LayerKind)> {
        self.entries
            .iter()
            .filter(|(name, kind)| {
                plain(name) && !matches!(kind, LayerKind::Link(t) if t.contains('\0'))
            })
            .map(|(name, kind)| (dir.join(name), kind.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_made_again() {
        let layer = RootLayer {
            mode: 0o755,
            entries: vec![
                ("out".into(), LayerKind::Dir),
                ("..".into(), LayerKind::Dir),
                ("a/b".into(), LayerKind::File),
                ("lib".into(), LayerKind::Link("usr/lib".into())),
            ],
        };
        let got = layer.paths(Path::new("/x"));
        assert_eq!(
            got,
            vec![
                (Path::new("/x/out").to_path_buf(), LayerKind::Dir),
                (
                    Path::new("/x/lib").to_path_buf(),
                    LayerKind::Link("usr/lib".into())
                ),
            ]
        );
    }

    #[test]
    fn a_root_on_the_rootfs_has_no_layer() {
        let inside = super::super::mounts::parse("1 0 8:1 /r / rw - ext4 x rw\n");
        assert_eq!(read(std::process::id() as i32, &inside).unwrap(), None);
    }
}
