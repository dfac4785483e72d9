//! Cgroups whose cleave is gone. A killed cleave (SIGKILL, the OOM killer, a crash)
//! cannot remove its sandbox's cgroups, and neither the kernel nor anyone else would: cgroup2
//! has no release agent, and cgroup v1's `release_agent` is one program for the whole host,
//! not cleave's to take. So every leaf says who made it, and the next [`super::CgroupSet`]
//! created under the same parent removes the leaves whose maker is gone.
//!
//! A leaf is named `<name>-<pid>-<n>.<start>.<pidns>`: the maker's PID, a per-process
//! counter, the maker's start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot)
//! and the inode of its PID namespace. A PID alone is reused; PID and start time together
//! name one process for the life of the system.
//!
//! The sweep (one stat of each parent, and a readdir of those that have subdirectories)
//! removes a leaf only when all of these hold:
//! - its name has that form and its PID namespace is the sweeper's (another namespace's PIDs
//!   cannot be looked up here);
//! - `/proc/<pid>` is gone, or holds a process with another start time;
//! - the sweeper is root or owns the directory (what it could have made itself: a `/proc`
//!   mounted with `hidepid` hides other users' processes, which must not read as gone);
//! - rmdir succeeds, i.e. the cgroup holds no process and no child cgroup. A sandbox that
//!   outlived its cleave (it was not told to die with it) keeps its cgroups, and so its
//!   limits, for as long as it runs: another cleave does not decide its fate. Once it has
//!   ended, the next sweep removes them.
//!
//! Two sweepers racing over one leaf are harmless: one rmdir wins, the other gets ENOENT.
//! Every failure is ignored; a sweep never makes a create fail.
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The process that made a leaf: its PID and start time, in which PID namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks since boot.
    start: u64,
    /// The inode of `/proc/<pid>/ns/pid`.
    pidns: u64,
}

impl Owner {
    /// This process, or `None` when its `/proc` cannot vouch for it: a procfs of another
    /// PID namespace, or a time namespace whose boot-time offset would make the start time
    /// read differently from outside. Without an owner a leaf keeps the plain
    /// `<name>-<pid>-<n>` name, and nothing is swept.
    pub(crate) fn current() -> Option<Owner> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let pid = std::process::id();
        if stat.split(' ').next()?.parse::<u32>().ok()? != pid {
            return None;
        }
        let offsets = std::fs::read_to_string("/proc/self/timens_offsets").unwrap_or_default();
        let shifted = offsets.lines().any(|l| {
            let mut f = l.split_whitespace();
            f.next() == Some("boottime") && f.any(|v| v != "0")
        });
        if shifted {
            return None;
        }
        Some(Owner {
            pid,
            start: start_time(&stat)?,
            pidns: std::fs::metadata("/proc/self/ns/pid").ok()?.ino(),
        })
    }
}

/// Field 22 (starttime) of a `/proc/<pid>/stat` text. The command name (field 2) may hold
/// spaces and parentheses: the count starts after its last `)`, at field 3.
fn start_time(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// The leaf name for the `n`th set of this process.
pub(crate) fn leaf_name(name: &str, owner: Option<Owner>, n: u32) -> String {
    match owner {
        Some(o) => format!("{name}-{}-{n}.{}.{}", o.pid, o.start, o.pidns),
        None => format!("{name}-{}-{n}", std::process::id()),
    }
}

/// The maker of a leaf named by [`leaf_name`] with an owner; `None` for any other name.
pub(crate) fn parse_leaf(leaf: &str) -> Option<Owner> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (rest, pidns) = leaf.rsplit_once('.')?;
    let (rest, start) = rest.rsplit_once('.')?;
    let (rest, n) = rest.rsplit_once('-')?;
    let (name, pid) = rest.rsplit_once('-')?;
    if name.is_empty() || ![pidns, start, n, pid].into_iter().all(digits) {
        return None;
    }
    Some(Owner {
        pid: pid.parse().ok()?,
        start: start.parse().ok()?,
        pidns: pidns.parse().ok()?,
    })
}

/// Whether the process `pid` with start time `start` still runs, seen from here. Anything
/// but a clear answer counts as running.
fn alive(pid: u32, start: u64) -> bool {
    // One read(2) into a buffer that holds any stat line (a few hundred bytes; the command
    // name is at most 64 bytes even escaped): the kernel formats the line once per read
    // call, so read_to_string's growing reads would cost several times as much.
    let mut buf = [0u8; 1024];
    let read = std::fs::File::open(format!("/proc/{pid}/stat"))
        .and_then(|mut f| std::io::Read::read(&mut f, &mut buf));
    match read {
        Ok(n) => std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(start_time)
            .is_none_or(|s| s == start),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Removes, in each of `parents`, the empty leaves whose maker is gone (see the module
/// documentation); `me` is the sweeping process. Returns how many it removed.
pub(crate) fn sweep(parents: &[PathBuf], me: Owner) -> usize {
    let euid = rustix::process::geteuid().as_raw();
    let mut known: HashMap<(u32, u64), bool> = HashMap::new();
    let mut removed = 0;
    for parent in parents {
        // A cgroup directory links 2 + its subdirectories: with none, there is nothing to
        // read (one stat instead of open, getdents and close; the usual case).
        match std::fs::metadata(parent) {
            Ok(m) if m.nlink() != 2 => {}
            _ => continue,
        }
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let leaf = entry.file_name();
            let Some(owner) = leaf.to_str().and_then(parse_leaf) else {
                continue;
            };
            if owner.pidns != me.pidns || owner == me {
                continue;
            }
            let running = *known
                .entry((owner.pid, owner.start))
                .or_insert_with(|| alive(owner.pid, owner.start));
            if running || !may_remove(&parent.join(&leaf), euid) {
                continue;
            }
            // EBUSY: processes or child cgroups inside; ENOENT: another sweeper was first.
            if std::fs::remove_dir(parent.join(&leaf)).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// Root may remove any leaf; anyone else only a directory of their own.
fn may_remove(path: &Path, euid: u32) -> bool {
    euid == 0 || std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.uid() == euid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let o = Owner {
            pid: 4242,
            start: 123_456,
            pidns: 4_026_531_836,
        };
        let leaf = leaf_name("sandbox", Some(o), 7);
        assert_eq!(leaf, "sandbox-4242-7.123456.4026531836");
        assert_eq!(parse_leaf(&leaf), Some(o));
        // Names with dots and dashes of their own.
        for name in ["a-1-2.3.4", "x.y", "-", "v1.2-rc"] {
            assert_eq!(parse_leaf(&leaf_name(name, Some(o), 0)), Some(o), "{name}");
        }
        // Anything else is left alone: the old form, someone else's directories.
        for other in [
            "sandbox-4242-7",
            "-4242-7.1.2",
            "sandbox-4242-7.1.",
            "sandbox-4242-x.1.2",
            "sandbox-4242-7.1.2.",
            "sandbox-+4242-7.1.2",
            "system.slice",
            "user-1000.slice",
            "sandbox-99999999999-7.1.2",
        ] {
            assert_eq!(parse_leaf(other), None, "{other}");
        }
        assert_eq!(
            leaf_name("sandbox", None, 3),
            format!("sandbox-{}-3", std::process::id())
        );
    }

    #[test]
    fn start_times() {
        let stat = "77 (a) b) (c) S 1 77 77 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 8675309 1 2";
        assert_eq!(start_time(stat), Some(8_675_309));
        assert_eq!(start_time("77 (x) S 1"), None);
        let me = Owner::current().expect("this test's own /proc");
        assert_eq!(me.pid, std::process::id());
        assert!(alive(me.pid, me.start));
        assert!(!alive(me.pid, me.start + 1), "same PID, another process");
    }
}
