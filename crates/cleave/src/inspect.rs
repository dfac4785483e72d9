//! What two running processes share, resource by resource: the kernel objects kcmp(2) can
//! compare (memory, fd table, fs attributes, signal handlers, I/O context, SysV semaphore
//! undo), every namespace (nsfs device and inode of `/proc/PID/ns/*`), thread group, parent
//! and exit signal.
//!
//! ```no_run
//! let report = cleave::inspect::compare(std::process::id() as i32, None)?;
//! for row in &report.rows {
//!     println!("{:<28} {:<16} {}", row.resource, row.flag, row.shared);
//! }
//! # Ok::<(), cleave::Error>(())
//! ```
use crate::error::{errno_text, Error, Result, TargetProblem};
use crate::flags::signal_name;
use crate::ns::{nsfs_id, Namespace};
use crate::raw::{self, KCMP_FILES, KCMP_FS, KCMP_IO, KCMP_SIGHAND, KCMP_SYSVSEM, KCMP_VM};
use serde::Serialize;
use std::io;

/// The answer of one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shared {
    /// Both processes use the same object (or have the same value).
    Yes,
    /// Each has its own.
    No,
    /// Could not be told; [`Row::reason`] says why.
    Unknown,
}

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Shared::Yes => "yes",
            Shared::No => "no",
            Shared::Unknown => "unknown",
        })
    }
}

/// One resource compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// A stable short name: `vm`, `files`, `fs`, `sighand`, `io`, `sysvsem`, `ns:<name>`
    /// (the `/proc/PID/ns` name), `thread-group`, `parent`, `exit-signal`.
    pub key: String,
    /// What it is, in words ("memory", "uts namespace").
    pub resource: String,
    /// The clone flag behind it: the one that shares it (CLONE_VM), or for a namespace the
    /// one that makes it private (CLONE_NEWUTS).
    pub flag: &'static str,
    /// The answer.
    pub shared: Shared,
    /// The evidence (inode numbers, parent PIDs, signal names); empty when there is none.
    pub detail: String,
    /// Why the answer is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Every row for one pair of processes.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The first process.
    pub pid: i32,
    /// The process it was compared with.
    pub other: i32,
    /// Whether `other` was chosen as `pid`'s parent.
    pub other_is_parent: bool,
    /// The rows, in a fixed order.
    pub rows: Vec<Row>,
}

impl Report {
    /// The row with this key (`vm`, `ns:uts`, `thread-group`, ...).
    pub fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }
}

const KCMP_ROWS: [(&str, &str, &str, i32); 6] = [
    ("vm", "memory", "CLONE_VM", KCMP_VM),
    ("files", "fd table", "CLONE_FILES", KCMP_FILES),
    (
        "fs",
        "fs attributes (root, cwd, umask)",
        "CLONE_FS",
        KCMP_FS,
    ),
    ("sighand", "signal handlers", "CLONE_SIGHAND", KCMP_SIGHAND),
    ("io", "I/O context", "CLONE_IO", KCMP_IO),
    (
        "sysvsem",
        "SysV semaphore undo",
        "CLONE_SYSVSEM",
        KCMP_SYSVSEM,
    ),
];

const NEEDS_PTRACE: &str = "needs ptrace access: run as root or the same user";

/// What /proc says about one process.
struct Facts {
    ppid: i32,
    tgid: i32,
    exit_signal: i32,
}

fn gone_or(pid: i32, what: String, e: io::Error) -> Error {
    let source = if e.kind() == io::ErrorKind::NotFound {
        io::Error::from_raw_os_error(libc::ESRCH)
    } else {
        e
    };
    Error::Inspect { pid, what, source }
}

fn facts(pid: i32) -> Result<Facts> {
    let stat_path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&stat_path)
        .map_err(|e| gone_or(pid, format!("read {stat_path}"), e))?;
    let status_path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&status_path)
        .map_err(|e| gone_or(pid, format!("read {status_path}"), e))?;
    // Fields after the command name, which may itself hold spaces and parentheses: the
    // first of them is field 3 (state), so field N is at index N - 3.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i32>().ok());
    let tgid = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok());
    match (field(4), field(38), tgid) {
        (Some(ppid), Some(exit_signal), Some(tgid)) => Ok(Facts {
            ppid,
            tgid,
            exit_signal,
        }),
        _ => Err(Error::Inspect {
            pid,
            what: format!("parse {stat_path} and {status_path}"),
            source: io::Error::from_raw_os_error(libc::EINVAL),
        }),
    }
}

/// Why kcmp or /proc could not answer, in words.
fn reason(errno: i32) -> String {
    match errno {
        libc::EPERM => format!("EPERM: {NEEDS_PTRACE}"),
        libc::EACCES => format!("EACCES: {NEEDS_PTRACE}"),
        libc::ESRCH | libc::ENOENT => "ESRCH: the process has exited".to_string(),
        libc::ENOSYS => "ENOSYS: this kernel has no kcmp (CONFIG_KCMP)".to_string(),
        n => errno_text(&io::Error::from_raw_os_error(n)),
    }
}

fn unknown(key: String, resource: String, flag: &'static str, why: String) -> Row {
    Row {
        key,
        resource,
        flag,
        shared: Shared::Unknown,
        detail: String::new(),
        reason: Some(why),
    }
}

/// A process of our own that holds no I/O context and no SysV undo list: kcmp compares the
/// kernel's pointers, and two processes that both have none (NULL) compare equal although
/// they share nothing. Comparing with this probe tells the two cases apart.
struct Probe {
    child: Option<crate::Child>,
}

impl Probe {
    fn start() -> Option<Probe> {
        use std::io::Read;
        let (mine, theirs) = std::os::unix::net::UnixStream::pair().ok()?;
        let child = crate::Fork::new()
            .spawn(move || {
                // Blocks until killed: `mine` stays open in this copy of the fd table.
                let mut b = [0u8; 1];
                let _ = (&theirs).read(&mut b);
                let _ = &mine;
                0
            })
            .ok()?;
        Some(Probe { child: Some(child) })
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn kcmp_rows(pid: i32, other: i32) -> Vec<Row> {
    let mut probe: Option<Option<Probe>> = None;
    let mut rows = Vec::new();
    for (key, resource, flag, kind) in KCMP_ROWS {
        let row = match raw::kcmp(pid, other, kind) {
            Err(e) => unknown(key.into(), resource.into(), flag, reason(e)),
            Ok(0) if pid != other && (kind == KCMP_IO || kind == KCMP_SYSVSEM) => {
                let p = probe.get_or_insert_with(Probe::start);
                match p.as_ref().map(|p| raw::kcmp(pid, p.pid(), kind)) {
                    Some(Ok(0)) => Row {
                        key: key.into(),
                        resource: resource.into(),
                        flag,
                        shared: Shared::No,
                        detail: "neither has one yet; each gets its own on first use".into(),
                        reason: None,
                    },
                    Some(Ok(_)) => Row {
                        key: key.into(),
                        resource: resource.into(),
                        flag,
                        shared: Shared::Yes,
                        detail: "kcmp: same object".into(),
                        reason: None,
                    },
                    Some(Err(e)) => unknown(key.into(), resource.into(), flag, reason(e)),
                    None => unknown(
                        key.into(),
                        resource.into(),
                        flag,
                        "kcmp says equal, which may mean that neither has one yet; telling them apart needs a probe child, which a multi-threaded caller cannot fork".into(),
                    ),
                }
            }
            Ok(r) => Row {
                key: key.into(),
                resource: resource.into(),
                flag,
                shared: if r == 0 { Shared::Yes } else { Shared::No },
                detail: if r == 0 {
                    "kcmp: same object".into()
                } else {
                    "kcmp: different objects".into()
                },
                reason: None,
            },
        };
        rows.push(row);
    }
    rows
}

/// The `/proc/PID/ns/` files compared: each namespace, and after PID and time the one
/// their children get.
fn namespace_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    Namespace::ALL.into_iter().flat_map(|ns| {
        let children = match ns {
            Namespace::Pid => Some("pid_for_children"),
            Namespace::Time => Some("time_for_children"),
            _ => None,
        };
        std::iter::once(ns.proc_name())
            .chain(children)
            .map(move |file| (file, ns.flag_name()))
    })
}

fn namespace_rows(pid: i32, other: i32) -> Vec<Row> {
    namespace_files()
        .map(|(name, flag)| {
            let key = format!("ns:{name}");
            let resource = format!("{name} namespace");
            match (
                nsfs_id(&pid.to_string(), name),
                nsfs_id(&other.to_string(), name),
            ) {
                (Ok(a), Ok(b)) => Row {
                    key,
                    resource,
                    flag,
                    shared: if a == b { Shared::Yes } else { Shared::No },
                    detail: if a == b {
                        format!("inode {}", a.1)
                    } else {
                        format!("inode {} / {}", a.1, b.1)
                    },
                    reason: None,
                },
                (Err(e), _) | (_, Err(e)) => {
                    let why = match e.raw_os_error() {
                        // Both processes existed a moment ago: the kernel lacks this one.
                        Some(libc::ENOENT)
                            if std::path::Path::new(&format!("/proc/{pid}")).exists()
                                && std::path::Path::new(&format!("/proc/{other}")).exists() =>
                        {
                            format!("this kernel has no {name} namespace")
                        }
                        Some(n) => reason(n),
                        None => e.to_string(),
                    };
                    unknown(key, resource, flag, why)
                }
            }
        })
        .collect()
}

fn signal_text(sig: i32) -> String {
    match sig {
        -1 => "none (a thread)".into(),
        0 => "none".into(),
        s => signal_name(s),
    }
}

/// Compares `pid` with `other` (default: `pid`'s parent) resource by resource.
///
/// Rows the caller may not see (kcmp and `/proc/PID/ns` need ptrace read access to both
/// processes) are [`Shared::Unknown`] with the reason; an error comes only when a process
/// does not exist (ESRCH) or `pid` has no parent to compare with.
pub fn compare(pid: i32, other: Option<i32>) -> Result<Report> {
    for p in std::iter::once(pid).chain(other) {
        if p <= 0 {
            return Err(TargetProblem::NotPositive(p).into());
        }
    }
    let a = facts(pid)?;
    let (other, other_is_parent) = match other {
        Some(o) => (o, false),
        None if a.ppid > 0 => (a.ppid, true),
        None => return Err(TargetProblem::NoParent(pid).into()),
    };
    let b = facts(other)?;
    let mut rows = kcmp_rows(pid, other);
    rows.extend(namespace_rows(pid, other));
    rows.push(Row {
        key: "thread-group".into(),
        resource: "thread group".into(),
        flag: "CLONE_THREAD",
        shared: if a.tgid == b.tgid {
            Shared::Yes
        } else {
            Shared::No
        },
        detail: format!("tgid {} / {}", a.tgid, b.tgid),
        reason: None,
    });
    let (shared, detail) = if a.ppid == b.ppid {
        (Shared::Yes, format!("both are children of {}", a.ppid))
    } else if b.ppid == pid {
        (Shared::No, format!("{pid} is the parent of {other}"))
    } else if a.ppid == other {
        (Shared::No, format!("{other} is the parent of {pid}"))
    } else {
        (Shared::No, format!("parents {} / {}", a.ppid, b.ppid))
    };
    rows.push(Row {
        key: "parent".into(),
        resource: "parent".into(),
        flag: "CLONE_PARENT",
        shared,
        detail,
        reason: None,
    });
    rows.push(Row {
        key: "exit-signal".into(),
        resource: "exit signal".into(),
        flag: "CSIGNAL",
        shared: if a.exit_signal == b.exit_signal {
            Shared::Yes
        } else {
            Shared::No
        },
        detail: format!(
            "{} / {}",
            signal_text(a.exit_signal),
            signal_text(b.exit_signal)
        ),
        reason: None,
    });
    Ok(Report {
        pid,
        other,
        other_is_parent,
        rows,
    })
}
