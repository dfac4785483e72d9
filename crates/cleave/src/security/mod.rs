//! What the program may do, as child steps: resource limits, a session and session
//! keyring, no_new_privs, capability sets (bounding, effective, permitted, inheritable,
//! ambient), the uid, gid and groups it runs as, and seccomp filters. The capability names
//! and rlimit parsing live in [`crate::caps`], the filters in [`crate::seccomp`].
use crate::caps;
use crate::error::Origin;
use crate::plan::Step;
use crate::sandbox::{Capabilities, Security, Stage};
use crate::seccomp;
use cleave_child::Op;

/// What the security steps need besides the spec's [`Security`].
pub(crate) struct Inputs<'a> {
    pub security: &'a Security,
    /// The ids the program runs as inside.
    pub uid: u32,
    pub gid: u32,
    /// Whether the ids change (the spec sets them).
    pub change_ids: bool,
    /// Whether `uid` and `gid` are known before clone (not with maps written by someone
    /// else: the mount lock then maps the ids the process has when it runs).
    pub ids_known: bool,
    /// Whether setgroups(2) is allowed where the program runs.
    pub can_setgroups: bool,
    /// The supplementary groups (checked: setgroups is allowed).
    pub groups: &'a [u32],
    /// Whether a nested user and mount namespace locks cleave's mounts: then the slot of
    /// the procfs its maps are written through (see [`Op::LockMounts`]).
    pub lock_mounts: Option<cleave_child::Slot>,
    /// The parent-death signal step, set again after a change of ids or user namespace
    /// (the kernel clears it then).
    pub death_again: Option<Step>,
}

/// The steps, each with its stage.
pub(crate) fn steps(
    inputs: &Inputs<'_>,
    mut rlimit_origins: impl Iterator<Item = Origin>,
) -> Vec<(Stage, Step)> {
    let s = inputs.security;
    let mut out = Vec::new();
    if s.new_session {
        out.push((Stage::Session, Step::new(Op::Setsid, "setsid")));
    }
    for r in &s.rlimits {
        let mut step = Step::new(
            Op::SetRlimit {
                resource: r.resource,
                soft: r.soft,
                hard: r.hard,
            },
            format!("set the {} limit to {}:{}", r.name(), r.soft, r.hard),
        );
        if let Some(origin) = rlimit_origins.next() {
            step = step.at(origin);
        }
        out.push((Stage::Rlimits, step));
    }
    if s.new_session_keyring {
        out.push((
            Stage::Keyring,
            Step::new(Op::NewSessionKeyring, "join a new session keyring"),
        ));
    }
    if s.no_new_privs {
        out.push((
            Stage::NoNewPrivs,
            Step::new(Op::NoNewPrivs, "set no_new_privs"),
        ));
    }
    let user_filters = |stage: Stage| {
        s.seccomp_filters.iter().enumerate().map(move |(i, f)| {
            (
                stage,
                Step::new(
                    Op::SeccompFilter { filter: f.clone() },
                    format!(
                        "install seccomp filter {} of {} ({} instructions)",
                        i + 1,
                        s.seccomp_filters.len(),
                        f.len() / seccomp::INSTRUCTION_SIZE
                    ),
                ),
            )
        })
    };
    if !s.no_new_privs {
        out.extend(user_filters(Stage::PrivilegedSeccomp));
    }
    let sets = s.capabilities.map(|c| Capabilities {
        bounding: c.bounding & caps::ALL,
        effective: c.effective & caps::ALL,
        permitted: c.permitted & caps::ALL,
        inheritable: c.inheritable & caps::ALL,
        ambient: c.ambient & caps::ALL,
    });
    let keep = sets.map(|c| c.bounding);
    let drop_bounding = |keep: u64| {
        Step::new(
            Op::DropBounding { keep },
            format!("drop capabilities but {:?}", caps::names(keep)),
        )
        .at(Origin::Capabilities)
    };
    // The bounding set shrinks while the child still holds CAP_SETPCAP (before any change
    // of uid clears its effective set).
    if let Some(keep) = keep {
        out.push((Stage::Bounding, drop_bounding(keep)));
    }
    // The groups first: setgroups needs CAP_SETGID, which a change of uid takes away.
    if !inputs.groups.is_empty() {
        let list: Vec<String> = inputs.groups.iter().map(|g| g.to_string()).collect();
        out.push((
            Stage::Identity,
            Step::new(
                Op::SetGroups {
                    groups: inputs.groups.iter().flat_map(|g| g.to_ne_bytes()).collect(),
                },
                format!("set the supplementary groups {}", list.join(",")),
            )
            .at(Origin::Groups),
        ));
    }
    if inputs.change_ids {
        if keep.is_some() {
            out.push((
                Stage::Identity,
                Step::new(
                    Op::KeepCaps { keep: true },
                    "keep capabilities across setuid",
                ),
            ));
        }
        out.push((
            Stage::Identity,
            Step::new(
                Op::SetIds {
                    uid: inputs.uid,
                    gid: inputs.gid,
                    clear_groups: inputs.can_setgroups && inputs.groups.is_empty(),
                },
                format!("become uid {} gid {}", inputs.uid, inputs.gid),
            ),
        ));
        out.extend(inputs.death_again.clone().map(|d| (Stage::Identity, d)));
    }
    if s.disable_user_namespaces {
        // Written while the host's /proc is still there (before the mounts): the limit of
        // the user namespace the writer is in, the sandbox's.
        out.push((
            Stage::Net,
            Step::new(
                Op::WriteFile {
                    path: crate::plan::text("/proc/sys/user/max_user_namespaces"),
                    data: b"1\n".to_vec(),
                },
                "allow one user namespace below the sandbox's (max_user_namespaces 1)",
            )
            .at(Origin::Namespaces),
        ));
    }
    if let Some(proc) = inputs.lock_mounts {
        let (u, g) = (
            if inputs.ids_known {
                format!("{0} {0} 1\n", inputs.uid)
            } else {
                String::new()
            },
            if inputs.ids_known {
                format!("{0} {0} 1\n", inputs.gid)
            } else {
                String::new()
            },
        );
        out.push((
            Stage::LockMounts,
            Step::new(
                Op::LockMounts {
                    proc,
                    uid_map: u.into_bytes(),
                    gid_map: g.into_bytes(),
                },
                "lock the sandbox's mounts (a nested user and mount namespace)",
            ),
        ));
        // A new user namespace gives a full bounding set and clears the parent-death
        // signal: both again.
        if let Some(keep) = keep {
            out.push((Stage::LockMounts, drop_bounding(keep)));
        }
        out.extend(inputs.death_again.clone().map(|d| (Stage::LockMounts, d)));
    }
    if let Some(c) = sets {
        let step = if c.effective == c.permitted && c.permitted == c.inheritable {
            Step::new(Op::SetCaps { mask: c.permitted }, "set capabilities")
        } else {
            Step::new(
                Op::SetCapSets {
                    effective: c.effective,
                    permitted: c.permitted,
                    inheritable: c.inheritable,
                },
                format!(
                    "set capabilities: effective {:?}, permitted {:?}, inheritable {:?}",
                    caps::names(c.effective),
                    caps::names(c.permitted),
                    caps::names(c.inheritable)
                ),
            )
        };
        out.push((Stage::Capabilities, step.at(Origin::Capabilities)));
        // Only what is permitted and inheritable can be raised (the child skips the rest).
        let ambient = c.ambient & c.permitted & c.inheritable;
        if ambient != 0 {
            out.push((
                Stage::Capabilities,
                Step::new(Op::Ambient { mask: ambient }, "raise ambient capabilities")
                    .at(Origin::Capabilities),
            ));
        }
    }
    if s.block_tty_injection {
        out.push((
            Stage::Seccomp,
            Step::new(
                Op::SeccompFilter {
                    filter: seccomp::tty_injection_filter(),
                },
                "install the seccomp filter that refuses TIOCSTI, TIOCLINUX and TIOCSETD",
            ),
        ));
    }
    if s.no_new_privs {
        out.extend(user_filters(Stage::Seccomp));
    }
    out
}
