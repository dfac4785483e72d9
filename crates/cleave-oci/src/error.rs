//! [`OciError`]: what is wrong with a config.json, at which JSON path.
use std::fmt;

/// A config.json value cleave refuses, named by its JSON path (`mounts[3].destination`,
/// `linux.namespaces[2].path`). Displays as one line: `PATH: PROBLEM`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct OciError {
    /// The JSON path of the value, from the config's top level (`process.args`).
    pub path: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl OciError {
    pub(crate) fn new(path: impl Into<String>, problem: Problem) -> OciError {
        OciError {
            path: path.into(),
            problem,
        }
    }
}

/// What is wrong with a config.json value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The JSON text does not parse as a runtime-spec config (serde's message, one line).
    #[error("{0}")]
    Syntax(String),
    /// A value the runtime needs is absent.
    #[error("missing")]
    Missing,
    /// A list or string that must have something in it is empty.
    #[error("must not be empty")]
    Empty,
    /// A path that must be absolute is relative.
    #[error("must be absolute")]
    NotAbsolute,
    /// `ociVersion` is not a SemVer version.
    #[error("{0:?} is not a version: write MAJOR.MINOR.PATCH, e.g. 1.0.2")]
    BadVersion(String),
    /// `ociVersion` has a major version cleave does not run.
    #[error("{0}: cleave runs configs of runtime-spec 1.x")]
    UnsupportedVersion(String),
    /// A namespace type appears twice in `linux.namespaces`.
    #[error("a {0} namespace appears twice (first at {1})")]
    DuplicateNamespace(&'static str, String),
    /// A value needs a namespace that `linux.namespaces` does not make new.
    #[error("needs a new {0} namespace in linux.namespaces")]
    NeedsNamespace(&'static str),
    /// An environment entry without `=`.
    #[error("{0:?} has no `=`: write NAME=VALUE")]
    EnvWithoutEquals(String),
    /// A resource limit's soft value above its hard one.
    #[error("the soft limit {soft} is above the hard limit {hard}")]
    SoftAboveHard {
        /// The soft limit.
        soft: u64,
        /// The hard limit.
        hard: u64,
    },
    /// A clock name `linux.timeOffsets` does not know.
    #[error("unknown clock {0:?}: use monotonic or boottime")]
    UnknownClock(String),
    /// A number out of the range the kernel takes.
    #[error("{value} is out of range: {why}")]
    OutOfRange {
        /// The value as given.
        value: String,
        /// The range.
        why: &'static str,
    },
    /// A value the kernel (or cgroup controller) would refuse or clamp.
    #[error("{0}")]
    Range(cleave::error::RangeError),
    /// A capability name cleave's table does not have.
    #[error("unknown capability {0}")]
    UnknownCapability(String),
    /// Something cleave does not do (yet); nothing is skipped silently.
    #[error("not supported by cleave: {0}")]
    Unsupported(Unsupported),
    /// A problem the library found preparing the sandbox, mapped back to the config value
    /// that produced it.
    #[error("{0}")]
    Sandbox(cleave::error::Problem),
    /// A resource limit the cgroup library refuses (a device access, a swap total).
    #[error("{0}")]
    Limit(cleave::error::LimitProblem),
}

/// A config.json feature cleave does not do yet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    /// A type cleave does not make (a device of a type other than c, u or b).
    MountType(String),
    /// A mount option cleave cannot honour for this mount.
    MountOption {
        /// The option.
        option: String,
        /// The mount's type as lowered (bind, tmpfs, proc).
        kind: &'static str,
    },
    /// A bind mount without its submounts (`bind` rather than `rbind`).
    NonRecursiveBind,
    /// Root propagation other than private, slave or shared.
    Propagation(String),
    /// A clock offset with nanoseconds.
    OffsetNanoseconds,
    /// Intel RDT (resctrl).
    IntelRdt,
    /// Something of a seccomp profile (an action, a flag, a listener, a rule).
    Seccomp(String),
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::MountType(t) => write!(f, "the type {t:?}"),
            Unsupported::MountOption { option, kind } => {
                write!(f, "the option {option:?} on a {kind} mount")
            }
            Unsupported::NonRecursiveBind => f.write_str(
                "a bind mount without its submounts: use rbind (cleave binds recursively)",
            ),
            Unsupported::Propagation(p) => write!(
                f,
                "root propagation {p:?}: use private, slave, shared or unbindable (or their r- forms)"
            ),
            Unsupported::OffsetNanoseconds => {
                f.write_str("nanoseconds in a clock offset: give whole seconds")
            }
            Unsupported::IntelRdt => f.write_str("Intel RDT (resctrl); remove linux.intelRdt"),
            Unsupported::Seccomp(what) => f.write_str(what),
        }
    }
}
