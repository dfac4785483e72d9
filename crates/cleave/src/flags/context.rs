//! The facts about the running system that some of the kernel's rules depend on, as plain
//! data: who the caller is (privilege, PID 1 of a namespace, a pending PID namespace for its
//! children) and what the kernel offers (its version, clone3). [`crate::host`] reads them
//! from the running system; anything else (a test, a judgement for another machine) states
//! them.
use super::rules::{Interface, Request};
use super::CloneFlags as F;

/// The facts about the caller and the running system that some rules depend on. Plain data:
/// [`crate::host`] reads them from the running system; a front end judging a request for
/// another machine, and a test, write them down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Context {
    /// Running kernel as (major, minor).
    pub kernel: (u32, u32),
    /// Whether clone3(2) can be called: the kernel has it (5.3+) and no seccomp filter
    /// answers ENOSYS for it.
    pub clone3: bool,
    /// Whether the caller has CAP_SYS_ADMIN in its user namespace.
    pub privileged: bool,
    /// Whether the caller is PID 1 of its PID namespace.
    pub pid_ns_init: bool,
    /// Whether the caller's children would be born in another PID namespace than its own
    /// (after unshare(CLONE_NEWPID) or setns to a PID namespace).
    pub pid_ns_for_children_differs: bool,
}

/// The first kernel with clone3(2).
pub const CLONE3_SINCE: (u32, u32) = (5, 3);

impl Context {
    /// Facts for a given kernel and privilege, with no namespace history and clone3 exactly
    /// when that kernel has it (another machine, or a test).
    pub fn assume(kernel: (u32, u32), privileged: bool) -> Context {
        Context {
            kernel,
            clone3: kernel >= CLONE3_SINCE,
            privileged,
            pid_ns_init: false,
            pid_ns_for_children_differs: false,
        }
    }

    /// The same facts with those `needs` leaves out set to the value that breaks no rule,
    /// so that two contexts that differ only in facts a request cannot see compare equal.
    pub fn only(self, needs: Needs) -> Context {
        Context {
            kernel: self.kernel,
            clone3: !needs.clone3 || self.clone3,
            privileged: !needs.privilege || self.privileged,
            pid_ns_init: needs.pid_ns_init && self.pid_ns_init,
            pid_ns_for_children_differs: needs.pid_ns_for_children
                && self.pid_ns_for_children_differs,
        }
    }
}

/// Which facts of a [`Context`] can change the verdict on a request (the kernel version
/// always can). A host reads only these: each costs a system call or a file lookup, more
/// than the clone of a small process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// [`Context::clone3`]: the request goes through clone3.
    pub clone3: bool,
    /// [`Context::privileged`]: a namespace other than a user namespace, or set_tid, without
    /// CLONE_NEWUSER (C7, C29, C30).
    pub privilege: bool,
    /// [`Context::pid_ns_init`]: CLONE_PARENT (C8).
    pub pid_ns_init: bool,
    /// [`Context::pid_ns_for_children_differs`]: CLONE_THREAD or CLONE_NEWPID (C9, C10).
    pub pid_ns_for_children: bool,
}

impl Needs {
    /// Every fact.
    pub const ALL: Needs = Needs {
        clone3: true,
        privilege: true,
        pid_ns_init: true,
        pid_ns_for_children: true,
    };

    /// The facts the rules consult for this request.
    pub fn of(request: &Request) -> Needs {
        let others = F::ALL_NAMESPACES.difference(F::NEWUSER);
        Needs {
            clone3: request.interface == Interface::Clone3,
            privilege: !request.flags.contains(F::NEWUSER)
                && (request.flags.intersects(others) || request.set_tid_len > 0),
            pid_ns_init: request.flags.contains(F::PARENT),
            pid_ns_for_children: request.flags.intersects(F::THREAD | F::NEWPID),
        }
    }
}
