//! The files a sandbox's init maps from outside the sandbox. cleave's init is a clone of
//! cleave, not a program run inside: it maps cleave's binary and the libraries cleave was
//! loaded with, from the mounts of the namespace `cleave spawn` ran in, which the
//! sandbox's mount namespace does not hold (a copy of a mount has another id). CRIU cannot
//! dump a mapping of a mount it does not see, so each such file is declared external at
//! dump (`--external file[MNT:INO]`) and, at restore, the restoring cleave hands CRIU its
//! own open copy of the same file (`--inherit-fd`). CRIU keeps each file's size and ELF
//! build-id in its images and refuses a restore by a cleave built otherwise.
//!
//! A restore never opens a path the image names: it hands over only files that it maps
//! itself (its own binary and libraries, found in /proc/self/maps).
use super::mounts::MountInfo;
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One file the init maps from outside the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapped {
    /// CRIU's key for it: `file[MNTID:INODE]` (hexadecimal).
    pub key: String,
    /// Its path as the dumping cleave saw it.
    pub path: PathBuf,
}

/// A line of /proc/PID/maps with a file: its address range, `major:minor`, inode and path.
fn file_lines(maps: &str) -> Vec<(&str, &str, u64, &str)> {
    maps.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(6, ' ').collect();
            let path = f.get(5)?.trim_start();
            let ino: u64 = f.get(4)?.parse().ok()?;
            (path.starts_with('/') && ino != 0).then_some((f[0], f[3], ino, path))
        })
        .collect()
}

/// The files process `pid` maps from mounts that are not among `inside` (the mounts of its
/// mount namespace), once each: read through /proc/PID/map_files, which needs
/// CAP_SYS_ADMIN (as CRIU does).
pub fn outside_maps(pid: i32, inside: &[MountInfo]) -> std::io::Result<Vec<Mapped>> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let mut out: Vec<Mapped> = Vec::new();
    for (range, _, ino, path) in file_lines(&maps) {
        let file = std::fs::File::open(format!("/proc/{pid}/map_files/{range}"))?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))?;
        let mnt_id = info
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        if inside.iter().any(|m| m.id == mnt_id) {
            continue;
        }
        let key = format!("file[{mnt_id:x}:{ino:x}]");
        if !out.iter().any(|m| m.key == key) {
            out.push(Mapped {
                key,
                path: PathBuf::from(path.trim_end_matches(" (deleted)")),
            });
        }
    }
    Ok(out)
}

/// This process's own open copy of each file of `mapped`, in order, or the first that is
/// not a file this process maps itself (its binary and libraries): the path an image
/// names is opened only when this process maps a file at that path, and the file opened
/// must be that very file (device and inode of the mapping).
pub fn own_copies(mapped: &[Mapped]) -> Result<Vec<OwnedFd>, PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let own = file_lines(&maps);
    let mut out = Vec::new();
    for m in mapped {
        let Some(p) = m.path.to_str() else {
            return Err(m.path.clone());
        };
        let Some(&(_, dev, ino, _)) = own.iter().find(|(_, _, _, path)| *path == p) else {
            return Err(m.path.clone());
        };
        let file = std::fs::File::open(Path::new(p)).map_err(|_| m.path.clone())?;
        let meta = file.metadata().map_err(|_| m.path.clone())?;
        let (major, minor) = dev.split_once(':').unwrap_or_default();
        let same_dev = u64::from_str_radix(major, 16).ok() == Some(libc_major(meta.dev()))
            && u64::from_str_radix(minor, 16).ok() == Some(libc_minor(meta.dev()));
        if meta.ino() != ino || !same_dev {
            return Err(m.path.clone());
        }
        out.push(OwnedFd::from(file));
    }
    Ok(out)
}

/// The major number of a `dev_t` (glibc's encoding).
fn libc_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}

/// The minor number of a `dev_t` (glibc's encoding).
fn libc_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_files() {
        let maps = "559e4bb29000-559e4beaa000 r--p 00000000 fe:00 5409957                    /usr/bin/cleave\n\
                    559e4c983000-559e4c984000 rw-p 00000000 00:00 0 \n\
                    7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]\n\
                    7f00-7f10 r-xp 00000000 fe:00 42                          /lib/x 86.so (deleted)\n";
        let l = file_lines(maps);
        assert_eq!(l.len(), 2);
        assert_eq!(
            l[0],
            (
                "559e4bb29000-559e4beaa000",
                "fe:00",
                5409957,
                "/usr/bin/cleave"
            )
        );
        assert_eq!(l[1].3, "/lib/x 86.so (deleted)");
    }

    #[test]
    fn own_binary_only() {
        // This test binary maps itself; /etc/passwd it does not.
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let own = Mapped {
            key: "file[1:2]".into(),
            path: exe,
        };
        assert_eq!(own_copies(std::slice::from_ref(&own)).unwrap().len(), 1);
        let other = Mapped {
            key: "file[1:3]".into(),
            path: "/etc/passwd".into(),
        };
        assert_eq!(
            own_copies(&[own, other]).unwrap_err(),
            Path::new("/etc/passwd")
        );
    }
}
