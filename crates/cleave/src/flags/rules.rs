//! Every rule the kernel enforces on a clone request, as data.
//!
//! Each [`Rule`] names the flags involved, the errno the kernel answers, why, the kernel
//! versions where it applies, and the public test suite that probes it. [`check`] evaluates all
//! of them and returns every broken one, in the order the kernel itself checks (so the first
//! violation's errno is the one a raw call would return; see `shared/reference/kernel-rules.md`
//! section 1). Every rule is verified against the running kernel by `tests/rules.rs`.
pub use super::context::{Context, Needs, CLONE3_SINCE};
use super::CloneFlags as F;

/// Which system call carries the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    /// clone3(2): 64-bit flags, separate exit_signal, set_tid, cgroup.
    Clone3,
    /// clone(2): 32-bit flags, exit signal in the low byte.
    Legacy,
}

/// What is asked of the kernel, as the rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The flags.
    pub flags: F,
    /// The exit signal (0: none).
    pub exit_signal: i32,
    /// The system call.
    pub interface: Interface,
    /// Number of set_tid entries.
    pub set_tid_len: usize,
}

impl Request {
    /// A clone3 request with these flags and exit signal.
    pub fn new(flags: F, exit_signal: i32) -> Request {
        Request {
            flags,
            exit_signal,
            interface: Interface::Clone3,
            set_tid_len: 0,
        }
    }
}

/// One kernel rule.
#[derive(Debug)]
pub struct Rule {
    /// Short stable identifier (`sighand-needs-vm`).
    pub id: &'static str,
    /// The flags the rule is about.
    pub flags: F,
    /// The errno the kernel answers when the rule is broken.
    pub errno: i32,
    /// One sentence: why the kernel refuses.
    pub why: &'static str,
    /// First kernel where the rule holds.
    pub since: Option<(u32, u32)>,
    /// First kernel where it no longer holds.
    pub until: Option<(u32, u32)>,
    /// Only for this interface (None: both).
    pub interface: Option<Interface>,
    /// Whether the rule depends on privilege (and so changes when run unprivileged).
    pub privilege_dependent: bool,
    /// Public test material probing it.
    pub suite: &'static str,
    broken: fn(&Request, &Context) -> Option<i32>,
}

/// A broken rule and the errno the kernel will give for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: &'static Rule,
    /// The errno for this request (it can differ from `rule.errno` by privilege).
    pub errno: i32,
    /// The requested flags that break it, where the rule is about some of them (for
    /// `flag-too-new`: those this kernel predates); empty otherwise.
    pub culprits: F,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.id == other.id
    }
}
impl Eq for Rule {}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            errno_name(self.errno),
            self.rule.id,
            self.rule.why
        )?;
        let mut sep = ": ";
        for info in super::FLAG_INFO
            .iter()
            .filter(|i| self.culprits.contains(i.flag))
        {
            write!(
                f,
                "{sep}{} needs {}.{}",
                info.name, info.since.0, info.since.1
            )?;
            sep = ", ";
        }
        Ok(())
    }
}

const EINVAL: i32 = libc::EINVAL;
const EPERM: i32 = libc::EPERM;
const ENOSYS: i32 = libc::ENOSYS;

fn has(r: &Request, f: F) -> bool {
    r.flags.contains(f)
}

/// The rules, in the kernel's check order (kernel/fork.c: clone3 argument checks,
/// kernel_clone, copy_process, copy_namespaces, alloc_pid).
pub static RULES: &[Rule] = &[
    Rule {
        id: "clone3-unavailable",
        flags: F::empty(),
        errno: ENOSYS,
        why: "clone3 does not exist here: the kernel predates 5.3, or a seccomp filter answers ENOSYS for it; use legacy clone() (cleave falls back by itself)",
        since: None,
        until: None,
        interface: Some(Interface::Clone3),
        privilege_dependent: false,
        suite: "kernel-rules.md 1 and C23 (bwrap tests/try-syscall.c: ENOSYS when seccomp'd)",
        broken: |r, c| (r.interface == Interface::Clone3 && !c.clone3).then_some(ENOSYS),
    },
    Rule {
        id: "flag-too-new",
        flags: F::empty(),
        errno: EINVAL,
        why: "the kernel predates a requested flag",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "kernel/fork.c clone3_args_valid (unknown bits)",
        broken: |r, c| {
            super::FLAG_INFO
                .iter()
                .any(|i| r.flags.contains(i.flag) && c.kernel < i.since)
                .then_some(EINVAL)
        },
    },
    Rule {
        id: "clone3-only-flag",
        flags: F::CLONE3_ONLY,
        errno: EINVAL,
        why: "CLONE_NEWTIME, CLONE_CLEAR_SIGHAND and CLONE_INTO_CGROUP exist only in clone3: legacy clone() has 32-bit flags and keeps the exit signal where CLONE_NEWTIME's bit lies",
        since: None,
        until: None,
        interface: Some(Interface::Legacy),
        privilege_dependent: false,
        suite: "selftest clone3/clone3.c (New time NS); kernel-rules.md 2",
        broken: |r, _| {
            (r.interface == Interface::Legacy && r.flags.intersects(F::CLONE3_ONLY)).then_some(EINVAL)
        },
    },
    Rule {
        id: "set-tid-too-long",
        flags: F::empty(),
        errno: EINVAL,
        why: "set_tid holds at most 32 PIDs (one per PID-namespace level)",
        since: Some((5, 5)),
        until: None,
        interface: Some(Interface::Clone3),
        privilege_dependent: false,
        suite: "selftest clone3/clone3_set_tid.c",
        broken: |r, _| (r.set_tid_len > 32).then_some(EINVAL),
    },
    Rule {
        id: "exit-signal-range",
        flags: F::empty(),
        errno: EINVAL,
        why: "the exit signal must be 0 (none) or a signal number up to 64",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "selftest clone3/clone3.c (exit_signal cases); LTP clone3/clone302.c invalid signal",
        broken: |r, _| (!(0..=64).contains(&r.exit_signal)).then_some(EINVAL),
    },
    Rule {
        id: "detached-in-clone3",
        flags: F::DETACHED,
        errno: EINVAL,
        why: "clone3 rejects the obsolete CLONE_DETACHED bit",
        since: Some((5, 3)),
        until: None,
        interface: Some(Interface::Clone3),
        privilege_dependent: false,
        suite: "kernel/fork.c clone3_args_valid",
        broken: |r, _| {
            (r.interface == Interface::Clone3 && has(r, F::DETACHED)).then_some(EINVAL)
        },
    },
    Rule {
        id: "clear-sighand-with-sighand",
        flags: F::SIGHAND.union(F::CLEAR_SIGHAND),
        errno: EINVAL,
        why: "handlers cannot be both shared with the parent and reset in the child",
        since: Some((5, 5)),
        until: None,
        interface: Some(Interface::Clone3),
        privilege_dependent: false,
        suite: "selftest clone3/clone3_clear_sighand.c",
        broken: |r, _| has(r, F::SIGHAND.union(F::CLEAR_SIGHAND)).then_some(EINVAL),
    },
    Rule {
        id: "exit-signal-with-thread-or-parent",
        flags: F::THREAD.union(F::PARENT),
        errno: EINVAL,
        why: "clone3 refuses an exit signal for a thread (it has none) or a CLONE_PARENT child (the caller's own exit signal is used); pass none",
        since: Some((5, 3)),
        until: None,
        interface: Some(Interface::Clone3),
        privilege_dependent: false,
        suite: "newer clone(2) ERRORS; kernel-rules.md C16",
        broken: |r, _| {
            (r.interface == Interface::Clone3
                && r.flags.intersects(F::THREAD | F::PARENT)
                && r.exit_signal != 0)
                .then_some(EINVAL)
        },
    },
    Rule {
        id: "pidfd-with-parent-settid-legacy",
        flags: F::PIDFD.union(F::PARENT_SETTID),
        errno: EINVAL,
        why: "legacy clone() returns the pidfd through the parent_tid pointer, so it cannot also store the TID there",
        since: Some((5, 2)),
        until: None,
        interface: Some(Interface::Legacy),
        privilege_dependent: false,
        suite: "clone(2) ERRORS; kernel/fork.c kernel_clone",
        broken: |r, _| {
            (r.interface == Interface::Legacy && has(r, F::PIDFD | F::PARENT_SETTID))
                .then_some(EINVAL)
        },
    },
    Rule {
        id: "newns-with-fs",
        flags: F::NEWNS.union(F::FS),
        errno: EINVAL,
        why: "a task sharing root and cwd with its creator cannot move to another mount namespace",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "LTP clone3/clone302.c fs-newns",
        broken: |r, _| has(r, F::NEWNS | F::FS).then_some(EINVAL),
    },
    Rule {
        id: "newuser-with-fs",
        flags: F::NEWUSER.union(F::FS),
        errno: EINVAL,
        why: "sharing root and cwd across a user-namespace boundary would let the new namespace escape a chroot",
        since: Some((3, 9)),
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "clone(2) ERRORS",
        broken: |r, _| has(r, F::NEWUSER | F::FS).then_some(EINVAL),
    },
    Rule {
        id: "thread-needs-sighand",
        flags: F::THREAD.union(F::SIGHAND),
        errno: EINVAL,
        why: "threads of one group must share signal handlers: CLONE_THREAD needs CLONE_SIGHAND",
        since: Some((2, 5)),
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "LTP clone3/clone302.c thread-no-sighand",
        broken: |r, _| (has(r, F::THREAD) && !has(r, F::SIGHAND)).then_some(EINVAL),
    },
    Rule {
        id: "sighand-needs-vm",
        flags: F::SIGHAND.union(F::VM),
        errno: EINVAL,
        why: "shared handlers must run in the same address space: CLONE_SIGHAND needs CLONE_VM",
        since: Some((2, 6)),
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "LTP clone3/clone302.c sighand-no-VM; LTP clone/clone02.c",
        broken: |r, _| (has(r, F::SIGHAND) && !has(r, F::VM)).then_some(EINVAL),
    },
    Rule {
        id: "parent-from-init",
        flags: F::PARENT,
        errno: EINVAL,
        why: "PID 1 of a PID namespace has no parent inside it to hand the child to",
        since: Some((2, 6)),
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "clone(2) ERRORS (2.6.32+)",
        broken: |r, c| (has(r, F::PARENT) && c.pid_ns_init).then_some(EINVAL),
    },
    Rule {
        id: "thread-with-newuser",
        flags: F::THREAD.union(F::NEWUSER),
        errno: EINVAL,
        why: "all threads of a process live in one user namespace",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "clone(2) ERRORS",
        broken: |r, _| has(r, F::THREAD | F::NEWUSER).then_some(EINVAL),
    },
    Rule {
        id: "thread-with-newpid",
        flags: F::THREAD.union(F::NEWPID),
        errno: EINVAL,
        why: "all threads of a process live in one PID namespace",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "clone(2) ERRORS; pid_namespaces(7)",
        broken: |r, _| has(r, F::THREAD | F::NEWPID).then_some(EINVAL),
    },
    Rule {
        id: "thread-after-pid-ns-change",
        flags: F::THREAD,
        errno: EINVAL,
        why: "after unshare(CLONE_NEWPID) or setns to a PID namespace, new children are born elsewhere, so a thread cannot join the caller's group",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "clone(2) ERRORS; kernel-rules.md C9",
        broken: |r, c| (has(r, F::THREAD) && c.pid_ns_for_children_differs).then_some(EINVAL),
    },
    Rule {
        id: "pidfd-with-detached",
        flags: F::PIDFD.union(F::DETACHED),
        errno: EINVAL,
        why: "CLONE_DETACHED is reserved so that it can never be combined with CLONE_PIDFD",
        since: Some((5, 2)),
        until: None,
        interface: Some(Interface::Legacy),
        privilege_dependent: false,
        suite: "clone(2) ERRORS",
        broken: |r, _| {
            (r.interface == Interface::Legacy && has(r, F::PIDFD | F::DETACHED)).then_some(EINVAL)
        },
    },
    Rule {
        id: "pidfd-with-thread",
        flags: F::PIDFD.union(F::THREAD),
        errno: EINVAL,
        why: "before 6.9 a pidfd could refer only to a whole thread group, not to a thread",
        since: Some((5, 2)),
        until: Some((6, 9)),
        interface: None,
        privilege_dependent: false,
        suite: "clone(2) ERRORS (stale since 6.9); kernel-rules.md C14",
        broken: |r, c| (has(r, F::PIDFD | F::THREAD) && c.kernel < (6, 9)).then_some(EINVAL),
    },
    Rule {
        id: "namespace-needs-cap-sys-admin",
        flags: F::NEWNS
            .union(F::NEWUTS)
            .union(F::NEWIPC)
            .union(F::NEWNET)
            .union(F::NEWPID)
            .union(F::NEWCGROUP)
            .union(F::NEWTIME),
        errno: EPERM,
        why: "creating a namespace other than a user namespace needs CAP_SYS_ADMIN; unprivileged, add CLONE_NEWUSER (it is created first and grants it)",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: true,
        suite: "LTP clone/clone11.c, clone3/clone304.c",
        broken: |r, c| {
            let others = F::ALL_NAMESPACES.difference(F::NEWUSER);
            (!c.privileged && r.flags.intersects(others) && !has(r, F::NEWUSER)).then_some(EPERM)
        },
    },
    Rule {
        id: "newipc-with-sysvsem",
        flags: F::NEWIPC.union(F::SYSVSEM),
        errno: EINVAL,
        why: "semaphore undo lists cannot be shared across IPC namespaces (unprivileged without CLONE_NEWUSER the EPERM check comes first)",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: true,
        suite: "clone(2) ERRORS; kernel-rules.md C7",
        broken: |r, c| {
            if !has(r, F::NEWIPC | F::SYSVSEM) {
                None
            } else if !c.privileged && !has(r, F::NEWUSER) {
                Some(EPERM)
            } else {
                Some(EINVAL)
            }
        },
    },
    Rule {
        id: "newpid-after-pid-ns-change",
        flags: F::NEWPID,
        errno: EINVAL,
        why: "after unshare(CLONE_NEWPID) or setns to a PID namespace, a further PID namespace can only be created by the first child, not by the caller",
        since: None,
        until: None,
        interface: None,
        privilege_dependent: false,
        suite: "unshare(2); kernel-rules.md C10",
        broken: |r, c| (has(r, F::NEWPID) && c.pid_ns_for_children_differs).then_some(EINVAL),
    },
    Rule {
        id: "set-tid-needs-privilege",
        flags: F::empty(),
        errno: EPERM,
        why: "choosing a PID with set_tid needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in the owning user namespace",
        since: Some((5, 5)),
        until: None,
        interface: Some(Interface::Clone3),
        privilege_dependent: true,
        suite: "LTP clone3/clone304.c; selftest clone3/clone3_cap_checkpoint_restore.c",
        broken: |r, c| (r.set_tid_len > 0 && !c.privileged && !has(r, F::NEWUSER)).then_some(EPERM),
    },
];

/// Every broken rule, in the kernel's check order. Empty means the kernel will accept the
/// flags (resource limits and the like aside).
pub fn check(request: &Request, context: &Context) -> Vec<Violation> {
    RULES
        .iter()
        .filter(|rule| rule.interface.is_none_or(|i| i == request.interface))
        .filter(|rule| rule.since.is_none_or(|s| context.kernel >= s))
        .filter(|rule| rule.until.is_none_or(|u| context.kernel < u))
        .filter_map(|rule| {
            (rule.broken)(request, context).map(|errno| Violation {
                rule,
                errno,
                culprits: culprits(rule, request, context),
            })
        })
        .collect()
}

/// The requested flags a broken `rule` is about, where that is a subset worth naming.
fn culprits(rule: &Rule, request: &Request, context: &Context) -> F {
    if rule.id != "flag-too-new" {
        return F::empty();
    }
    super::FLAG_INFO
        .iter()
        .filter(|i| request.flags.contains(i.flag) && context.kernel < i.since)
        .fold(F::empty(), |f, i| f | i.flag)
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// `EINVAL` for 22, and so on (`errno 999` when unknown).
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::EUSERS => "EUSERS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETXTBSY => "ETXTBSY",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

/// Parses `6.18.44-foo` into (6, 18).
pub fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests;
