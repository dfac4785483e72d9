//! What is wrong with a value the library was given, found before anything was created: one
//! type per concern, each with typed fields and a neutral one-line message that names no
//! option of any front end (a front end renders the fields in its own words).
use super::text::{one_line, quote_prefix};
use crate::idmap::IdMap;
use std::fmt;
use std::path::PathBuf;

/// A value outside what the kernel accepts, found before anything was created. Its words
/// are the kernel's, never a front end's: a front end names the value its own way with
/// [`RangeError::named`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value}: {why}")]
pub struct RangeError {
    /// What the value is ("hostname", "CLOCK_MONOTONIC offset", "set_tid PID").
    pub what: &'static str,
    /// The value as given; long text is cut to a short quoted prefix.
    pub value: String,
    /// What is wrong with it, and the valid range.
    pub why: String,
}

impl RangeError {
    pub(crate) fn new(what: &'static str, value: impl ToString, why: impl Into<String>) -> Self {
        RangeError {
            what,
            value: value.to_string(),
            why: why.into(),
        }
    }

    /// The message with `name` (say, a command-line option) in place of [`RangeError::what`].
    pub fn named(&self, name: &str) -> String {
        format!("{name} {}: {}", self.value, self.why)
    }
}

/// Which ids a map is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// User ids (`/proc/PID/uid_map`).
    User,
    /// Group ids (`/proc/PID/gid_map`).
    Group,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::User => "uid",
            IdKind::Group => "gid",
        })
    }
}

/// What is wrong with one `INSIDE:OUTSIDE:COUNT` id range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapFault {
    /// Not three `:`-separated fields.
    #[error("expected three numbers separated by `:`")]
    NotThreeNumbers,
    /// A field is not a 32-bit number.
    #[error("{field} `{}` is not a number from 0 to 4294967295", one_line(.text))]
    NotANumber {
        /// `INSIDE`, `OUTSIDE` or `COUNT`.
        field: &'static str,
        /// The text given.
        text: String,
    },
    /// An empty range.
    #[error("COUNT must be at least 1")]
    ZeroCount,
    /// The range reaches the invalid id `(uid_t)-1`.
    #[error("the range reaches id 4294967295, the invalid id (uid_t)-1: INSIDE+COUNT and OUTSIDE+COUNT must be at most 4294967295")]
    ReachesInvalidId,
}

/// What is wrong with the id maps of a new user namespace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdMapProblem {
    /// A range that cannot be read.
    #[error("invalid id map `{}`: {fault}; write INSIDE:OUTSIDE:COUNT, e.g. 0:100000:65536", one_line(.given))]
    Unreadable {
        /// The text given.
        given: String,
        /// What is wrong.
        fault: MapFault,
    },
    /// A range the kernel would refuse.
    #[error("{kind} map {map}: {fault}")]
    BadRange {
        /// User or group ids.
        kind: IdKind,
        /// The range.
        map: IdMap,
        /// What is wrong.
        fault: MapFault,
    },
    /// More lines than the kernel takes.
    #[error("{count} {kind} maps given; the kernel takes at most 340")]
    TooMany {
        /// User or group ids.
        kind: IdKind,
        /// How many were given.
        count: usize,
    },
    /// Two ranges overlap (the kernel answers EINVAL).
    #[error("{kind} maps {a} and {b} overlap; give disjoint ranges")]
    Overlap {
        /// User or group ids.
        kind: IdKind,
        /// One range.
        a: IdMap,
        /// The other.
        b: IdMap,
    },
    /// Automatic ranges were asked for, and the subordinate id file has none for the user.
    #[error("automatic id ranges: {file} has no range for {user} (uid {uid}); add one, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}`")]
    NoSubordinateIds {
        /// `/etc/subuid` or `/etc/subgid`.
        file: &'static str,
        /// The user's name.
        user: String,
        /// The user's id.
        uid: u32,
    },
    /// setgroups kept allowed with a map only the child could write.
    #[error("keeping setgroups allowed needs a gid map written by newgidmap or by root: an unprivileged process may map its own gid only with setgroups denied; use ranges from /etc/subgid, or deny setgroups")]
    SetgroupsNeedsHelper,
}

/// What is wrong with a cgroup limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitProblem {
    /// A memory limit too small for any program to start.
    #[error(transparent)]
    Memory(RangeError),
    /// A CPU limit outside what cpu.max holds.
    #[error(transparent)]
    Cpus(RangeError),
    /// A CPU weight outside cpu.weight's range.
    #[error(transparent)]
    CpuWeight(RangeError),
    /// A pids limit of 0, which not even the process itself fits in.
    #[error("a pids limit must be at least 1 (the process itself)")]
    NoPids,
    /// A size that cannot be read.
    #[error("invalid size {0:?}: expected a number of bytes, or a number with a unit K, M, G or T (powers of 1024; KB, MiB and the like also read), e.g. 512M or 1.5G")]
    Size(String),
    /// A CPU fraction that is not a number.
    #[error("invalid CPU fraction {0:?}: expected a number of CPUs such as 0.5 or 2")]
    CpuFraction(String),
    /// A memory+swap total below the memory limit it includes.
    #[error("a memory+swap total of {total} bytes is below the memory limit of {memory} bytes it includes: give at least the memory limit (equal means no swap), or unlimited")]
    SwapBelowMemory {
        /// The memory+swap total, in bytes.
        total: u64,
        /// The memory limit, in bytes.
        memory: u64,
    },
    /// A device rule whose access names no access (or something other than r, w, m).
    #[error(
        "invalid device access {0:?}: give one or more of r (read), w (write), m (mknod), e.g. rwm"
    )]
    DeviceAccess(String),
    /// A CFS period the kernel refuses.
    #[error(transparent)]
    CpuPeriod(RangeError),
    /// v1 CPU shares outside cpu.shares' range.
    #[error(transparent)]
    CpuShares(RangeError),
    /// A CPU or memory-node list the kernel cannot read.
    #[error("invalid CPU or memory node list {0:?}: give numbers and ranges separated by commas, e.g. 0-3,6")]
    CpuList(String),
    /// A swappiness above 100.
    #[error(transparent)]
    Swappiness(RangeError),
}

impl LimitProblem {
    /// The range error behind a limit out of range.
    pub fn range(&self) -> Option<&RangeError> {
        match self {
            LimitProblem::Memory(r)
            | LimitProblem::Cpus(r)
            | LimitProblem::CpuWeight(r)
            | LimitProblem::CpuPeriod(r)
            | LimitProblem::CpuShares(r)
            | LimitProblem::Swappiness(r) => Some(r),
            _ => None,
        }
    }
}

/// What is wrong with a cgroup set asked for (its name or its parent).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupProblem {
    /// A leaf name that cannot be one directory's name.
    #[error("invalid cgroup name {0:?}: give 1 to 200 characters without '/' or a leading '.'")]
    BadName(String),
    /// A parent was given, and the host mounts no cgroup2 hierarchy.
    #[error(
        "a cgroup parent must be a cgroup2 directory, and this host mounts no cgroup2 hierarchy"
    )]
    ParentWithoutCgroup2,
    /// The parent is not a cgroup2 directory.
    #[error("cgroup parent {} is not a cgroup2 directory (it has no cgroup.controllers)", .0.display())]
    ParentNotCgroup2(PathBuf),
    /// Device rules were given, and this host has no cgroup v1 `devices` controller: on a
    /// pure cgroup2 host the kernel enforces device access only through an eBPF program,
    /// which cleave does not load yet.
    #[error("device access rules need the cgroup v1 devices controller, which this host does not mount (on cgroup2 they need an eBPF device filter, which cleave does not load yet): drop the rules, or run on a host with the v1 devices hierarchy")]
    DevicesWithoutV1,
}

/// An unknown capability name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{}`: {}use a name from capabilities(7) such as CAP_NET_ADMIN, or ALL", one_line(.name), did_you_mean(.suggestion.as_ref()))]
pub struct CapabilityProblem {
    /// The name as given.
    pub name: String,
    /// The known capability it is closest to (within two edits), `CAP_`-prefixed.
    pub suggestion: Option<String>,
}

fn did_you_mean(s: Option<&String>) -> String {
    s.map(|s| format!("did you mean {s}? Otherwise "))
        .unwrap_or_default()
}

/// What is wrong with a `NAME=SOFT[:HARD]` resource limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("resource limit {}: {fault}; write NAME=SOFT[:HARD], e.g. nofile=1024:4096", one_line(.given))]
pub struct RlimitProblem {
    /// The text given.
    pub given: String,
    /// What is wrong.
    pub fault: RlimitFault,
}

/// What is wrong with a resource limit's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RlimitFault {
    /// No `=` between the name and the values.
    #[error("no `=`")]
    NoEquals,
    /// No such limit.
    #[error("unknown limit `{}` (known: {})", one_line(.name), crate::caps::rlimit_names().join(", "))]
    UnknownName {
        /// The name given.
        name: String,
    },
    /// A value that is neither a number nor `unlimited`.
    #[error("`{}` is not a number or `unlimited`", one_line(.0))]
    NotANumber(String),
    /// The soft limit is above the hard one (setrlimit answers EINVAL).
    #[error("the soft limit is above the hard limit")]
    SoftAboveHard,
}

/// A process id that cannot name the process to enter or inspect.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetProblem {
    /// Zero or negative.
    #[error("process id {0}: give a positive PID")]
    NotPositive(i32),
    /// A process to compare with its parent has none in this PID namespace.
    #[error("process {0} has no parent in this PID namespace: give the other PID")]
    NoParent(i32),
    /// The target is a cleave process that supervises no sandbox.
    #[error("process {0} is cleave itself and runs no sandbox now: give the PID of the sandbox's program (cleave spawn -v prints it)")]
    SupervisorWithoutChild(i32),
    /// The target is a cleave process with several children: which one is meant is unclear.
    #[error("process {pid} is cleave itself, with children {}: give the one to enter", join_pids(.children))]
    SupervisorWithChildren {
        /// The cleave process.
        pid: i32,
        /// Its children.
        children: Vec<i32>,
    },
    /// Namespaces to join without the target's user namespace, by a caller without
    /// CAP_SYS_ADMIN in its own: setns(2) needs that capability for every namespace type
    /// but user, and joining the target's user namespace first gives it.
    #[error("joining the {namespaces} namespace(s) of process {pid} needs CAP_SYS_ADMIN in the caller's own user namespace, which it lacks: join process {pid}'s user namespace too (add user to the list), which gives that capability over the namespaces it owns")]
    JoinUserFirst {
        /// The target.
        pid: i32,
        /// The namespaces asked for, comma-separated.
        namespaces: String,
    },
}

fn join_pids(pids: &[i32]) -> String {
    pids.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A spawn request that cannot be carried out as asked; nothing was created.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestProblem {
    /// Standard fds redirected in a child that shares the caller's fd table.
    #[error("stdio cannot be redirected when the fd table is shared with the caller (CLONE_FILES): the change would hit the caller too")]
    StdioWithSharedFiles,
    /// CLONE_VFORK for a child the caller must act for before it can exec.
    #[error("CLONE_VFORK would suspend the caller until exec, but this child waits for the caller first (id maps written from outside) or never execs (a PID namespace's init): drop CLONE_VFORK")]
    VforkWhileCallerActs,
    /// A fork-like child (a closure on the caller's stack copy) sharing the address space.
    #[error("a fork-like child cannot share the address space (CLONE_VM): use Task for a thread-like body or Command for a program")]
    ForkSharesVm,
    /// CLONE_INTO_CGROUP without a cgroup to go into.
    #[error("CLONE_INTO_CGROUP needs a cgroup2 directory (Command::into_cgroup)")]
    IntoCgroupWithoutCgroup,
    /// A string for exec or a setup step holds a NUL byte.
    #[error("{what} {} contains a NUL byte", quote_prefix(.value.as_bytes()))]
    NulByte {
        /// What the string is ("argument", "environment variable", a step).
        what: String,
        /// The string (lossily decoded).
        value: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn range_errors_are_named_by_the_front_end() {
        let long = vec![b'a'; 70_000];
        let e = RangeError::new("hostname", quote_prefix(&long), "too long");
        assert_eq!(
            e.named("HOSTNAME"),
            format!("HOSTNAME \"{}…\": too long", "a".repeat(20))
        );
        assert!(Error::from(e).to_string().starts_with("hostname \"aaaa"));
    }
}
