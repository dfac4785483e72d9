//! Kernel namespaces: the [`Namespace`] types, how a process's namespaces are told apart
//! ([`nsfs_id`]), and what the kernel accepts for a new namespace's settings, checked before
//! anything is created: the UTS names ([`uts`]) and the time namespace's clock offsets
//! ([`time`]).
mod join;
pub mod time;
pub(crate) mod user;
pub mod uts;

use crate::flags::{flag_info, CloneFlags};
pub(crate) use join::{check_join, join_steps, unshare_after_join, AFTER_USER_JOIN};

/// A kernel namespace type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// Mount (CLONE_NEWNS).
    Mount,
    /// Hostname and domain name (CLONE_NEWUTS).
    Uts,
    /// System V IPC and POSIX message queues (CLONE_NEWIPC).
    Ipc,
    /// Network stack (CLONE_NEWNET).
    Net,
    /// Process IDs (CLONE_NEWPID).
    Pid,
    /// User and group IDs, capabilities (CLONE_NEWUSER).
    User,
    /// Cgroup root (CLONE_NEWCGROUP).
    Cgroup,
    /// CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets (CLONE_NEWTIME).
    Time,
}

impl Namespace {
    /// Every namespace, in the order cleave lists them.
    pub const ALL: [Namespace; 8] = [
        Namespace::User,
        Namespace::Mount,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Cgroup,
        Namespace::Time,
    ];

    /// The clone flag creating this namespace.
    pub fn flag(self) -> CloneFlags {
        match self {
            Namespace::Mount => CloneFlags::NEWNS,
            Namespace::Uts => CloneFlags::NEWUTS,
            Namespace::Ipc => CloneFlags::NEWIPC,
            Namespace::Net => CloneFlags::NEWNET,
            Namespace::Pid => CloneFlags::NEWPID,
            Namespace::User => CloneFlags::NEWUSER,
            Namespace::Cgroup => CloneFlags::NEWCGROUP,
            Namespace::Time => CloneFlags::NEWTIME,
        }
    }

    /// The name used on the command line and in `/proc/PID/ns/` (`mnt` for mount).
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Mount => "mnt",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Pid => "pid",
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
            Namespace::Time => "time",
        }
    }

    /// The kernel name of its flag (`CLONE_NEWUTS`).
    pub fn flag_name(self) -> &'static str {
        flag_info(self.flag()).map_or("", |i| i.name)
    }

    /// The name cleave's CLI uses (`mount`, `uts`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Mount => "mount",
            other => other.proc_name(),
        }
    }

    /// Parses `mount`/`mnt`/`ns`, `uts`, `ipc`, `net`/`network`, `pid`, `user`, `cgroup`, `time`.
    pub fn from_name(name: &str) -> Option<Namespace> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "mount" | "mnt" | "ns" | "newns" => Namespace::Mount,
            "uts" | "newuts" => Namespace::Uts,
            "ipc" | "newipc" => Namespace::Ipc,
            "net" | "network" | "newnet" => Namespace::Net,
            "pid" | "newpid" => Namespace::Pid,
            "user" | "newuser" => Namespace::User,
            "cgroup" | "newcgroup" => Namespace::Cgroup,
            "time" | "newtime" => Namespace::Time,
            _ => return None,
        })
    }

    /// The namespaces whose flags are in `flags`.
    pub fn in_flags(flags: CloneFlags) -> Vec<Namespace> {
        Namespace::ALL
            .into_iter()
            .filter(|ns| flags.contains(ns.flag()))
            .collect()
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The nsfs identity (device, inode) of `/proc/PROC/ns/FILE`, where PROC is a PID or
/// `self` and FILE a namespace's [`Namespace::proc_name`] or `pid_for_children` /
/// `time_for_children`. Two processes share a namespace when the identities are equal.
pub fn nsfs_id(proc: &str, file: &str) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{proc}/ns/{file}")).map(|m| (m.dev(), m.ino()))
}

impl Namespace {
    /// Reads a namespace list, one name per item (`["user", "pid"]`, as [`Namespace::from_name`]
    /// reads them); `all` means every namespace and gives `None`.
    pub fn parse_list<'a>(
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<Vec<Namespace>>, UnknownNamespace> {
        let mut out = Vec::new();
        for item in items {
            if item.trim().eq_ignore_ascii_case("all") {
                return Ok(None);
            }
            out.push(Namespace::from_name(item).ok_or_else(|| UnknownNamespace(item.to_string()))?);
        }
        Ok(Some(out))
    }
}

/// An item of a namespace list that names no namespace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown namespace `{}`: choose from mount,uts,ipc,net,pid,user,cgroup,time, or all",
    crate::error::one_line(.0)
)]
pub struct UnknownNamespace(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_round_trip() {
        for ns in Namespace::ALL {
            assert_eq!(Namespace::from_name(ns.name()), Some(ns));
            assert_eq!(Namespace::from_name(ns.proc_name()), Some(ns));
            assert_eq!(Namespace::in_flags(ns.flag()), [ns]);
        }
        assert_eq!(Namespace::in_flags(CloneFlags::ALL_NAMESPACES).len(), 8);
    }
}
