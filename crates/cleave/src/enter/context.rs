//! The target's security context — capability sets, no_new_privs, ids, supplementary groups
//! and seccomp filters — read before the caller moves, and the child steps that give the
//! program the same, so that entering never hands out more than the target holds.
use super::io_err;
use crate::error::{Error, Result};
use crate::idmap::{self, IdMap};
use crate::plan::Step;
use crate::raw;
use cleave_child::Op;
use std::io;

/// The security context the program gets from the target ([`super::Privileges::Target`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// Bounding set (mask of `1 << CAP_*`).
    pub bounding: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Effective set.
    pub effective: u64,
    /// Inheritable set.
    pub inheritable: u64,
    /// Ambient set.
    pub ambient: u64,
    /// Whether no_new_privs is set.
    pub no_new_privs: bool,
    /// Effective uid, in the user namespace the program runs in.
    pub uid: u32,
    /// Effective gid, in the user namespace the program runs in.
    pub gid: u32,
    /// Supplementary groups, as the caller's user namespace sees them ([`super::Enter::join`]
    /// takes them for the caller before it moves).
    pub groups: Vec<u32>,
    /// Whether the program runs in the target's user namespace. When it does not (that
    /// namespace was not joined), the target's capabilities mean nothing where the program
    /// is: the program gets none, and no_new_privs so that exec cannot give it any.
    pub same_user_namespace: bool,
    /// The target's seccomp filters as BPF bytes (`struct sock_filter` each 8 bytes), the
    /// most recently installed first.
    pub seccomp_filters: Vec<Vec<u8>>,
    /// The caller's bounding set where the program starts (full after joining a user
    /// namespace): the bounding set is only shrunk when it holds more than the target's.
    caller_bounding: u64,
}

/// What `/proc/PID/status` says of a security context; ids as the reader's user namespace
/// sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Status {
    inheritable: u64,
    permitted: u64,
    effective: u64,
    bounding: u64,
    ambient: u64,
    no_new_privs: bool,
    /// Effective uid and gid (the second field of `Uid:` and `Gid:`).
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    /// 0 disabled, 1 strict, 2 filter.
    seccomp: u8,
}

fn parse_status(text: &str) -> Option<Status> {
    // Every one of these must be there; Seccomp is absent without CONFIG_SECCOMP.
    const NEEDED: [&str; 9] = [
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Uid",
        "Gid",
        "Groups",
    ];
    let mut s = Status::default();
    let mut seen = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let hex = || u64::from_str_radix(value, 16).ok();
        let second = || value.split_whitespace().nth(1)?.parse().ok();
        match key {
            "CapInh" => s.inheritable = hex()?,
            "CapPrm" => s.permitted = hex()?,
            "CapEff" => s.effective = hex()?,
            "CapBnd" => s.bounding = hex()?,
            "CapAmb" => s.ambient = hex()?,
            "NoNewPrivs" => s.no_new_privs = value == "1",
            "Uid" => s.uid = second()?,
            "Gid" => s.gid = second()?,
            "Groups" => {
                s.groups = value
                    .split_whitespace()
                    .map(|g| g.parse().ok())
                    .collect::<Option<_>>()?
            }
            "Seccomp" => s.seccomp = value.parse().ok()?,
            _ => continue,
        }
        seen.push(key);
    }
    NEEDED.iter().all(|k| seen.contains(k)).then_some(s)
}

/// Lines of a /proc/PID/uid_map or gid_map.
fn parse_map(text: &str) -> Vec<IdMap> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|n| n.parse::<u32>().ok());
            Some(IdMap {
                inside: f.next()??,
                outside: f.next()??,
                count: f.next()??,
            })
        })
        .collect()
}

fn status_of(proc: &str) -> Result<Status> {
    let path = format!("/proc/{proc}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| io_err(format!("read {path}"), e))?;
    parse_status(&text).ok_or_else(|| Error::Enter {
        what: format!("read the capability, id and seccomp lines of {path}"),
        source: io::Error::from_raw_os_error(libc::EINVAL),
    })
}

fn refuse(pid: i32, what: impl Into<String>, errno: i32) -> Error {
    Error::EnterContext {
        pid,
        what: what.into(),
        source: io::Error::from_raw_os_error(errno),
    }
}

/// Reads the context of process `t` and copies its seccomp filters, before any setns.
/// `joins_user`: its user namespace will be joined; `same_user`: it already is the caller's;
/// `known`: the filters the caller knows the target installed, taken when the kernel will
/// not hand out a copy (EACCES without CAP_SYS_ADMIN in the initial user namespace).
pub(super) fn read(
    t: i32,
    joins_user: bool,
    same_user: bool,
    known: Option<&[Vec<u8>]>,
) -> Result<Context> {
    let theirs = status_of(&t.to_string())?;
    let ours = status_of("self")?;
    let (mut uid, mut gid) = (theirs.uid, theirs.gid);
    if joins_user {
        // Read from outside, the maps' second column is in the caller's user namespace, as
        // the ids of /proc/PID/status are: turn those into the ids the program takes inside.
        for (id, kind) in [(&mut uid, "uid"), (&mut gid, "gid")] {
            let path = format!("/proc/{t}/{kind}_map");
            let text =
                std::fs::read_to_string(&path).map_err(|e| io_err(format!("read {path}"), e))?;
            *id = idmap::inside_of(&parse_map(&text), *id).ok_or_else(|| {
                refuse(
                    t,
                    format!(
                        "its {kind} {id} is not mapped in its user namespace as seen from here"
                    ),
                    libc::EOVERFLOW,
                )
            })?;
        }
    }
    let seccomp_filters = match theirs.seccomp {
        0 => Vec::new(),
        1 => {
            return Err(refuse(
                t,
                "it runs in strict seccomp mode, under which no program can be started",
                libc::EINVAL,
            ))
        }
        _ => match (raw::seccomp_filters(t), known) {
            (Ok(copied), _) => copied
                .iter()
                .map(|f| f.iter().flat_map(filter_bytes).collect())
                .collect(),
            // Given oldest first (as installed); kept here newest first, as copied.
            (Err(libc::EACCES | libc::EPERM), Some(known)) => known.iter().rev().cloned().collect(),
            (Err(e), _) if e == libc::ESRCH => {
                return Err(io_err(
                    format!("copy the seccomp filters of process {t}"),
                    io::Error::from_raw_os_error(e),
                ))
            }
            (Err(e), _) => return Err(refuse(t, "its seccomp filters could not be copied", e)),
        },
    };
    let caller_bounding = if joins_user {
        // set_cred_user_ns(): joining a user namespace gives the full bounding set.
        !0
    } else {
        ours.bounding
    };
    let same_user_namespace = joins_user || same_user;
    let (permitted, effective, inheritable, ambient) = if same_user_namespace {
        (
            theirs.permitted,
            theirs.effective,
            theirs.inheritable,
            theirs.ambient,
        )
    } else {
        (0, 0, 0, 0)
    };
    Ok(Context {
        bounding: theirs.bounding,
        permitted,
        effective,
        inheritable,
        ambient,
        no_new_privs: theirs.no_new_privs || !same_user_namespace,
        uid,
        gid,
        groups: theirs.groups,
        same_user_namespace,
        seccomp_filters,
        caller_bounding,
    })
}

fn filter_bytes(f: &libc::sock_filter) -> [u8; 8] {
    let [c0, c1] = f.code.to_ne_bytes();
    let [k0, k1, k2, k3] = f.k.to_ne_bytes();
    [c0, c1, f.jt, f.jf, k0, k1, k2, k3]
}

/// Gives the calling process the target's supplementary groups, unless it has them already.
/// Done before setns: a joined user namespace may forbid setgroups(2), the caller's own
/// does not once it holds CAP_SETGID.
pub(super) fn take_groups(t: i32, groups: &[u32]) -> Result<()> {
    let ours = status_of("self")?.groups;
    let (mut a, mut b) = (ours, groups.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    if a == b {
        return Ok(());
    }
    raw::setgroups(groups).map_err(|e| {
        refuse(
            t,
            format!("its supplementary groups {groups:?} could not be taken"),
            e,
        )
    })
}

impl Context {
    /// The child steps, in the order the kernel needs them: the bounding set while the child
    /// still holds CAP_SETPCAP, capabilities kept across the change of ids, the exact sets,
    /// then no_new_privs and the seccomp filters last before exec.
    ///
    /// The target's filters never run before the privileges are given up: the target wrote
    /// them, and a filter can make setresuid, capset or prctl return success without doing
    /// anything, which would leave the program with the caller's privileges. So
    /// no_new_privs is set even for a target without it (installing a filter needs it, or
    /// CAP_SYS_ADMIN, which the program no longer has by then): the program may gain
    /// nothing through exec that the target could.
    pub(crate) fn steps(&self) -> Vec<Step> {
        let filters = || {
            // Oldest first, as the target installed them.
            self.seccomp_filters.iter().rev().map(|f| {
                Step::new(
                    Op::SeccompFilter { filter: f.clone() },
                    "install a seccomp filter of the target",
                )
            })
        };
        let mut steps = Vec::new();
        if self.caller_bounding & !self.bounding != 0 {
            steps.push(Step::new(
                Op::DropBounding {
                    keep: self.bounding,
                },
                "shrink the bounding set to the target's",
            ));
        }
        steps.push(Step::new(
            Op::KeepCaps { keep: true },
            "keep capabilities across setuid",
        ));
        steps.push(Step::new(
            Op::SetIds {
                uid: self.uid,
                gid: self.gid,
                clear_groups: false,
            },
            format!("become uid {} gid {}", self.uid, self.gid),
        ));
        steps.push(Step::new(
            Op::SetCapSets {
                effective: self.effective,
                permitted: self.permitted,
                inheritable: self.inheritable,
            },
            "set the target's capabilities",
        ));
        steps.push(Step::new(
            Op::Ambient { mask: self.ambient },
            "set the target's ambient capabilities",
        ));
        if self.no_new_privs || !self.seccomp_filters.is_empty() {
            steps.push(Step::new(Op::NoNewPrivs, "set no_new_privs"));
            steps.extend(filters());
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsleep
Umask:\t0022
Uid:\t1000\t1001\t1002\t1003
Gid:\t50\t51\t52\t53
Groups:\t4 24 \nNoNewPrivs:\t1
CapInh:\t0000000000000000
CapPrm:\t00000000a80425fb
CapEff:\t00000000a80425fa
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000001
Seccomp:\t2
Seccomp_filters:\t1
";

    #[test]
    fn status_lines_are_read() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!(
            s,
            Status {
                inheritable: 0,
                permitted: 0xa804_25fb,
                effective: 0xa804_25fa,
                bounding: 0x1ff_ffff_ffff,
                ambient: 1,
                no_new_privs: true,
                uid: 1001,
                gid: 51,
                groups: vec![4, 24],
                seccomp: 2,
            }
        );
        let empty = STATUS.replace("Groups:\t4 24 ", "Groups:\t");
        assert_eq!(parse_status(&empty).unwrap().groups, Vec::<u32>::new());
        assert_eq!(parse_status(&STATUS.replace("CapAmb", "Cap")), None);
    }

    #[test]
    fn maps_translate_outside_ids() {
        let m = parse_map("         0      65534          1\n         1     100000      65536\n");
        assert_eq!(idmap::inside_of(&m, 65534), Some(0));
        assert_eq!(idmap::inside_of(&m, 100_005), Some(6));
        assert_eq!(idmap::inside_of(&m, 0), None);
    }

    fn context(nnp: bool, filters: usize) -> Context {
        Context {
            bounding: 0,
            permitted: 0,
            effective: 0,
            inheritable: 0,
            ambient: 0,
            no_new_privs: nnp,
            uid: 0,
            gid: 0,
            groups: vec![],
            same_user_namespace: true,
            seccomp_filters: (0..filters).map(|i| vec![i as u8; 8]).collect(),
            caller_bounding: !0,
        }
    }

    #[test]
    fn steps_put_the_bounding_set_first_and_filters_last() {
        let kinds = |c: &Context| c.steps().iter().map(|s| s.op.name()).collect::<Vec<_>>();
        let c = context(true, 2);
        assert_eq!(
            kinds(&c),
            [
                "DropBounding",
                "KeepCaps",
                "SetIds",
                "SetCapSets",
                "Ambient",
                "NoNewPrivs",
                "SeccompFilter",
                "SeccompFilter"
            ]
        );
        // Oldest filter (last reported) installed first.
        assert!(
            matches!(&c.steps()[6].op, Op::SeccompFilter { filter } if filter == &[1u8; 8]),
            "{:?}",
            c.steps()[6]
        );
        // A target without no_new_privs: its filter still comes last, after no_new_privs,
        // never before the privileges are given up (the filter could fake those calls).
        let c = context(false, 1);
        assert_eq!(kinds(&c)[0], "DropBounding");
        assert_eq!(kinds(&c)[5..], ["NoNewPrivs", "SeccompFilter"]);
        let mut c = context(false, 0);
        c.caller_bounding = 0;
        assert_eq!(kinds(&c)[0], "KeepCaps");
    }
}
