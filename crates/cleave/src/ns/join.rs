//! Joining existing namespaces by path (`/proc/PID/ns/TYPE`, or a file such a namespace is
//! bind-mounted on) with setns(2), first thing in the child.
use crate::error::{Error, Origin, Problem, Result};
use crate::flags::CloneFlags;
use crate::ns::Namespace;
use crate::plan::{text, Step};
use cleave_child::{Op, Slot};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// ioctl(2) NS_GET_NSTYPE: the CLONE_NEW* type of a namespace fd.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Refuses `path` unless it is a namespace of type `ns` (ioctl_ns(2)).
pub(crate) fn check_join(ns: Namespace, path: &Path) -> Result<()> {
    let wrong = |why: String| Error::Invalid {
        origin: Origin::Join(ns),
        problem: Problem::NotANamespace {
            ns,
            path: path.to_path_buf(),
            why,
        },
    };
    let file = std::fs::File::open(path).map_err(|e| wrong(e.to_string()))?;
    // rustix lacks a typed NS_GET_NSTYPE (its generic ioctl is as unsafe): libc's.
    // SAFETY: NS_GET_NSTYPE takes no argument and reads nothing from memory.
    #[allow(unsafe_code)]
    let kind = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE) };
    if kind < 0 {
        return Err(wrong("not a namespace file".into()));
    }
    if kind as u64 != ns.flag().bits() {
        let other = Namespace::ALL
            .iter()
            .find(|n| n.flag().bits() == kind as u64)
            .map_or("another", |n| n.name());
        return Err(wrong(format!("it is a {other} namespace")));
    }
    Ok(())
}

/// The child's steps that join `joins`: each file opened into a slot from `next_slot` on,
/// then setns(2), the user namespace first (the others may belong to it) and the mount
/// namespace last (joining it resets the root and working directory).
pub(crate) fn join_steps(joins: &[(Namespace, PathBuf)], next_slot: &mut usize) -> Vec<Step> {
    let rank = |ns: &Namespace| match ns {
        Namespace::User => 0,
        Namespace::Mount => 2,
        _ => 1,
    };
    let mut ordered: Vec<&(Namespace, PathBuf)> = joins.iter().collect();
    ordered.sort_by_key(|(ns, _)| rank(ns));
    let mut steps = Vec::new();
    for (ns, path) in ordered {
        let slot = *next_slot as Slot;
        *next_slot += 1;
        steps.push(
            Step::new(
                Op::OpenPath {
                    path: text(path),
                    flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
                    slot,
                },
                format!("open the {} namespace {}", ns.name(), path.display()),
            )
            .at(Origin::Join(*ns)),
        );
        steps.push(
            Step::new(
                Op::SetNs {
                    slot,
                    nstype: ns.flag().bits(),
                },
                format!("join the {} namespace {}", ns.name(), path.display()),
            )
            .at(Origin::Join(*ns)),
        );
    }
    steps
}

/// The new namespaces that a child joining a user namespace makes after joining it, so that
/// they belong to it (a time namespace is made later, with its offsets; a new user
/// namespace cannot go with a joined one).
pub(crate) const AFTER_USER_JOIN: CloneFlags = CloneFlags::ALL_NAMESPACES
    .difference(CloneFlags::NEWUSER)
    .difference(CloneFlags::NEWTIME);

/// The child's unshare(2) of those of `deferred` that wait for a joined user namespace.
pub(crate) fn unshare_after_join(deferred: CloneFlags) -> Option<Step> {
    let after = deferred & AFTER_USER_JOIN;
    (!after.is_empty()).then(|| {
        Step::new(
            Op::Unshare {
                flags: after.bits(),
            },
            format!("unshare({after}) in the joined user namespace"),
        )
        .at(Origin::Namespaces)
    })
}
