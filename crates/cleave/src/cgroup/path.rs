//! [`CgroupPath`]: the path a container configuration names for its cgroup (OCI
//! `linux.cgroupsPath`), checked before anything is created.
use super::sweep::parse_leaf;
use crate::error::{Error, Result};
use std::fmt;
use std::path::{Path, PathBuf};

/// What is wrong with a cgroup path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgroupPathError {
    /// It names the root of the hierarchy (or nothing), which no container may own.
    Root,
    /// A component is `.` or `..`.
    Dots,
    /// It holds a NUL byte or a newline.
    BadByte,
    /// It has systemd's `slice:prefix:name` form.
    Systemd,
    /// A component has the form of the leaves cleave makes for itself
    /// (`<name>-<pid>-<n>.<start>.<pidns>`), which a sweep may remove once empty.
    Reserved,
}

impl fmt::Display for CgroupPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CgroupPathError::Root => "names the root cgroup: give a path below it, e.g. /machine/ctr-1",
            CgroupPathError::Dots => "a component is \".\" or \"..\": give a plain path below the root, e.g. /machine/ctr-1",
            CgroupPathError::BadByte => "holds a NUL byte or a newline",
            CgroupPathError::Systemd => "has systemd's slice:prefix:name form, which asks for a systemd scope over D-Bus; cleave manages cgroups through the cgroup filesystem: give a path such as /system.slice/prefix-name.scope instead",
            CgroupPathError::Reserved => "a component has the form of cleave's own leaves (name-pid-n.start.pidns), which are removed once their maker is gone: choose another name",
        })
    }
}

/// A cgroup path below each hierarchy's root (or below a delegated cgroup2 parent), as a
/// container configuration names it: `/machine/ctr-1` and `machine/ctr-1` are the same path.
///
/// The systemd form `slice:prefix:name` is refused ([`CgroupPathError::Systemd`]): it asks
/// the runtime to have systemd create a scope unit over D-Bus, which cleave does not do. A
/// front end that meets it can fall back to the path systemd would have used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupPath(PathBuf);

impl CgroupPath {
    /// Checks `path`: leading and doubled `/` are dropped; refused are the root itself, `.`
    /// and `..` components, NUL and newline bytes, the systemd form, and components that look
    /// like cleave's own swept leaves ([`Error::CgroupPath`]).
    pub fn parse(path: &str) -> Result<CgroupPath> {
        let bad = |why| {
            Err(Error::CgroupPath {
                path: path.to_string(),
                why,
            })
        };
        if path.contains(['\0', '\n']) {
            return bad(CgroupPathError::BadByte);
        }
        if !path.contains('/') && path.split(':').count() == 3 {
            return bad(CgroupPathError::Systemd);
        }
        let mut clean = PathBuf::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." {
                return bad(CgroupPathError::Dots);
            }
            if parse_leaf(part).is_some() {
                return bad(CgroupPathError::Reserved);
            }
            clean.push(part);
        }
        if clean.as_os_str().is_empty() {
            return bad(CgroupPathError::Root);
        }
        Ok(CgroupPath(clean))
    }

    /// The path, relative (no leading `/`).
    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

impl fmt::Display for CgroupPath {
    /// With a leading `/`, as a configuration writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.0.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        for (given, clean) in [
            ("/machine/ctr-1", "machine/ctr-1"),
            ("machine/ctr-1", "machine/ctr-1"),
            ("//a///b/", "a/b"),
            ("ctr", "ctr"),
            ("a:b", "a:b"),
            ("/x/a:b:c", "x/a:b:c"),
            ("/.hidden/x", ".hidden/x"),
        ] {
            let p = CgroupPath::parse(given).unwrap();
            assert_eq!(p.as_path(), Path::new(clean), "{given}");
            assert_eq!(p.to_string(), format!("/{clean}"));
        }
        for (given, why) in [
            ("", CgroupPathError::Root),
            ("/", CgroupPathError::Root),
            ("//", CgroupPathError::Root),
            ("/a/../b", CgroupPathError::Dots),
            ("..", CgroupPathError::Dots),
            ("./a", CgroupPathError::Dots),
            ("a\0b", CgroupPathError::BadByte),
            ("a\nb", CgroupPathError::BadByte),
            ("system.slice:cleave:ctr", CgroupPathError::Systemd),
            (":cleave:ctr", CgroupPathError::Systemd),
            (
                "/cleave/sandbox-4242-7.123.4026531836",
                CgroupPathError::Reserved,
            ),
        ] {
            match CgroupPath::parse(given) {
                Err(Error::CgroupPath { path, why: got }) => {
                    assert_eq!(got, why, "{given:?}");
                    assert_eq!(path, given);
                }
                other => panic!("{given:?}: {other:?}"),
            }
        }
        let e = CgroupPath::parse("system.slice:cleave:ctr").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cgroup path \"system.slice:cleave:ctr\": {}",
                CgroupPathError::Systemd
            )
        );
    }
}
