//! What a spec lowers into, checked without spawning anything.
use super::*;
use crate::error::MountProblem;
use crate::sandbox::{Capabilities, Preset, PresetOptions};

fn spec(program: &str) -> SandboxSpec {
    let mut s = SandboxSpec::default();
    s.process.program = program.into();
    s
}

fn names(p: &Prepared) -> Vec<&'static str> {
    p.steps.iter().map(|(_, s)| s.op.name()).collect()
}

#[test]
fn a_rootless_preset_sandbox_lowers_in_stage_order() {
    let mut s = spec("true");
    Preset::Sandbox
        .apply_as(&mut s, &PresetOptions::default(), 1000)
        .unwrap();
    let p = prepare_as(&s, 1000, 1000).unwrap();
    assert!(p.flags().contains(NAMESPACES_ALL_BUT_TIME));
    // Stages never go backwards.
    let stages: Vec<Stage> = p.steps().map(|(st, _)| st).collect();
    assert!(stages.windows(2).all(|w| w[0] <= w[1]), "{stages:?}");
    let n = names(&p);
    // The child writes its own maps first, then builds the filesystem, then the init.
    let pos = |name: &str| n.iter().position(|k| *k == name).unwrap();
    assert!(pos("WriteFile") < pos("OpenPath"));
    assert!(pos("OpenPath") < pos("Propagation"));
    assert!(pos("Propagation") < pos("FsMount"));
    assert!(pos("FsMount") < pos("ForkInit"));
    // The init leads a session of its own (CRIU needs it), and so does the program.
    assert!(pos("Setsid") < pos("ForkInit"));
    let last = |name: &str| n.iter().rposition(|k| *k == name).unwrap();
    assert!(pos("ForkInit") < last("Setsid"));
    assert!(pos("NoNewPrivs") < pos("SetCaps"));
    // No capability kept, so no nested namespace is needed to lock the mounts, nor the
    // procfs it writes through.
    assert!(!n.contains(&"LockMounts"), "{n:?}");
    assert!(!n.contains(&"OpenProc"), "{n:?}");
    assert!(p
        .steps
        .iter()
        .any(|(_, s)| s.op == Op::CloseSlots { keep: Slot::MAX }));
    assert!(n.contains(&"NewSessionKeyring"));
    assert!(p.program_stack);
    assert!(p.outside_maps.is_none());
}

const NAMESPACES_ALL_BUT_TIME: CloneFlags = crate::sandbox::NAMESPACES;

#[test]
fn a_root_callers_preset_runs_as_nobody_outside() {
    let mut s = spec("true");
    Preset::Container
        .apply_as(&mut s, &PresetOptions::default(), 0)
        .unwrap_err();
    s.filesystem.rootfs = Some("/".into());
    Preset::Container
        .apply_as(&mut s, &PresetOptions::default(), 0)
        .unwrap();
    let p = prepare_as(&s, 0, 0).unwrap();
    let maps = p
        .outside_maps
        .as_ref()
        .expect("root writes the maps from outside");
    assert_eq!(maps.users[0].outside, crate::sandbox::ROOT_CALLER_ID);
    // root (kuid 0) is not mapped there: the child becomes the mapped root first.
    let first_ids = p
        .steps
        .iter()
        .find(|(_, s)| s.op.name() == "SetIds")
        .unwrap();
    assert_eq!(first_ids.0, Stage::Ids);
}

#[test]
fn keeping_sys_admin_locks_the_mounts() {
    let mut s = spec("true");
    Preset::Sandbox
        .apply_as(&mut s, &PresetOptions::default(), 1000)
        .unwrap();
    s.security.capabilities = Some(Capabilities::keep(1 << caps::CAP_SYS_ADMIN, 0));
    let p = prepare_as(&s, 1000, 1000).unwrap();
    let n = names(&p);
    let lock = n.iter().position(|k| *k == "LockMounts").unwrap();
    assert_eq!(n[lock + 1], "DropBounding");
    // It makes the program dumpable again: no shared memory with the init.
    assert!(!p.program_stack);
    // Its procfs is opened first, in a slot of its own that the mounts leave open and
    // the lock closes.
    let ops: Vec<&crate::plan::StepOp> = p.steps.iter().map(|(_, s)| &s.op).collect();
    let Op::OpenProc { slot } = *ops[0] else {
        panic!("{n:?}")
    };
    assert!((slot as usize) < p.slots);
    assert!(ops
        .iter()
        .any(|op| matches!(op, Op::CloseSlots { keep } if *keep == slot)));
    assert!(matches!(ops[lock], Op::LockMounts { proc, .. } if *proc == slot));
    // Without a preset the program keeps every capability: locked too.
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWUSER | CloneFlags::NEWPID;
    s.mount_proc = true;
    assert!(names(&prepare_as(&s, 1000, 1000).unwrap()).contains(&"LockMounts"));
}

#[test]
fn the_init_locks_the_mounts_when_the_program_has_nothing_to_do_first() {
    // `--new user,pid,mount --mount-proc`: the program keeps every capability and its ids,
    // so the init takes the lock before the program exists, which then shares its memory.
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWUSER | CloneFlags::NEWPID | CloneFlags::NEWNS;
    s.mount_proc = true;
    let p = prepare_as(&s, 1000, 1000).unwrap();
    let n = names(&p);
    let pos = |name: &str| n.iter().position(|k| *k == name).unwrap();
    assert!(pos("LockMounts") < pos("ForkInit"), "{n:?}");
    assert!(p
        .steps
        .iter()
        .any(|(st, s)| *st == Stage::InitLock && s.op.name() == "LockMounts"));
    assert!(p.program_stack);
    // Other ids for the program: its own process locks (the nested map is of its ids), a
    // copy of the init's memory.
    s.ids.uid = Some(0);
    s.ids.gid = Some(0);
    let p = prepare_as(&s, 1000, 1000).unwrap();
    let n = names(&p);
    let pos = |name: &str| n.iter().position(|k| *k == name).unwrap();
    assert!(pos("ForkInit") < pos("LockMounts"), "{n:?}");
    assert!(!p.program_stack);
    // So does a parent-death signal, which the new user namespace clears.
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWUSER | CloneFlags::NEWPID | CloneFlags::NEWNS;
    s.mount_proc = true;
    s.parent_death_signal = Some(libc::SIGKILL);
    let p = prepare_as(&s, 1000, 1000).unwrap();
    let n = names(&p);
    let pos = |name: &str| n.iter().position(|k| *k == name).unwrap();
    assert!(pos("ForkInit") < pos("LockMounts"), "{n:?}");
    assert!(!p.program_stack);
}

#[test]
fn problems_name_their_origin() {
    let mut s = spec("true");
    s.uts.hostname = Some("box".into());
    match prepare_as(&s, 1000, 1000).unwrap_err() {
        Error::Invalid { origin, problem } => {
            assert_eq!(origin, Origin::Hostname);
            assert_eq!(problem, Problem::NeedsNamespace(Namespace::Uts));
        }
        e => panic!("{e}"),
    }
    // A UTS namespace joined by path takes the names, after the join (runtime-tools'
    // linux_ns_path joins one with a hostname set).
    s.namespaces
        .join
        .push((Namespace::Uts, "/proc/self/ns/uts".into()));
    let p = prepare_as(&s, 1000, 1000).unwrap();
    let n = names(&p);
    let pos = |name: &str| n.iter().position(|k| *k == name).unwrap();
    assert!(pos("SetNs") < pos("SetHostname"), "{n:?}");
    // The caller's mount 0 stays mount 0 when mount_proc puts a /proc first.
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWPID | CloneFlags::NEWNS;
    s.mount_proc = true;
    s.filesystem.ops.push(MountOp::Tmpfs {
        dst: "tmp".into(),
        mode: None,
        size: None,
    });
    match prepare_as(&s, 0, 0).unwrap_err() {
        Error::Invalid { origin, problem } => {
            assert_eq!(origin, Origin::Mount(0));
            assert_eq!(problem, MountProblem::NotAbsolute("tmp".into()).into());
        }
        e => panic!("{e}"),
    }
    // A shared fd table cannot go with the init.
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWPID;
    s.clone.flags = CloneFlags::FILES;
    assert!(matches!(
        prepare_as(&s, 0, 0),
        Err(Error::Invalid {
            origin: Origin::Sharing,
            problem: Problem::FdTableSharedWithInit
        })
    ));
}

#[test]
fn joins_are_checked_and_ordered_user_first() {
    let mut s = spec("true");
    s.namespaces.join = vec![(Namespace::Net, "/proc/self/ns/uts".into())];
    let e = prepare_as(&s, 0, 0).unwrap_err().to_string();
    assert!(
        e.contains("is not a net namespace") && e.contains("uts"),
        "{e}"
    );
    let mut s = spec("true");
    s.namespaces.join = vec![
        (Namespace::Uts, "/proc/self/ns/uts".into()),
        (Namespace::User, "/proc/self/ns/user".into()),
    ];
    let p = prepare_as(&s, 0, 0).unwrap();
    let joins: Vec<&str> = p
        .steps()
        .filter(|(st, _)| *st == Stage::Join)
        .map(|(_, w)| w)
        .collect();
    assert!(
        joins[0].contains("user") && joins[2].contains("uts"),
        "{joins:?}"
    );
    // Both new and joined is refused.
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWUTS;
    s.namespaces.join = vec![(Namespace::Uts, "/proc/self/ns/uts".into())];
    assert!(matches!(
        prepare_as(&s, 0, 0),
        Err(Error::Invalid {
            problem: Problem::NewAndJoined(Namespace::Uts),
            ..
        })
    ));
}

#[test]
fn new_namespaces_beside_a_joined_user_namespace_are_made_after_the_join() {
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWNS | CloneFlags::NEWPID | CloneFlags::NEWNET;
    s.namespaces.join = vec![(Namespace::User, "/proc/self/ns/user".into())];
    let p = prepare_as(&s, 1000, 1000).unwrap();
    // Nothing new at clone (no user namespace added for the unprivileged caller either).
    assert!(
        p.flags.intersection(CloneFlags::ALL_NAMESPACES).is_empty(),
        "{}",
        p.flags
    );
    assert!(p.flags().contains(s.namespaces.new));
    let join: Vec<&str> = p
        .steps()
        .filter(|(st, _)| *st == Stage::Join)
        .map(|(_, w)| w)
        .collect();
    assert!(join[1].starts_with("join the user"), "{join:?}");
    assert!(
        join[2].contains("unshare(") && join[2].contains("CLONE_NEWNS"),
        "{join:?}"
    );
}

#[test]
fn groups_umask_and_the_barrier_come_last_in_order() {
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWPID;
    s.ids.groups = vec![5, 6];
    s.ids.uid = Some(1);
    s.process.umask = Some(0o027);
    s.process.start_barrier = Some(0);
    s.security.block_tty_injection = true;
    let p = prepare_as(&s, 0, 0).unwrap();
    let n = names(&p);
    let pos = |name: &str| n.iter().position(|k| *k == name).unwrap();
    // The groups while CAP_SETGID is held, and SetIds keeps them.
    assert!(pos("SetGroups") < pos("SetIds"));
    assert!(p.steps.iter().any(|(_, st)| matches!(
        st.op,
        Op::SetIds {
            clear_groups: false,
            ..
        }
    )));
    // After the ids, in the program's process: umask, barrier, then the filter.
    assert!(pos("ForkInit") < pos("SetIds"));
    assert_eq!(
        n[pos("Umask")..],
        ["Umask", "WaitForStart", "SeccompFilter"]
    );
    // Setgroups denied (an unprivileged caller's own map): refused.
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWUSER;
    s.ids.groups = vec![1000];
    assert!(matches!(
        prepare_as(&s, 1000, 1000),
        Err(Error::Invalid {
            origin: Origin::Groups,
            problem: Problem::SetgroupsRefused
        })
    ));
    // A closed barrier fd is refused.
    let mut s = spec("true");
    s.process.start_barrier = Some(0x7fff_0000);
    assert!(matches!(
        prepare_as(&s, 0, 0),
        Err(Error::Invalid {
            origin: Origin::StartBarrier,
            problem: Problem::Range(_)
        })
    ));
}

#[test]
fn prepared_twice_is_the_same() {
    let mut s = spec("true");
    Preset::Sandbox
        .apply_as(&mut s, &PresetOptions::default(), 1000)
        .unwrap();
    let a: Vec<String> = prepare_as(&s, 1000, 1000)
        .unwrap()
        .steps()
        .map(|(_, w)| w.to_string())
        .collect();
    let b: Vec<String> = prepare_as(&s, 1000, 1000)
        .unwrap()
        .steps()
        .map(|(_, w)| w.to_string())
        .collect();
    assert_eq!(a, b);
}

/// setns(2) into a PID namespace moves only the caller's children: the program's process is
/// forked from the init before the mounts, so that a procfs it mounts is the joined
/// namespace's (a container joining a pod's PID namespace must see the pod's processes),
/// and with a copy of memory, not the init's.
#[test]
fn a_joined_pid_namespace_forks_the_program_before_the_mounts() {
    let mut s = spec("true");
    s.namespaces.new = CloneFlags::NEWNS;
    s.namespaces.join = vec![(Namespace::Pid, "/proc/self/ns/pid".into())];
    s.filesystem.ops.push(MountOp::Proc {
        dst: "/proc".into(),
    });
    let p = prepare_as(&s, 0, 0).unwrap();
    let n = names(&p);
    let pos = |name: &str| n.iter().position(|k| *k == name).unwrap();
    assert!(pos("SetNs") < pos("ForkInit"), "{n:?}");
    assert!(pos("ForkInit") < pos("FsMount"), "{n:?}");
    assert!(!p.program_stack);
    // A new PID namespace: the clone itself is in it, the init comes after the mounts.
    s.namespaces.join.clear();
    s.namespaces.new |= CloneFlags::NEWPID;
    let n = names(&prepare_as(&s, 0, 0).unwrap());
    let pos = |name: &str| n.iter().position(|k| *k == name).unwrap();
    assert!(pos("FsMount") < pos("ForkInit"), "{n:?}");
}
