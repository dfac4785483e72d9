//! [`Enter`]: join a running process's namespaces, cgroups, root and working directory, so
//! that a program started afterwards runs beside it.
//!
//! The calling process itself moves (setns(2) changes the caller), so it must be
//! single-threaded. A new PID namespace only applies to children, which is why the program is
//! then started with [`Command`]: call [`Entered::apply`] on it to place it in the target's
//! cgroup2 directory too, and to give it the target's security context.
//!
//! By default the program gets the target's security context, as `docker exec` does: its
//! five capability sets, no_new_privs, uid, gid, supplementary groups and seccomp filters
//! (see [`Privileges`]), so that it never holds more than the target. nsenter(1) keeps the
//! caller's instead; [`Privileges::Caller`] does that.
//!
//! ```no_run
//! use cleave::{enter::Enter, Command, Namespace};
//! let entered = Enter::new(4242).namespaces(&[Namespace::Uts, Namespace::Net]).join()?;
//! let mut cmd = Command::new("hostname");
//! entered.apply(&mut cmd)?;
//! let status = cmd.status()?;
//! # Ok::<(), cleave::Error>(())
//! ```
mod cgroup;
mod context;

pub use context::Context;

use crate::error::{Error, Result, TargetProblem};
use crate::flags::CloneFlags;
use crate::ns::{nsfs_id, Namespace};
use crate::{raw, Command};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What to join of a running process. Setters record intent; [`Enter::join`] acts.
#[derive(Clone, Debug)]
pub struct Enter {
    target: i32,
    namespaces: Option<Vec<Namespace>>,
    cgroup: bool,
    root: bool,
    privileges: Privileges,
    known_filters: Option<Vec<Vec<u8>>>,
}

/// Whose security context the program started beside the target gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Privileges {
    /// The target's, as `docker exec` does: its bounding, permitted, effective,
    /// inheritable and ambient capability sets, no_new_privs, effective uid and gid,
    /// supplementary groups and seccomp filters. When the target's user namespace is not
    /// joined, its capabilities do not count where the program runs: it gets none, and
    /// no_new_privs. Refused when something cannot be copied (seccomp filters need
    /// CAP_SYS_ADMIN; taking other groups needs CAP_SETGID) rather than left out.
    #[default]
    Target,
    /// The caller's own, as nsenter(1) does: after joining a user namespace, every
    /// capability in it; no no_new_privs and no seccomp filter unless the caller has them.
    Caller,
}

/// When `pid` is cleave's init of a PID namespace (PID 1 there, named `cleave`, with one
/// child), that child: the program, which is what a caller means by entering the sandbox.
/// The init itself is not dumpable, keeps only CAP_KILL and never runs anything else.
fn program_behind_init(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let nspid: Vec<&str> = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .collect();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    if nspid.len() < 2 || nspid.last() != Some(&"1") || comm.trim_end() != "cleave" {
        return None;
    }
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    match children.split_whitespace().collect::<Vec<_>>()[..] {
        [only] => only.parse().ok(),
        _ => None,
    }
}

/// When `pid` is a cleave process that is no sandbox's init (the `cleave spawn` or `cleave
/// enter` that supervises a sandbox from outside, in the caller's namespaces), its one
/// child: the sandbox's init or program, which is what entering "cleave's pid" means.
/// Refused when it has no child or several.
fn behind_supervisor(pid: i32) -> Result<Option<i32>> {
    let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else {
        return Ok(None);
    };
    if comm.trim_end() != "cleave" || is_ns_init(pid) {
        return Ok(None);
    }
    let children: Vec<i32> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect();
    match children[..] {
        [only] => Ok(Some(only)),
        [] => Err(TargetProblem::SupervisorWithoutChild(pid).into()),
        _ => Err(TargetProblem::SupervisorWithChildren { pid, children }.into()),
    }
}

/// Whether `pid` is PID 1 of a PID namespace below the caller's.
fn is_ns_init(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let nspid: Vec<String> = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))?
                .split_whitespace()
                .map(str::to_string)
                .collect();
            Some(nspid.len() >= 2 && nspid.last().map(String::as_str) == Some("1"))
        })
        .unwrap_or(false)
}

/// How the namespaces were joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinMethod {
    /// Nothing to join: every requested namespace was already the caller's.
    None,
    /// One atomic `setns(pidfd, flags)` (Linux 5.8+).
    PidFd,
    /// One `setns` per `/proc/PID/ns/*` file (older kernels).
    NsFiles,
}

/// The result of [`Enter::join`].
#[derive(Debug)]
pub struct Entered {
    /// The process whose namespaces were joined: the target, or the program behind it
    /// when the target is cleave's init of a sandbox (see [`Enter::join`]).
    pub target: i32,
    /// The namespaces joined, in the order they were joined.
    pub joined: Vec<Namespace>,
    /// Requested namespaces skipped because the caller already was in them.
    pub already: Vec<Namespace>,
    /// How they were joined.
    pub method: JoinMethod,
    /// The target's cgroup2 directory (path as seen before joining), when it differs from the
    /// caller's.
    pub cgroup2_path: Option<PathBuf>,
    cgroup2: Option<OwnedFd>,
    /// The cgroup v1 `cgroup.procs` files the caller moved itself into.
    pub cgroup_v1: Vec<PathBuf>,
    /// Whether the caller chrooted to the target's root (skipped when it is the same).
    pub chrooted: bool,
    /// The target's security context that [`Entered::apply`] gives the program
    /// ([`Privileges::Target`]); `None` with [`Privileges::Caller`].
    pub context: Option<Context>,
}

impl Entered {
    /// Starts `cmd` in the target's cgroup2 directory (CLONE_INTO_CGROUP) when it differs
    /// from the caller's, and with the target's security context (its steps run last in
    /// the child, after any `cmd` already has).
    pub fn apply(&self, cmd: &mut Command) -> Result<()> {
        if let Some(dir) = &self.cgroup2 {
            cmd.into_cgroup(dir).map_err(|e| Error::Enter {
                what: "duplicate the cgroup2 directory fd".into(),
                source: e,
            })?;
        }
        if let Some(ctx) = &self.context {
            for step in ctx.steps() {
                cmd.push_step(step);
            }
        }
        Ok(())
    }
}

fn enter_err(what: impl Into<String>, errno: i32) -> Error {
    Error::Enter {
        what: what.into(),
        source: io::Error::from_raw_os_error(errno),
    }
}

fn io_err(what: impl Into<String>, e: io::Error) -> Error {
    let source = match e.raw_os_error() {
        // /proc/PID vanished: the process is gone.
        Some(libc::ENOENT) => io::Error::from_raw_os_error(libc::ESRCH),
        _ => e,
    };
    Error::Enter {
        what: what.into(),
        source,
    }
}

fn open_dir(path: &str) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
}

impl Enter {
    /// Everything of process `target`: all namespaces that differ from the caller's, its
    /// cgroups, root and working directory.
    pub fn new(target: i32) -> Enter {
        Enter {
            target,
            namespaces: None,
            cgroup: true,
            root: true,
            privileges: Privileges::Target,
            known_filters: None,
        }
    }

    /// The seccomp filters the target is known to have installed (classic BPF programs, as
    /// [`crate::sandbox::Security::seccomp_filters`] takes them, in the order installed),
    /// given to the program when the target's own cannot be copied: copying them
    /// (`PTRACE_SECCOMP_GET_FILTER`) needs CAP_SYS_ADMIN in the initial user namespace,
    /// which a rootless container runtime lacks, while it knows the filters from the
    /// container's configuration (as runc's `exec` installs them again). Without this,
    /// a target whose filters cannot be copied is refused.
    pub fn known_seccomp_filters(&mut self, filters: Vec<Vec<u8>>) -> &mut Enter {
        self.known_filters = Some(filters);
        self
    }

    /// Whose security context the program gets (default: the target's).
    pub fn privileges(&mut self, p: Privileges) -> &mut Enter {
        self.privileges = p;
        self
    }

    /// Only these namespaces (those identical to the caller's are skipped).
    pub fn namespaces(&mut self, ns: &[Namespace]) -> &mut Enter {
        self.namespaces = Some(ns.to_vec());
        self
    }

    /// Whether to join the target's cgroups (default yes).
    pub fn cgroup(&mut self, yes: bool) -> &mut Enter {
        self.cgroup = yes;
        self
    }

    /// Whether to take the target's root directory and working directory (default yes).
    pub fn root(&mut self, yes: bool) -> &mut Enter {
        self.root = yes;
        self
    }

    /// Moves the calling process into the target's namespaces, then its cgroups (v1 by
    /// writing `cgroup.procs`; v2 is kept for [`Entered::apply`]), then its root and cwd.
    /// With [`Privileges::Target`] it also reads the target's security context for
    /// [`Entered::apply`], and takes the target's supplementary groups itself before the
    /// first setns (a joined user namespace may forbid setgroups(2)).
    ///
    /// Everything from `/proc/PID` is opened before the first setns, while the target is still
    /// visible and the paths mean what they meant. Refused from a multi-threaded process.
    pub fn join(&self) -> Result<Entered> {
        if self.target <= 0 {
            return Err(TargetProblem::NotPositive(self.target).into());
        }
        let t = behind_supervisor(self.target)?.unwrap_or(self.target);
        let t = program_behind_init(t).unwrap_or(t);
        let threads = raw::thread_count();
        if threads > 1 {
            return Err(enter_err(
                format!("join the namespaces of process {t}: this process has {threads} threads, and setns into user and mount namespaces needs a single-threaded caller (join before starting threads)"),
                libc::EINVAL,
            ));
        }
        // A pidfd pins the target: it names this process even if its PID is reused.
        let pidfd = match raw::pidfd_open(t) {
            Ok(fd) => Some(fd),
            Err(libc::ENOSYS) => None,
            Err(e) => return Err(enter_err(format!("find process {t}"), e)),
        };

        let (wanted, explicit) = match &self.namespaces {
            Some(list) => (list.clone(), true),
            None => (Namespace::ALL.to_vec(), false),
        };
        let mut to_join = Vec::new();
        let mut already = Vec::new();
        for ns in wanted {
            if to_join.contains(&ns) || already.contains(&ns) {
                continue;
            }
            let theirs = format!("/proc/{t}/ns/{}", ns.proc_name());
            // setns(pid or time) changes what the caller's children get.
            let ours = match ns {
                Namespace::Pid | Namespace::Time => format!("{}_for_children", ns.proc_name()),
                _ => ns.proc_name().to_string(),
            };
            let a = match nsfs_id(&t.to_string(), ns.proc_name()) {
                Ok(a) => a,
                Err(e)
                    if e.raw_os_error() == Some(libc::ENOENT)
                        && !explicit
                        && Path::new(&format!("/proc/{t}")).exists() =>
                {
                    continue; // this kernel lacks the namespace type
                }
                Err(e) => return Err(io_err(format!("read {theirs}"), e)),
            };
            let b = nsfs_id("self", &ours)
                .map_err(|e| io_err(format!("read /proc/self/ns/{ours}"), e))?;
            if a == b {
                already.push(ns);
            } else {
                to_join.push(ns);
            }
        }
        // setns(2) of any type but user needs CAP_SYS_ADMIN in the caller's own user
        // namespace; joining the target's user namespace first is how a caller without it
        // (the owner of that namespace) gets it.
        let user_differs = !already.contains(&Namespace::User)
            && nsfs_id(&t.to_string(), "user").ok() != nsfs_id("self", "user").ok();
        if explicit
            && !to_join.is_empty()
            && !to_join.contains(&Namespace::User)
            && user_differs
            && !crate::host::has_cap_sys_admin()
        {
            return Err(TargetProblem::JoinUserFirst {
                pid: t,
                namespaces: to_join
                    .iter()
                    .map(|n| n.name())
                    .collect::<Vec<_>>()
                    .join(","),
            }
            .into());
        }
        // Files needed for the per-namespace fallback, opened now while /proc is ours.
        let ns_files: Vec<(Namespace, File)> = to_join
            .iter()
            .map(|&ns| {
                let p = format!("/proc/{t}/ns/{}", ns.proc_name());
                File::open(&p)
                    .map(|f| (ns, f))
                    .map_err(|e| io_err(format!("open {p}"), e))
            })
            .collect::<Result<_>>()?;

        let dirs = if self.root {
            let root = open_dir(&format!("/proc/{t}/root"))
                .map_err(|e| io_err(format!("open /proc/{t}/root"), e))?;
            let cwd = open_dir(&format!("/proc/{t}/cwd"))
                .map_err(|e| io_err(format!("open /proc/{t}/cwd"), e))?;
            let same_root = match (root.metadata(), std::fs::metadata("/")) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            Some((root, cwd, same_root))
        } else {
            None
        };

        let cgroups = if self.cgroup {
            cgroup::prepare(t)?
        } else {
            Default::default()
        };

        // A context that cannot be given (a filter not copied, groups not taken) is refused
        // once the namespaces are joined, so that a caller who may not join them hears that
        // first.
        let context = match self.privileges {
            Privileges::Caller => Ok(None),
            Privileges::Target => {
                let same_user = nsfs_id(&t.to_string(), "user")
                    .map_err(|e| io_err(format!("read /proc/{t}/ns/user"), e))?
                    == nsfs_id("self", "user").map_err(|e| io_err("read /proc/self/ns/user", e))?;
                match context::read(
                    t,
                    to_join.contains(&Namespace::User),
                    same_user,
                    self.known_filters.as_deref(),
                ) {
                    Ok(ctx) => context::take_groups(t, &ctx.groups).map(|()| Some(ctx)),
                    Err(e) => Err(e),
                }
            }
        };
        let context = match context {
            Err(e) if !matches!(e, Error::EnterContext { .. }) => return Err(e),
            other => other,
        };

        let method = if to_join.is_empty() {
            JoinMethod::None
        } else {
            join_namespaces(t, pidfd.as_ref(), &to_join, &ns_files)?
        };
        let context = context?;
        let joined = if method == JoinMethod::NsFiles {
            ns_files.iter().map(|(ns, _)| *ns).collect()
        } else {
            to_join
        };

        let mut cgroup_v1 = Vec::new();
        for (path, mut file) in cgroups.v1 {
            let pid = std::process::id();
            file.write_all(pid.to_string().as_bytes()).map_err(|e| {
                io_err(
                    format!(
                        "move into the cgroup of process {t} (write {pid} to {})",
                        path.display()
                    ),
                    e,
                )
            })?;
            cgroup_v1.push(path);
        }

        let mut chrooted = false;
        if let Some((root, cwd, same_root)) = dirs {
            if !same_root {
                raw::fchdir(root.as_fd())
                    .map_err(|e| enter_err(format!("change to the root of process {t}"), e))?;
                std::os::unix::fs::chroot(".")
                    .map_err(|e| io_err(format!("chroot to the root of process {t}"), e))?;
                chrooted = true;
            }
            raw::fchdir(cwd.as_fd()).map_err(|e| {
                enter_err(format!("change to the working directory of process {t}"), e)
            })?;
        }

        Ok(Entered {
            target: t,
            joined,
            already,
            method,
            cgroup2_path: cgroups.v2_path,
            cgroup2: cgroups.v2,
            cgroup_v1,
            chrooted,
            context,
        })
    }
}

fn names(list: &[Namespace]) -> String {
    list.iter().map(|n| n.name()).collect::<Vec<_>>().join(", ")
}

/// One atomic setns through the pidfd; per-file setns when the kernel predates it (EINVAL
/// for a pidfd before 5.8).
fn join_namespaces(
    t: i32,
    pidfd: Option<&OwnedFd>,
    to_join: &[Namespace],
    files: &[(Namespace, File)],
) -> Result<JoinMethod> {
    let what = || format!("join the namespaces of process {t} ({})", names(to_join));
    if let Some(fd) = pidfd {
        let flags = to_join
            .iter()
            .fold(CloneFlags::empty(), |f, ns| f | ns.flag());
        match raw::setns(fd.as_fd(), flags.bits() as i32) {
            Ok(()) => return Ok(JoinMethod::PidFd),
            Err(libc::EINVAL) => {}
            Err(e) => return Err(enter_err(what(), e)),
        }
    }
    // Unprivileged callers gain their capabilities from the target's user namespace, so it
    // comes first; a privileged caller joins it last, keeping its own powers for the rest.
    let privileged = crate::host::has_cap_sys_admin();
    let mut order: Vec<&(Namespace, File)> = files.iter().collect();
    order.sort_by_key(|(ns, _)| match (ns, privileged) {
        (Namespace::User, false) => 0,
        (Namespace::User, true) => 3,
        (Namespace::Mount, _) => 2,
        _ => 1,
    });
    for (ns, file) in order {
        raw::setns(file.as_fd(), ns.flag().bits() as i32).map_err(|e| {
            enter_err(
                format!("join the {} namespace of process {t}", ns.name()),
                e,
            )
        })?;
    }
    Ok(JoinMethod::NsFiles)
}
