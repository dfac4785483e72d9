//! User and group id maps for a new user namespace: parsing, checking, rendering, and who
//! writes them (the child itself, cleave as root, or the setuid helpers newuidmap and
//! newgidmap from /etc/subuid and /etc/subgid). See user_namespaces(7), "User and group ID
//! mappings".
use crate::error::{Error, IdKind, IdMapProblem, MapFault, Result};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// `(uid_t)-1`, the id that is never valid: no map may reach it.
pub const ID_LIMIT: u32 = u32::MAX;

/// One line of a uid_map or gid_map: `count` ids from `inside` map to ids from `outside`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    /// First id inside the namespace.
    pub inside: u32,
    /// First id outside (in the caller's user namespace).
    pub outside: u32,
    /// How many consecutive ids.
    pub count: u32,
}

impl IdMap {
    /// A map of one id.
    pub fn single(inside: u32, outside: u32) -> IdMap {
        IdMap {
            inside,
            outside,
            count: 1,
        }
    }

    /// Checks the kernel's rule for one map line (`map_write` in kernel/user_namespace.c):
    /// COUNT at least 1, and neither range may reach id 4294967295, which is `(uid_t)-1`,
    /// the invalid id (INSIDE+COUNT and OUTSIDE+COUNT at most [`ID_LIMIT`]). Measured on
    /// 6.18: `4294967294 0 1` and `0 0 4294967295` are taken, `4294967295 0 1`,
    /// `0 4294967295 1` and `1 0 4294967295` refused with EINVAL.
    pub fn check(&self) -> std::result::Result<(), MapFault> {
        if self.count == 0 {
            return Err(MapFault::ZeroCount);
        }
        let end = |first: u32| u64::from(first) + u64::from(self.count);
        let limit = u64::from(ID_LIMIT);
        if end(self.inside) > limit || end(self.outside) > limit {
            return Err(MapFault::ReachesInvalidId);
        }
        Ok(())
    }

    fn contains_inside(&self, id: u32) -> bool {
        id >= self.inside && (id - self.inside) < self.count
    }
}

impl FromStr for IdMap {
    type Err = Error;

    /// Reads `INSIDE:OUTSIDE:COUNT`, e.g. `0:100000:65536`.
    fn from_str(s: &str) -> Result<IdMap> {
        let bad = |fault: MapFault| {
            Error::from(IdMapProblem::Unreadable {
                given: s.to_string(),
                fault,
            })
        };
        let parts: Vec<&str> = s.trim().split(':').collect();
        let [inside, outside, count] = parts.as_slice() else {
            return Err(bad(MapFault::NotThreeNumbers));
        };
        let num = |t: &str, field: &'static str| {
            t.parse::<u32>().map_err(|_| {
                bad(MapFault::NotANumber {
                    field,
                    text: t.to_string(),
                })
            })
        };
        let map = IdMap {
            inside: num(inside, "INSIDE")?,
            outside: num(outside, "OUTSIDE")?,
            count: num(count, "COUNT")?,
        };
        map.check().map_err(bad)?;
        Ok(map)
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.inside, self.outside, self.count)
    }
}

/// The text the kernel expects in /proc/PID/uid_map: one `inside outside count` line each.
pub fn render(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.inside, m.outside, m.count))
        .collect()
}

/// Refuses overlapping ranges (the kernel answers EINVAL) and more than 340 lines.
pub fn check(maps: &[IdMap], kind: IdKind) -> Result<()> {
    for m in maps {
        m.check().map_err(|fault| IdMapProblem::BadRange {
            kind,
            map: *m,
            fault,
        })?;
    }
    if maps.len() > 340 {
        return Err(IdMapProblem::TooMany {
            kind,
            count: maps.len(),
        }
        .into());
    }
    for (i, a) in maps.iter().enumerate() {
        for b in &maps[i + 1..] {
            let overlap = |x0: u32, y0: u32, n1: u32, n2: u32| {
                u64::from(x0) < u64::from(y0) + u64::from(n2)
                    && u64::from(y0) < u64::from(x0) + u64::from(n1)
            };
            if overlap(a.inside, b.inside, a.count, b.count)
                || overlap(a.outside, b.outside, a.count, b.count)
            {
                return Err(IdMapProblem::Overlap { kind, a: *a, b: *b }.into());
            }
        }
    }
    Ok(())
}

/// Whether `id` is mapped by `maps` (inside).
pub fn maps_inside(maps: &[IdMap], id: u32) -> bool {
    maps.iter().any(|m| m.contains_inside(id))
}

/// The id inside that `outside` maps to, if any.
pub fn inside_of(maps: &[IdMap], outside: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        (outside >= m.outside && outside - m.outside < m.count)
            .then(|| m.inside + (outside - m.outside))
    })
}

/// Which ids the new user namespace gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IdMapping {
    /// The caller becomes root (uid and gid 0) inside: `unshare -r`. The default.
    #[default]
    Root,
    /// The caller keeps its own uid and gid inside.
    Current,
    /// Explicit ranges (written by cleave when run as root, else by newuidmap/newgidmap).
    Custom {
        /// uid map lines.
        users: Vec<IdMap>,
        /// gid map lines.
        groups: Vec<IdMap>,
    },
    /// The caller as root, plus the caller's ranges from /etc/subuid and /etc/subgid from
    /// id 1 up, through newuidmap and newgidmap.
    Auto,
    /// Written by someone else (newuidmap and newgidmap run by the caller, say) while the
    /// child waits in the `on_clone` of [`crate::sandbox::Prepared::spawn_with`]: cleave
    /// writes no map and changes no id, and the program runs as whatever the maps make of
    /// the caller (bubblewrap's --userns-block-fd).
    External,
}

/// Who writes the maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapWriter {
    /// The child writes its own single-id maps (setgroups must be denied).
    Child,
    /// cleave writes /proc/PID/{uid,gid}_map (it has CAP_SETUID/CAP_SETGID).
    Parent,
    /// newuidmap and newgidmap, which check /etc/subuid and /etc/subgid.
    Helpers,
    /// Someone else ([`IdMapping::External`]): nothing is written here.
    External,
}

/// The maps to write and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedMaps {
    /// uid_map lines.
    pub users: Vec<IdMap>,
    /// gid_map lines.
    pub groups: Vec<IdMap>,
    /// Who writes them.
    pub writer: MapWriter,
    /// Whether setgroups(2) stays allowed inside.
    pub setgroups: bool,
}

/// A range from /etc/subuid or /etc/subgid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubRange {
    /// First subordinate id.
    pub start: u32,
    /// How many.
    pub count: u32,
}

/// The ranges of `user` (by name or number `uid`) in a subuid/subgid file's text.
pub fn parse_subids(text: &str, user: &str, uid: u32) -> Vec<SubRange> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            if who != user && who.parse::<u32>().ok() != Some(uid) {
                return None;
            }
            Some(SubRange {
                start: start.trim().parse().ok()?,
                count: count.trim().parse().ok()?,
            })
        })
        .filter(|r| r.count > 0)
        .collect()
}

fn subids(path: &'static str, user: &str, uid: u32) -> Result<Vec<SubRange>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ranges = parse_subids(&text, user, uid);
    if ranges.is_empty() {
        return Err(IdMapProblem::NoSubordinateIds {
            file: path,
            user: user.to_string(),
            uid,
        }
        .into());
    }
    Ok(ranges)
}

fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

fn ranges_from(first_inside: u32, ranges: &[SubRange]) -> Vec<IdMap> {
    let mut inside = first_inside;
    ranges
        .iter()
        .map(|r| {
            let m = IdMap {
                inside,
                outside: r.start,
                count: r.count,
            };
            inside = inside.saturating_add(r.count);
            m
        })
        .collect()
}

impl IdMapping {
    /// Decides the maps and their writer for a caller with `euid`/`egid`.
    /// `setgroups`: `Some(true)` to keep setgroups(2) allowed, `Some(false)` to deny it,
    /// `None` for the default (allowed when cleave or the helpers write the gid map).
    pub fn resolve(&self, euid: u32, egid: u32, setgroups: Option<bool>) -> Result<ResolvedMaps> {
        if *self == IdMapping::External {
            return Ok(ResolvedMaps {
                users: Vec::new(),
                groups: Vec::new(),
                writer: MapWriter::External,
                setgroups: false,
            });
        }
        let root = euid == 0;
        let (users, groups) = match self {
            IdMapping::Root => (vec![IdMap::single(0, euid)], vec![IdMap::single(0, egid)]),
            IdMapping::Current => (
                vec![IdMap::single(euid, euid)],
                vec![IdMap::single(egid, egid)],
            ),
            IdMapping::Custom { users, groups } => {
                let users = if users.is_empty() {
                    vec![IdMap::single(0, euid)]
                } else {
                    users.clone()
                };
                let groups = if groups.is_empty() {
                    vec![IdMap::single(0, egid)]
                } else {
                    groups.clone()
                };
                (users, groups)
            }
            IdMapping::External => unreachable!("answered above"),
            IdMapping::Auto => {
                let name = user_name(euid);
                let mut users = vec![IdMap::single(0, euid)];
                users.extend(ranges_from(1, &subids("/etc/subuid", &name, euid)?));
                let mut groups = vec![IdMap::single(0, egid)];
                groups.extend(ranges_from(1, &subids("/etc/subgid", &name, euid)?));
                (users, groups)
            }
        };
        check(&users, IdKind::User)?;
        check(&groups, IdKind::Group)?;
        let self_map = |maps: &[IdMap], id: u32| {
            maps.len() == 1 && maps[0].outside == id && maps[0].count == 1
        };
        let child_can = self_map(&users, euid) && self_map(&groups, egid);
        let writer = if child_can && setgroups != Some(true) {
            MapWriter::Child
        } else if root {
            MapWriter::Parent
        } else if child_can {
            return Err(IdMapProblem::SetgroupsNeedsHelper.into());
        } else {
            MapWriter::Helpers
        };
        let setgroups = match writer {
            MapWriter::Child => false,
            _ => setgroups.unwrap_or(true),
        };
        Ok(ResolvedMaps {
            users,
            groups,
            writer,
            setgroups,
        })
    }
}

impl ResolvedMaps {
    /// Writes the maps of child `pid` from the caller (writers Parent and Helpers).
    pub fn write_from_parent(&self, pid: i32) -> Result<()> {
        let proc = format!("/proc/{pid}");
        match self.writer {
            MapWriter::Child | MapWriter::External => Ok(()),
            MapWriter::Parent => {
                if !self.setgroups {
                    write_proc(&proc, "setgroups", "deny")?;
                }
                write_proc(&proc, "gid_map", &render(&self.groups))?;
                write_proc(&proc, "uid_map", &render(&self.users))
            }
            MapWriter::Helpers => {
                if !self.setgroups {
                    write_proc(&proc, "setgroups", "deny")?;
                }
                run_helper("newgidmap", pid, &self.groups)?;
                run_helper("newuidmap", pid, &self.users)
            }
        }
    }
}

fn write_proc(proc: &str, file: &str, text: &str) -> Result<()> {
    let path = Path::new(proc).join(file);
    std::fs::write(&path, text).map_err(|source| Error::IdMap {
        what: format!(
            "failed to write {:?} to {}",
            text.trim_end(),
            path.display()
        ),
        source,
    })
}

fn run_helper(helper: &str, pid: i32, maps: &[IdMap]) -> Result<()> {
    let mut cmd = std::process::Command::new(helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.inside.to_string(),
            m.outside.to_string(),
            m.count.to_string(),
        ]);
    }
    let out = cmd.output().map_err(|source| Error::IdMap {
        what: format!(
            "failed to run {helper}: install the `uidmap` package (apt install uidmap) or run as root"
        ),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::IdMap {
            what: format!(
                "{helper} {pid} refused the map ({}): {}",
                maps.iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render() {
        let m: IdMap = "0:100000:65536".parse().unwrap();
        assert_eq!(
            m,
            IdMap {
                inside: 0,
                outside: 100000,
                count: 65536
            }
        );
        assert_eq!(
            render(&[m, IdMap::single(65536, 1000)]),
            "0 100000 65536\n65536 1000 1\n"
        );
        for ok in [
            "4294967294:0:1",
            "0:4294967294:1",
            "0:0:4294967295",
            "1:1:4294967294",
        ] {
            assert!(ok.parse::<IdMap>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "0:1",
            "0:1:0",
            "a:1:1",
            "0:1:1:1",
            "4294967295:0:2",
            "4294967295:0:1",
            "0:4294967295:1",
            "1:0:4294967295",
            "0:1:4294967295",
            "0:0:4294967296",
            "-1:0:1",
        ] {
            let e = bad.parse::<IdMap>().unwrap_err().to_string();
            assert!(e.contains("INSIDE:OUTSIDE:COUNT"), "{bad}: {e}");
        }
    }

    #[test]
    fn overlaps_are_refused() {
        let a = IdMap {
            inside: 0,
            outside: 1000,
            count: 10,
        };
        let b = IdMap {
            inside: 5,
            outside: 5000,
            count: 10,
        };
        assert!(matches!(
            check(&[a, b], IdKind::User),
            Err(Error::IdMapping(IdMapProblem::Overlap {
                kind: IdKind::User,
                ..
            }))
        ));
        let c = IdMap {
            inside: 10,
            outside: 1005,
            count: 1,
        };
        assert!(check(&[a, c], IdKind::User).is_err());
        let d = IdMap {
            inside: 10,
            outside: 1010,
            count: 1,
        };
        assert!(check(&[a, d], IdKind::User).is_ok());
        // A map built in code gets the same range rule as a parsed one.
        let past = IdMap::single(ID_LIMIT, 0);
        let e = check(&[past], IdKind::User).unwrap_err().to_string();
        assert!(
            e.contains("uid map 4294967295:0:1") && e.contains("at most 4294967295"),
            "{e}"
        );
    }

    #[test]
    fn writer_choice() {
        let r = IdMapping::Root.resolve(1000, 1000, None).unwrap();
        assert_eq!(r.writer, MapWriter::Child);
        assert!(!r.setgroups);
        assert_eq!(r.users, [IdMap::single(0, 1000)]);
        let r = IdMapping::Current.resolve(0, 0, Some(true)).unwrap();
        assert_eq!((r.writer, r.setgroups), (MapWriter::Parent, true));
        assert!(IdMapping::Root.resolve(1000, 1000, Some(true)).is_err());
        let custom = IdMapping::Custom {
            users: vec!["0:100000:65536".parse().unwrap()],
            groups: vec![],
        };
        assert_eq!(
            custom.resolve(1000, 1000, None).unwrap().writer,
            MapWriter::Helpers
        );
        assert_eq!(
            custom.resolve(0, 0, None).unwrap().writer,
            MapWriter::Parent
        );
    }

    #[test]
    fn subid_ranges() {
        let text = "alice:100000:65536\n1001:200000:1000\nbob:300000:10\n";
        assert_eq!(
            parse_subids(text, "alice", 1000),
            [SubRange {
                start: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            parse_subids(text, "carol", 1001),
            [SubRange {
                start: 200000,
                count: 1000
            }]
        );
        let maps = ranges_from(1, &parse_subids(text, "alice", 1000));
        assert_eq!(
            maps,
            [IdMap {
                inside: 1,
                outside: 100000,
                count: 65536
            }]
        );
    }
}
