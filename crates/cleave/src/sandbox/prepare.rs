//! [`prepare`]: every check of a [`SandboxSpec`], then its lowering into the child's typed
//! steps, each concern contributing from its own module and each step tagged with the
//! [`Stage`] that orders it. Nothing is created here: [`Prepared::spawn`] does that, as many
//! times as it is called.
use super::running::Running;
use super::spec::SandboxSpec;
use crate::caps;
use crate::cgroup::CgroupSet;
use crate::error::{Error, Origin, Problem, Result};
use crate::flags::CloneFlags;
use crate::idmap::{MapWriter, ResolvedMaps};
use crate::mount::MountOp;
use crate::ns::Namespace;
use crate::plan::Step;
use crate::spawn::{AfterClone, Command};
use crate::stack::Stack;
use crate::{ns, security};
use cleave_child::{Op, Slot};

/// The most supplementary groups setgroups(2) takes.
const NGROUPS_MAX: usize = 65536;

/// Stack of the program's process between the init's clone and exec.
const PROGRAM_STACK: usize = 64 * 1024;

/// When a step runs in the child, relative to the others. Steps run in stage order, and in
/// the order their module gave them within a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The parent-death signal, first, so that nothing outlives a dead caller.
    Lifetime,
    /// setns(2) into the namespaces joined by path: the user namespace first.
    Join,
    /// Joining the sandbox's cgroup v1 hierarchies, then a new cgroup namespace rooted there.
    Cgroup,
    /// The id maps of a new user namespace: until they exist, files belong to nobody.
    Ids,
    /// A new time namespace and its offsets.
    Time,
    /// Host and domain names.
    Uts,
    /// The loopback interface of a new network namespace.
    Net,
    /// cleave's init in a PID namespace joined by path: setns(2) moves only the children
    /// into it, so the program's process is forked before the mounts, and a procfs it
    /// mounts shows the namespace it is in (not the caller's).
    JoinedPidInit,
    /// The filesystem: every mount, the new root, the working directory.
    Mounts,
    /// The switch to a descendant user namespace once the filesystem is set up.
    SwitchUser,
    /// The nested user and mount namespace of [`Stage::LockMounts`], made by the init
    /// itself before the program exists, when the program's process has nothing to do
    /// before it (no session, limits, keyring, no_new_privs, filters, bounding set, ids or
    /// parent-death signal): the init then starts the program with CLONE_VM instead of a
    /// copy of its memory, and both are behind the locked mounts.
    InitLock,
    /// cleave's init of a new PID namespace; the rest runs in the program's process.
    Init,
    /// A new session.
    Session,
    /// Resource limits.
    Rlimits,
    /// A new session keyring.
    Keyring,
    /// no_new_privs.
    NoNewPrivs,
    /// [`Stage::Umask`] when the filters come at [`Stage::PrivilegedSeccomp`].
    UmaskBeforeFilters,
    /// [`Stage::Start`] when the filters come at [`Stage::PrivilegedSeccomp`]: the barrier
    /// (its read, and the closing of every fd the program does not keep) is cleave's, and a
    /// filter that does not allow those calls (close_range is missing from older profiles)
    /// must not stop it. The filters are then followed only by the capability and id calls.
    StartBeforeFilters,
    /// The caller's seccomp filters when no_new_privs is not set: installing one then
    /// needs CAP_SYS_ADMIN, so before any capability goes.
    PrivilegedSeccomp,
    /// The bounding set, while CAP_SETPCAP is still held.
    Bounding,
    /// The program's uid, gid and groups.
    Identity,
    /// A nested user and mount namespace that locks cleave's mounts.
    LockMounts,
    /// The capability sets.
    Capabilities,
    /// The program's umask (after everything cleave creates).
    Umask,
    /// The start barrier: the child waits for the go-ahead once all else is set up.
    Start,
    /// Seccomp filters, last before exec.
    Seccomp,
}

/// A checked [`SandboxSpec`], lowered into the child's steps.
#[derive(Debug)]
pub struct Prepared {
    spec: SandboxSpec,
    /// The flags the child is cloned with.
    flags: CloneFlags,
    /// Namespaces the child unshares itself (a time namespace's offsets must be written
    /// before anything enters it).
    deferred: CloneFlags,
    steps: Vec<(Stage, Step)>,
    slots: usize,
    /// Id maps that cleave writes from outside (ranges need privilege).
    outside_maps: Option<ResolvedMaps>,
    /// The init starts the program with CLONE_VM on a stack of its own.
    program_stack: bool,
    /// The caller vouched for a CLONE_THREAD program (see [`Prepared::allow_thread_exec`]).
    thread_exec: bool,
}

fn invalid(origin: Origin, problem: impl Into<Problem>) -> Error {
    Error::Invalid {
        origin,
        problem: problem.into(),
    }
}

/// Checks everything about `spec` that can be checked before anything exists, all the
/// kernel rules included, and lowers it into the child's steps in stage order.
pub fn prepare(spec: &SandboxSpec) -> Result<Prepared> {
    let (euid, egid) = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    prepare_as(spec, euid, egid)
}

/// [`prepare`] for a caller with these ids (the checks that depend on privilege).
pub(crate) fn prepare_as(spec: &SandboxSpec, euid: u32, egid: u32) -> Result<Prepared> {
    let joined: Vec<Namespace> = spec.namespaces.join.iter().map(|(ns, _)| *ns).collect();
    let (flags, deferred) = clone_flags(spec, euid, &joined);
    let joined_pid = joined.contains(&Namespace::Pid);
    // A new PID namespace beside a joined one is made inside it (bubblewrap's --pidns with
    // --unshare-pid): by a process forked into the joined one, not at clone.
    let nested_pid = joined_pid && spec.namespaces.new.contains(CloneFlags::NEWPID);
    let all = flags
        | deferred
        | if nested_pid {
            CloneFlags::NEWPID
        } else {
            CloneFlags::empty()
        };
    for (ns, path) in &spec.namespaces.join {
        if all.contains(ns.flag()) && !(nested_pid && *ns == Namespace::Pid) {
            return Err(invalid(Origin::Join(*ns), Problem::NewAndJoined(*ns)));
        }
        ns::check_join(*ns, path)?;
    }
    if let Some(path) = &spec.namespaces.switch_user {
        if !all.contains(CloneFlags::NEWUSER) && !joined.contains(&Namespace::User) {
            return Err(invalid(
                Origin::Join(Namespace::User),
                Problem::NeedsNamespace(Namespace::User),
            ));
        }
        ns::check_join(Namespace::User, path)?;
    }
    let need = |ns: Namespace, origin: Origin| {
        if all.contains(ns.flag()) {
            Ok(())
        } else {
            Err(invalid(origin, Problem::NeedsNamespace(ns)))
        }
    };
    // The names go to the sandbox's own UTS namespace: a new one, or one it joins (whose
    // other members see them too: the caller asked for both; an OCI config may).
    let own_uts = |origin: Origin| {
        if joined.contains(&Namespace::Uts) {
            Ok(())
        } else {
            need(Namespace::Uts, origin)
        }
    };
    if spec.uts.hostname.is_some() {
        own_uts(Origin::Hostname)?;
    }
    if spec.uts.domainname.is_some() {
        own_uts(Origin::Domainname)?;
    }
    if spec.mount_proc {
        need(Namespace::Pid, Origin::MountProc)?;
    }
    if spec.as_pid1 {
        need(Namespace::Pid, Origin::AsPid1)?;
    }
    if spec.security.disable_user_namespaces {
        need(Namespace::User, Origin::Namespaces)?;
    }
    ns::uts::check_names(spec.uts.hostname.as_deref(), spec.uts.domainname.as_deref())?;
    ns::time::check_offsets(spec.time.monotonic, spec.time.boottime)?;
    let new_pid = all.contains(CloneFlags::NEWPID);
    let init = (new_pid || joined_pid) && !spec.as_pid1;
    if init && flags.contains(CloneFlags::FILES) {
        return Err(invalid(Origin::Sharing, Problem::FdTableSharedWithInit));
    }
    if let Some(p) = spec.limits.problem() {
        return Err(invalid(Origin::Limits, Problem::Limit(p)));
    }
    // What the program itself brings (environment, fds to keep, set_tid, umask,
    // terminal, start barrier).
    command(spec, flags, None)?.check_values()?;
    super::process::check(&spec.process)?;

    let mut steps: Vec<(Stage, Step)> = Vec::new();
    if let Some(sig) = spec.parent_death_signal {
        steps.push((Stage::Lifetime, death_step(sig, new_pid, flags)));
    }

    // Mounts first in the slot table (their slot numbers are fixed), joins after them.
    let mut fs = spec.filesystem.clone();
    if spec.mount_proc {
        fs.ops.insert(
            0,
            MountOp::Proc {
                dst: "/proc".into(),
            },
        );
    }
    // Device nodes are made by root of the initial user namespace (mknod needs it);
    // elsewhere the host's are bound.
    let initial_userns = crate::host::in_initial_user_namespace();
    let mknod = euid == 0
        && initial_userns
        && !all.contains(CloneFlags::NEWUSER)
        && !joined.contains(&Namespace::User);
    let maps = if all.contains(CloneFlags::NEWUSER) {
        Some(ns::user::resolve(&spec.ids, euid, egid)?)
    } else {
        None
    };
    let compiled = fs
        .compile_with(
            all.contains(CloneFlags::NEWNS),
            mknod,
            crate::mount::CgroupContext {
                new_cgroup_ns: all.contains(CloneFlags::NEWCGROUP),
                // setns back needs CAP_SYS_ADMIN over the caller's cgroup namespace.
                may_return: !all.contains(CloneFlags::NEWUSER)
                    && !joined.contains(&Namespace::User)
                    && initial_userns,
            },
            crate::mount::Facts {
                owner: owner(maps.as_ref(), spec, euid, egid),
                own_pid_ns: new_pid || joined.contains(&Namespace::Pid),
            },
        )
        .map_err(|e| {
            // The /proc of mount_proc came first: the caller's mounts start at index 1.
            match e {
                Error::Invalid {
                    origin: Origin::Mount(i),
                    problem,
                } if spec.mount_proc => Error::Invalid {
                    origin: if i == 0 {
                        Origin::MountProc
                    } else {
                        Origin::Mount(i - 1)
                    },
                    problem,
                },
                e => e,
            }
        })?;
    let mut slots = compiled.slots;
    steps.extend(
        ns::join_steps(&spec.namespaces.join, &mut slots)
            .into_iter()
            .map(|s| (Stage::Join, s)),
    );
    steps.extend(ns::unshare_after_join(deferred).map(|s| (Stage::Join, s)));

    let outside_maps = if let Some(maps) = maps {
        if maps.writer == MapWriter::Child {
            steps.extend(
                ns::user::child_steps(&maps)
                    .into_iter()
                    .map(|s| (Stage::Ids, s)),
            );
        }
        steps.extend(ns::user::become_mapped(&maps, euid, egid).map(|s| (Stage::Ids, s)));
        Some(maps)
    } else {
        None
    };
    if deferred.contains(CloneFlags::NEWTIME) {
        steps.extend(
            ns::time::steps(spec.time.monotonic, spec.time.boottime)
                .into_iter()
                .map(|s| (Stage::Time, s)),
        );
    }
    steps.extend(
        ns::uts::steps(&spec.uts)
            .into_iter()
            .map(|s| (Stage::Uts, s)),
    );
    if all.contains(CloneFlags::NEWNET) {
        steps.push((
            Stage::Net,
            Step::new(Op::LoopbackUp, "bring the loopback interface up").at(Origin::Namespaces),
        ));
    }
    steps.extend(compiled.steps.into_iter().map(|s| {
        let s = match s.origin {
            Some(Origin::Mount(i)) if spec.mount_proc => s.at(if i == 0 {
                Origin::MountProc
            } else {
                Origin::Mount(i - 1)
            }),
            _ => s,
        };
        (Stage::Mounts, s)
    }));

    // The user namespace switched to after the mounts is opened with the joins (its path
    // may be under the caller's /proc, out of reach once the new root is in place), in a
    // slot that the mounts' CloseSlots leaves open. After the switch a CloseSlots closes it
    // (and every slot below the mount lock's); all slots are close-on-exec, and the init's
    // close_range before the program runs is what guarantees none reaches it.
    let switch_slot = spec.namespaces.switch_user.as_ref().map(|path| {
        let slot = slots as Slot;
        slots += 1;
        steps.push((
            Stage::Join,
            Step::new(
                Op::OpenPath {
                    path: crate::plan::text(path),
                    flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
                    slot,
                },
                format!("open the user namespace {} switched to", path.display()),
            )
            .at(Origin::Join(Namespace::User)),
        ));
        steps.push((
            Stage::SwitchUser,
            Step::new(
                Op::SetNs {
                    slot,
                    nstype: CloneFlags::NEWUSER.bits(),
                },
                format!("switch to the user namespace {}", path.display()),
            )
            .at(Origin::Join(Namespace::User)),
        ));
        for (_, step) in &mut steps {
            if let Op::CloseSlots { keep } = &mut step.op {
                *keep = slot;
            }
        }
        slot
    });
    // Disabling user namespaces runs the program in a nested one, as locking mounts does.
    let locks = locks_mounts(spec, all) || spec.security.disable_user_namespaces;
    // The lock writes its maps through the procfs of the mount namespace cleave runs in,
    // opened before any join or mount (so the new root needs no /proc), in a slot of its
    // own that the mounts' CloseSlots leaves to the lock to close.
    let lock_proc = locks.then(|| {
        let slot = slots as Slot;
        slots += 1;
        steps.push((
            Stage::Lifetime,
            Step::new(
                Op::OpenProc { slot },
                "open /proc, which the mount lock writes its id maps through",
            ),
        ));
        for (_, step) in &mut steps {
            if let Op::CloseSlots { keep } = &mut step.op {
                if *keep == Slot::MAX {
                    *keep = slot;
                }
            }
        }
        slot
    });
    if let Some(switched) = switch_slot {
        steps.push((
            Stage::SwitchUser,
            Step::new(
                Op::CloseSlots {
                    keep: lock_proc.unwrap_or(Slot::MAX),
                },
                "close the user namespace switched to",
            ),
        ));
        debug_assert!(lock_proc.is_none_or(|l| l > switched));
        // Joining a user namespace clears the parent-death signal: set again.
        if let Some(sig) = spec.parent_death_signal {
            steps.push((Stage::SwitchUser, death_step(sig, new_pid, flags)));
        }
    }
    if joined_pid {
        steps.push((
            Stage::JoinedPidInit,
            Step::new(
                Op::ForkInit { program_stack: 0 },
                "fork into the joined PID namespace",
            ),
        ));
    }
    if nested_pid {
        // unshare(CLONE_NEWPID) needs the caller's own PID namespace to be the one its
        // children go to: true of the process forked into the joined one. Its child is
        // PID 1 of the new namespace, where the set-up goes on.
        steps.push((
            Stage::JoinedPidInit,
            Step::new(
                Op::Unshare {
                    flags: CloneFlags::NEWPID.bits(),
                },
                "unshare(CLONE_NEWPID) inside the joined PID namespace",
            )
            .at(Origin::Namespaces),
        ));
        steps.push((
            Stage::JoinedPidInit,
            Step::new(
                Op::ForkInit { program_stack: 0 },
                "fork PID 1 of the new PID namespace",
            ),
        ));
    }
    if init && new_pid && spec.security.new_session {
        // A new session asked for: the init leads it (and the program, its child, starts
        // a session of its own again at Stage::Session, as without an init). CRIU dumps a
        // PID namespace only when its init leads a session inside it: a sandbox made this
        // way can be checkpointed.
        steps.push((
            Stage::Init,
            Step::new(Op::Setsid, "make cleave's init a session leader"),
        ));
    }
    if init && new_pid {
        steps.push((
            Stage::Init,
            Step::new(
                Op::ForkInit { program_stack: 0 },
                "start the program behind cleave's init",
            ),
        ));
    }

    // The ids the program has inside unless the spec sets them: the caller's, as the maps
    // show them (the caller's own without a new user namespace).
    let (uid, gid) = match &outside_maps {
        Some(m) => ns::user::program_ids(m, &spec.ids, euid, egid),
        None => (spec.ids.uid.unwrap_or(euid), spec.ids.gid.unwrap_or(egid)),
    };
    let can_setgroups = outside_maps.as_ref().map_or(euid == 0, |m| m.setgroups);
    if !spec.ids.groups.is_empty() {
        if !can_setgroups {
            return Err(invalid(Origin::Groups, Problem::SetgroupsRefused));
        }
        if spec.ids.groups.len() > NGROUPS_MAX {
            return Err(invalid(
                Origin::Groups,
                crate::error::RangeError::new(
                    "group count",
                    spec.ids.groups.len(),
                    format!("at most {NGROUPS_MAX}"),
                ),
            ));
        }
        if let Some(m) = &outside_maps {
            if let Some(&g) = spec
                .ids
                .groups
                .iter()
                .find(|&&g| !crate::idmap::maps_inside(&m.groups, g))
            {
                return Err(invalid(Origin::Groups, Problem::NotMapped(g)));
            }
        }
    }
    let death_again = spec
        .parent_death_signal
        .map(|sig| death_step(sig, new_pid, flags));
    steps.extend(security::steps(
        &security::Inputs {
            security: &spec.security,
            uid,
            gid,
            change_ids: spec.ids.uid.is_some() || spec.ids.gid.is_some(),
            ids_known: outside_maps
                .as_ref()
                .is_none_or(|m| m.writer != MapWriter::External),
            can_setgroups,
            groups: &spec.ids.groups,
            lock_mounts: lock_proc,
            death_again,
        },
        spec.security
            .rlimits
            .iter()
            .enumerate()
            .map(|(i, _)| Origin::Rlimit(i)),
    ));
    if spec.security.assert_user_namespaces_disabled {
        steps.push((
            Stage::LockMounts,
            Step::new(
                Op::AssertNoUserNamespaces,
                "check that the program cannot make user namespaces (EEXIST: it can)",
            )
            .at(Origin::Namespaces),
        ));
    }
    steps.extend(super::process::steps(
        &spec.process,
        spec.security.new_session,
    ));
    if steps.iter().any(|(s, _)| *s == Stage::PrivilegedSeccomp) {
        for (stage, _) in &mut steps {
            match stage {
                Stage::Umask => *stage = Stage::UmaskBeforeFilters,
                Stage::Start => *stage = Stage::StartBeforeFilters,
                _ => {}
            }
        }
    }
    // The lock makes its process dumpable again, which must not reach the init through a
    // shared address space: the init takes the lock itself when nothing of the program's
    // comes first (Stage::InitLock), else the program's process is a copy of the init's.
    // (Not in a PID namespace joined by path: there the program's process is forked before
    // the mounts, Stage::JoinedPidInit, and takes the lock itself.)
    let init_locks = init
        && new_pid
        && locks
        && spec.parent_death_signal.is_none()
        && !steps
            .iter()
            .any(|(stage, _)| (Stage::Session..Stage::LockMounts).contains(stage));
    if init_locks {
        for (stage, _) in steps.iter_mut().filter(|(s, _)| *s == Stage::LockMounts) {
            *stage = Stage::InitLock;
        }
    }
    // The program's process: with CLONE_VM from the init when it can (not after unsharing
    // a time namespace, which the kernel refuses with CLONE_VM, not when it locks its
    // mounts itself, and not in a joined PID namespace, where it runs the mount steps,
    // which the init must not share).
    let program_stack = init
        && new_pid
        && !joined_pid
        && !deferred.contains(CloneFlags::NEWTIME)
        && (!locks || init_locks);
    steps.sort_by_key(|(stage, _)| *stage);

    Ok(Prepared {
        spec: spec.clone(),
        flags,
        deferred,
        steps,
        slots,
        outside_maps: outside_maps.filter(|m| m.writer != MapWriter::Child),
        program_stack,
        thread_exec: false,
    })
}

/// The ids that own what the sandbox makes for its program (tmpfs roots, files from fds):
/// the program's, where the user namespace maps them (else root's, as made).
fn owner(
    maps: Option<&crate::idmap::ResolvedMaps>,
    spec: &SandboxSpec,
    euid: u32,
    egid: u32,
) -> Option<(u32, u32)> {
    let ids = match maps {
        Some(m) => {
            let (uid, gid) = ns::user::program_ids(m, &spec.ids, euid, egid);
            let mapped = crate::idmap::maps_inside(&m.users, uid)
                && crate::idmap::maps_inside(&m.groups, gid);
            mapped.then_some((uid, gid))?
        }
        None => (spec.ids.uid.unwrap_or(euid), spec.ids.gid.unwrap_or(egid)),
    };
    (ids != (0, 0)).then_some(ids)
}

/// The flags the child is created with, and those it unshares itself: the spec's, plus a
/// user namespace for an unprivileged caller asking for any other namespace, a mount
/// namespace for any filesystem work, and a time namespace for offsets (unshared in the
/// child: clone(CLONE_NEWTIME) would enter it at once and freeze its offsets).
fn clone_flags(spec: &SandboxSpec, euid: u32, joined: &[Namespace]) -> (CloneFlags, CloneFlags) {
    let mut flags = spec.clone.flags | spec.namespaces.new;
    if spec.time.is_set() {
        flags |= CloneFlags::NEWTIME;
    }
    if spec.mount_proc || !spec.filesystem.is_empty() {
        flags |= CloneFlags::NEWNS;
    }
    let others = CloneFlags::ALL_NAMESPACES.difference(CloneFlags::NEWUSER);
    if euid != 0
        && flags.intersects(others)
        && !spec.clone.unchecked
        && !joined.contains(&Namespace::User)
    {
        flags |= CloneFlags::NEWUSER;
    }
    // Nested in a joined PID namespace: made by the child (see `prepare_as`).
    if joined.contains(&Namespace::Pid) {
        flags.remove(CloneFlags::NEWPID);
    }
    let mut deferred = if spec.time.is_set() {
        CloneFlags::NEWTIME
    } else {
        CloneFlags::empty()
    };
    // New namespaces beside a joined user namespace must belong to it: the child makes
    // them after joining (made at clone, they would belong to the caller's, and the child
    // could not mount in them once it has joined another).
    if joined.contains(&Namespace::User) {
        deferred |= flags & ns::AFTER_USER_JOIN;
    }
    (flags.difference(deferred), deferred)
}

/// Whether the program may hold CAP_SYS_ADMIN over a mount namespace that cleave mounted
/// things in: it then gets a nested user and mount namespace in which those mounts are
/// locked, so that it cannot unmount them (uncovering what they hide, such as the host's
/// /proc) or make a read-only one writable.
fn locks_mounts(spec: &SandboxSpec, flags: CloneFlags) -> bool {
    let sys_admin = spec
        .security
        .capabilities
        .is_none_or(|c| c.may_hold(caps::CAP_SYS_ADMIN));
    sys_admin
        && flags.contains(CloneFlags::NEWUSER | CloneFlags::NEWNS)
        && (spec.mount_proc || !spec.filesystem.ops.is_empty() || spec.filesystem.rootfs.is_some())
}

/// The parent-death signal, checked against the caller's pid (from a new PID namespace the
/// parent is outside and getppid() says 0).
fn death_step(sig: i32, new_pid: bool, flags: CloneFlags) -> Step {
    let parent = if new_pid {
        0
    } else if flags.contains(CloneFlags::PARENT) {
        rustix::process::Pid::as_raw(rustix::process::getppid())
    } else {
        std::process::id() as i32
    };
    Step::new(
        Op::ParentDeathSignal {
            signal: sig,
            parent,
        },
        format!("set the parent-death signal {sig}"),
    )
}

/// The Command that runs the program: its argv, environment, fds and clone flags.
fn command(spec: &SandboxSpec, flags: CloneFlags, exit_signal: Option<i32>) -> Result<Command> {
    let p = &spec.process;
    let mut cmd = Command::new(&p.program);
    cmd.args(&p.args);
    if let Some(a0) = &p.argv0 {
        cmd.arg0(a0);
    }
    if p.env.clear {
        cmd.env_clear();
    }
    for k in &p.env.remove {
        cmd.env_remove(k);
    }
    for (k, v) in &p.env.set {
        cmd.env(k, v);
    }
    for &fd in &p.preserve_fds {
        cmd.keep_fd(fd);
    }
    if let Some(mask) = p.signal_mask {
        cmd.signal_mask(mask);
    }
    cmd.flags(flags).unchecked(spec.clone.unchecked);
    if let Some(sig) = spec.clone.exit_signal.or(exit_signal) {
        cmd.exit_signal(Some(sig));
    }
    if !spec.clone.set_tid.is_empty() {
        cmd.set_tid(&spec.clone.set_tid);
    }
    Ok(cmd)
}

impl Prepared {
    /// The flags the child is created with (cleave's own additions to them, such as the
    /// CLONE_VM | CLONE_VFORK fast path, come at spawn and show in the command's
    /// effective flags).
    pub fn flags(&self) -> CloneFlags {
        self.flags | self.deferred
    }

    /// The child's steps in the order they run: the stage and what each does.
    pub fn steps(&self) -> impl Iterator<Item = (Stage, &str)> {
        self.steps
            .iter()
            .map(|(stage, s)| (*stage, s.what.as_str()))
    }

    /// The part of the specification each step came from, in the order they run.
    pub fn origins(&self) -> impl Iterator<Item = Option<&Origin>> {
        self.steps.iter().map(|(_, s)| s.origin.as_ref())
    }

    /// Lets a spec with CLONE_THREAD spawn: see [`Command::allow_thread_exec`].
    ///
    /// # Safety
    /// The program's exec ends every other thread of the calling process, wherever it is,
    /// and the program takes over the process: the caller vouches that no thread is in the
    /// middle of changing state that outlives the process (files, shared memory, locks held
    /// for others), as for [`Command::allow_thread_exec`].
    #[allow(unsafe_code)]
    pub unsafe fn allow_thread_exec(&mut self) {
        self.thread_exec = true;
    }

    /// Creates the sandbox's cgroups, clones the child and starts the program.
    pub fn spawn(&self) -> Result<Running> {
        self.spawn_with(None)
    }

    /// [`Prepared::spawn`], running `on_clone(pid)` in the caller once the child exists and
    /// before it does anything: the child is alive and in its namespaces (those made at
    /// clone) until `on_clone` returns. The spawn then cannot use CLONE_VFORK.
    pub fn spawn_with(
        &self,
        on_clone: Option<Box<dyn FnMut(i32) -> Result<()>>>,
    ) -> Result<Running> {
        self.spawn_hooked(on_clone, &[])
    }

    /// [`Prepared::spawn_with`] where `on_clone` owns the fds `owned` (at most three): the
    /// child closes its copies of them before it waits for `on_clone`, so that a reader of
    /// one sees its end once `on_clone` closes it (bubblewrap's --info-fd is read to its end
    /// before the maps are written from outside: --userns-block-fd).
    pub fn spawn_hooked(
        &self,
        on_clone: Option<Box<dyn FnMut(i32) -> Result<()>>>,
        owned: &[std::os::fd::RawFd],
    ) -> Result<Running> {
        let mut hook_fds = [-1; 3];
        if owned.len() > hook_fds.len() {
            return Err(Error::Prepare {
                what: format!("hand {} fds to the work after clone", owned.len()),
                source: std::io::Error::from_raw_os_error(libc::E2BIG),
            });
        }
        hook_fds[..owned.len()].copy_from_slice(owned);
        let mut flags = self.flags;
        let mut cmd = command(&self.spec, flags, None)?;
        if self.thread_exec {
            // SAFETY: the caller vouched for it through Prepared::allow_thread_exec, whose
            // contract is Command::allow_thread_exec's.
            #[allow(unsafe_code)]
            unsafe {
                cmd.allow_thread_exec();
            }
        }
        if let Some(fd) = self.spec.process.terminal {
            // Duplicates: the Command owns and closes them; the caller's fd stays open.
            let dup = || {
                crate::fd::dup_cloexec(fd)
                    .map(crate::Stdio::Fd)
                    .map_err(|source| Error::Prepare {
                        what: format!("duplicate the terminal fd {fd}"),
                        source,
                    })
            };
            cmd.stdin(dup()?).stdout(dup()?).stderr(dup()?);
        }
        if let Some(dir) = &self.spec.clone.into_cgroup {
            let f = std::fs::File::open(dir).map_err(|source| Error::Prepare {
                what: format!("open the cgroup directory {}", dir.display()),
                source,
            })?;
            cmd.into_cgroup(&f).map_err(|source| Error::Prepare {
                what: "duplicate the cgroup directory fd".into(),
                source,
            })?;
        }
        let mut steps = self.steps.clone();

        // Limits: the cgroups exist before clone, the child starts in the cgroup2 one
        // (CLONE_INTO_CGROUP) and joins the v1 ones itself, first thing. A cgroup namespace
        // made at clone would then be rooted where it started: it is unshared after the
        // joins.
        // The v1 cgroups the caller made (`clone.v1_cgroups`, e.g. an OCI runtime's set):
        // the child joins them the same way. The files stay open until the clone is done.
        let mut v1_files = Vec::new();
        for dir in &self.spec.clone.v1_cgroups {
            let file = dir.join(crate::cgroup::V1_JOIN_FILE);
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&file)
                .map_err(|source| Error::Prepare {
                    what: format!("open {}", file.display()),
                    source,
                })?;
            v1_files.push(f);
        }
        let cgroup = if self.spec.limits.is_empty() {
            None
        } else {
            let set = CgroupSet::create(
                "sandbox",
                &self.spec.limits,
                self.spec.cgroup_parent.as_deref(),
            )?;
            if let Some(dir) = set.into_cgroup_dir() {
                cmd.into_cgroup(dir).map_err(|source| Error::Prepare {
                    what: "duplicate the cgroup directory fd".into(),
                    source,
                })?;
            }
            Some(set)
        };
        let join_fds = cgroup
            .iter()
            .flat_map(CgroupSet::join_fds)
            .chain(v1_files.iter().map(std::os::fd::AsRawFd::as_raw_fd));
        let mut joins: Vec<Step> = join_fds
            .map(|fd| {
                Step::new(
                    Op::WriteFd {
                        fd,
                        data: b"0".to_vec(),
                    },
                    "join the sandbox's cgroup v1 hierarchies",
                )
                .at(Origin::Limits)
            })
            .collect();
        if !joins.is_empty() && flags.contains(CloneFlags::NEWCGROUP) {
            flags.remove(CloneFlags::NEWCGROUP);
            cmd.flags(flags);
            joins.push(Step::new(
                Op::Unshare {
                    flags: CloneFlags::NEWCGROUP.bits(),
                },
                "unshare(CLONE_NEWCGROUP)",
            ));
        }
        let at = steps.partition_point(|(stage, _)| *stage < Stage::Cgroup);
        steps.splice(at..at, joins.into_iter().map(|s| (Stage::Cgroup, s)));

        // The program's stack, when the init starts it with CLONE_VM. The init has a copy of
        // this memory (it is not cloned with CLONE_VM), so the stack can go once spawn
        // returns.
        let mut program_stack = None;
        if self.program_stack {
            let stack = Stack::new(PROGRAM_STACK).map_err(|source| Error::Prepare {
                what: "map the program's pre-exec stack".into(),
                source,
            })?;
            for (_, s) in steps.iter_mut() {
                if let Op::ForkInit { program_stack } = &mut s.op {
                    *program_stack = stack.base() + stack.size();
                }
            }
            program_stack = Some(stack);
        }
        for (_, s) in steps {
            cmd.push_step(s);
        }
        cmd.reserve_slots(self.slots);
        let writer = self.outside_maps.clone();
        let mut hook = on_clone;
        if writer.is_some() || hook.is_some() {
            cmd.after_clone(
                AfterClone(Box::new(move |pid| {
                    if let Some(maps) = &writer {
                        maps.write_from_parent(pid)?;
                    }
                    match hook.as_mut() {
                        Some(f) => f(pid),
                        None => Ok(()),
                    }
                })),
                hook_fds,
            );
        }
        let effective = cmd.effective_flags();
        let additions = cmd.additions();
        let child = cmd.spawn()?;
        drop(program_stack);
        Ok(Running::new(
            child,
            cgroup,
            effective,
            additions,
            self.deferred,
        ))
    }
}

#[cfg(test)]
mod tests;
