//! [`Sandbox`]: a program in new namespaces with id maps, its own filesystem, a PID-1 init,
//! capabilities, limits and lifetime rules — everything compiled into one [`Command`]'s
//! clone flags and child steps, so the fast CLONE_VM | CLONE_VFORK path is kept wherever
//! nothing needs the caller between clone and exec.
use crate::caps::{self, Rlimit};
use crate::cgroup::{CgroupSet, Limits};
use crate::child::{Child, ExitStatus};
use crate::error::{Error, Result};
use crate::flags::CloneFlags;
use crate::idmap::{self, IdMapping, MapWriter};
use crate::mount::{Filesystem, MountOp};
use crate::plan::Step;
use crate::seccomp;
use crate::spawn::{AfterClone, Command};
use crate::stack::Stack;

/// Stack of the program's process between the init's clone and exec.
const PROGRAM_STACK: usize = 64 * 1024;
use cleave_child::OpKind;
use std::ffi::{OsStr, OsString};

use std::path::PathBuf;

/// A program in a sandbox. Build it around a [`Command`] (program, arguments, environment,
/// stdio, clone flags and namespaces), add what the sandbox needs, then [`Sandbox::spawn`].
///
/// ```no_run
/// use cleave::{sandbox::Sandbox, CloneFlags, Command};
/// let mut cmd = Command::new("sh");
/// cmd.args(["-c", "echo $$; hostname"])
///     .flags(CloneFlags::NEWUSER | CloneFlags::NEWPID | CloneFlags::NEWUTS | CloneFlags::NEWNS);
/// let mut sandbox = Sandbox::new(cmd);
/// sandbox.hostname("box").mount_proc(true);
/// let status = sandbox.spawn()?.wait()?;
/// # Ok::<(), cleave::Error>(())
/// ```
pub struct Sandbox {
    cmd: Command,
    ids: IdMapping,
    setgroups: Option<bool>,
    uid: Option<u32>,
    gid: Option<u32>,
    hostname: Option<OsString>,
    domainname: Option<OsString>,
    as_pid1: bool,
    mount_proc: bool,
    fs: Filesystem,
    monotonic: Option<i64>,
    boottime: Option<i64>,
    rlimits: Vec<Rlimit>,
    keep_caps: Option<u64>,
    ambient_caps: u64,
    no_new_privs: bool,
    new_session: bool,
    session_keyring: bool,
    tty_filter: bool,
    parent_death_signal: Option<i32>,
    limits: Limits,
    cgroup_parent: Option<PathBuf>,
    on_clone: Option<Box<dyn FnMut(i32) -> Result<()>>>,
    spawned: bool,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("command", &self.cmd)
            .field("ids", &self.ids)
            .field("filesystem", &self.fs)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct SandboxChild {
    child: Child,
    cgroup: Option<CgroupSet>,
    cleanup_error: Option<Error>,
}

impl SandboxChild {
    /// The process cleave started (the init, when the sandbox has one), as the caller sees it.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its PID in the caller's PID namespace.
    pub fn id(&self) -> i32 {
        self.child.id()
    }

    /// The sandbox's cgroups, when it has limits: freeze, thaw, kill.
    pub fn cgroup(&self) -> Option<&CgroupSet> {
        self.cgroup.as_ref()
    }

    /// Waits for the sandbox to end, then removes what cleave made for it (its cgroups,
    /// after killing anything the program left running in them).
    pub fn wait(&mut self) -> Result<ExitStatus> {
        let status = self.child.wait()?;
        if let Some(set) = self.cgroup.take() {
            // The program's status stands even if cleaning up fails: the failure is kept
            // for cleanup_error().
            self.cleanup_error = set.remove().err();
        }
        Ok(status)
    }

    /// What went wrong removing the sandbox's cgroups after [`SandboxChild::wait`], if
    /// anything.
    pub fn cleanup_error(&self) -> Option<&Error> {
        self.cleanup_error.as_ref()
    }
}

impl Sandbox {
    /// A sandbox around `cmd`, with nothing added yet.
    pub fn new(cmd: Command) -> Sandbox {
        Sandbox {
            cmd,
            ids: IdMapping::default(),
            setgroups: None,
            uid: None,
            gid: None,
            hostname: None,
            domainname: None,
            as_pid1: false,
            mount_proc: false,
            fs: Filesystem::default(),
            monotonic: None,
            boottime: None,
            rlimits: Vec::new(),
            keep_caps: None,
            ambient_caps: 0,
            no_new_privs: false,
            new_session: false,
            session_keyring: false,
            tty_filter: false,
            parent_death_signal: None,
            limits: Limits::default(),
            cgroup_parent: None,
            on_clone: None,
            spawned: false,
        }
    }

    /// Runs `f(pid)` in the caller once the child exists and before it does anything: the
    /// child is alive and in its namespaces (those made at clone) until `f` returns. The
    /// spawn then cannot use CLONE_VFORK.
    pub fn on_clone(&mut self, f: impl FnMut(i32) -> Result<()> + 'static) -> &mut Sandbox {
        self.on_clone = Some(Box::new(f));
        self
    }

    /// Resource limits, enforced by a cgroup made for this sandbox and removed after it.
    pub fn limits(&mut self, limits: Limits) -> &mut Sandbox {
        self.limits = limits;
        self
    }

    /// A cgroup2 directory delegated to the caller, under which the sandbox's cgroup is
    /// made (for limits without root).
    pub fn cgroup_parent(&mut self, dir: impl Into<PathBuf>) -> &mut Sandbox {
        self.cgroup_parent = Some(dir.into());
        self
    }

    /// The command inside.
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// How ids map into a new user namespace (default: the caller is root inside).
    pub fn id_mapping(&mut self, ids: IdMapping) -> &mut Sandbox {
        self.ids = ids;
        self
    }

    /// Keeps setgroups(2) allowed (`true`) or denies it (`false`) inside.
    pub fn setgroups(&mut self, allow: bool) -> &mut Sandbox {
        self.setgroups = Some(allow);
        self
    }

    /// The uid the program runs as inside.
    pub fn uid(&mut self, uid: u32) -> &mut Sandbox {
        self.uid = Some(uid);
        self
    }

    /// The gid the program runs as inside.
    pub fn gid(&mut self, gid: u32) -> &mut Sandbox {
        self.gid = Some(gid);
        self
    }

    /// The hostname inside (needs a new UTS namespace).
    pub fn hostname(&mut self, name: impl AsRef<OsStr>) -> &mut Sandbox {
        self.hostname = Some(name.as_ref().to_os_string());
        self
    }

    /// The NIS domain name inside (needs a new UTS namespace).
    pub fn domainname(&mut self, name: impl AsRef<OsStr>) -> &mut Sandbox {
        self.domainname = Some(name.as_ref().to_os_string());
        self
    }

    /// With a new PID namespace, run the program itself as PID 1 instead of behind cleave's
    /// init (it must then reap orphans and handle signals itself).
    pub fn as_pid1(&mut self, yes: bool) -> &mut Sandbox {
        self.as_pid1 = yes;
        self
    }

    /// Mounts a /proc of the new PID namespace (implies a new mount namespace).
    pub fn mount_proc(&mut self, yes: bool) -> &mut Sandbox {
        self.mount_proc = yes;
        self
    }

    /// The new root (pivot_root into it; the old root is detached).
    pub fn rootfs(&mut self, dir: impl Into<PathBuf>) -> &mut Sandbox {
        self.fs.rootfs = Some(dir.into());
        self
    }

    /// Adds a filesystem operation (applied in the order added).
    pub fn mount(&mut self, op: MountOp) -> &mut Sandbox {
        self.fs.ops.push(op);
        self
    }

    /// Mount propagation of the new mount namespace (default private).
    pub fn propagation(&mut self, p: crate::mount::Propagation) -> &mut Sandbox {
        self.fs.propagation = p;
        self
    }

    /// The working directory inside (after the new root is in place).
    pub fn chdir(&mut self, dir: impl Into<PathBuf>) -> &mut Sandbox {
        self.fs.chdir = Some(dir.into());
        self
    }

    /// CLOCK_MONOTONIC offset in seconds (a new time namespace).
    pub fn monotonic_offset(&mut self, secs: i64) -> &mut Sandbox {
        self.monotonic = Some(secs);
        self
    }

    /// CLOCK_BOOTTIME offset in seconds (a new time namespace).
    pub fn boottime_offset(&mut self, secs: i64) -> &mut Sandbox {
        self.boottime = Some(secs);
        self
    }

    /// A resource limit for the program.
    pub fn rlimit(&mut self, limit: Rlimit) -> &mut Sandbox {
        self.rlimits.push(limit);
        self
    }

    /// The program keeps exactly these capabilities (a mask of `1 << CAP_*`): every other
    /// one leaves its bounding, effective, permitted and inheritable sets. `None` (the
    /// default) leaves capabilities as the kernel gives them.
    pub fn keep_capabilities(&mut self, mask: Option<u64>) -> &mut Sandbox {
        self.keep_caps = mask;
        self
    }

    /// Capabilities a program running as a non-root uid keeps across exec (the ambient set;
    /// they must also be kept with [`Sandbox::keep_capabilities`]). A non-root program gets
    /// no capability but these.
    pub fn ambient_capabilities(&mut self, mask: u64) -> &mut Sandbox {
        self.ambient_caps = mask;
        self
    }

    /// Sets no_new_privs: no exec can gain privileges (setuid bits, file capabilities).
    pub fn no_new_privs(&mut self, yes: bool) -> &mut Sandbox {
        self.no_new_privs = yes;
        self
    }

    /// Runs the program in a new session (setsid): it cannot reach the caller's terminal
    /// with TIOCSTI.
    pub fn new_session(&mut self, yes: bool) -> &mut Sandbox {
        self.new_session = yes;
        self
    }

    /// Gives the program a new, empty session keyring (keyctl(2)
    /// KEYCTL_JOIN_SESSION_KEYRING), so that the caller's session keys are out of its reach.
    pub fn new_session_keyring(&mut self, yes: bool) -> &mut Sandbox {
        self.session_keyring = yes;
        self
    }

    /// Installs a seccomp filter that refuses the terminal ioctls that inject input into a
    /// terminal (TIOCSTI) or act on the console (TIOCLINUX) with EPERM: for a program that
    /// keeps the caller's terminal as its controlling one (no [`Sandbox::new_session`]).
    /// The filter needs no_new_privs or CAP_SYS_ADMIN inside, which a sandbox has.
    pub fn block_tty_injection(&mut self, yes: bool) -> &mut Sandbox {
        self.tty_filter = yes;
        self
    }

    /// The signal the sandbox gets when the caller dies (PR_SET_PDEATHSIG).
    pub fn parent_death_signal(&mut self, signal: Option<i32>) -> &mut Sandbox {
        self.parent_death_signal = signal;
        self
    }

    /// The flags the sandbox will be created with, after the additions [`Sandbox::spawn`]
    /// makes: a user namespace for an unprivileged caller asking for any other namespace,
    /// a mount namespace for any filesystem option; time and cgroup namespaces that must be
    /// entered after setup move out of clone() into unshare() in the child.
    fn plan_flags(&self, euid: u32) -> (CloneFlags, CloneFlags) {
        let mut flags = self.cmd.requested_flags();
        if self.monotonic.is_some() || self.boottime.is_some() {
            flags |= CloneFlags::NEWTIME;
        }
        if self.mount_proc || !self.fs.is_empty() {
            flags |= CloneFlags::NEWNS;
        }
        let others = CloneFlags::ALL_NAMESPACES.difference(CloneFlags::NEWUSER);
        if euid != 0 && flags.intersects(others) && !self.cmd.is_unchecked() {
            flags |= CloneFlags::NEWUSER;
        }
        let mut deferred = CloneFlags::empty();
        if self.monotonic.is_some() || self.boottime.is_some() {
            // clone(CLONE_NEWTIME) puts the child in the namespace at once, which freezes
            // its offsets: unshare it in the child, write the offsets, and let exec (or the
            // init's fork) enter it.
            deferred |= CloneFlags::NEWTIME;
        }
        (flags.difference(deferred), deferred)
    }

    /// Whether the program keeps CAP_SYS_ADMIN in a mount namespace cleave mounted things
    /// in: it then gets a nested user and mount namespace where those mounts are locked.
    fn locks_mounts(&self, flags: CloneFlags) -> bool {
        self.keep_caps
            .is_some_and(|keep| keep & (1 << caps::CAP_SYS_ADMIN) != 0)
            && flags.contains(CloneFlags::NEWUSER | CloneFlags::NEWNS)
            && (!self.fs.is_empty() || self.mount_proc)
    }

    /// Checks everything, then starts the sandbox.
    pub fn spawn(&mut self) -> Result<SandboxChild> {
        if std::mem::replace(&mut self.spawned, true) {
            return Err(Error::InvalidArgument {
                what: "a Sandbox starts one child: build a new Sandbox for another".into(),
            });
        }
        // SAFETY: plain getters.
        #[allow(unsafe_code)]
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let (mut flags, deferred) = self.plan_flags(euid);
        let all = flags | deferred;
        let need = |f: CloneFlags, what: &str, ns: &str| -> Result<()> {
            if all.contains(f) {
                Ok(())
            } else {
                Err(Error::InvalidArgument {
                    what: format!("{what} needs a new {ns} namespace: add {ns} to --new"),
                })
            }
        };
        if self.hostname.is_some() || self.domainname.is_some() {
            need(CloneFlags::NEWUTS, "--hostname/--domainname", "uts")?;
        }
        // Values the kernel would refuse after clone are refused before anything exists.
        crate::ns::uts::check_names(self.hostname.as_deref(), self.domainname.as_deref())?;
        crate::ns::time::check_offsets(self.monotonic, self.boottime)?;
        self.cmd.check_values()?;
        if self.mount_proc {
            need(CloneFlags::NEWPID, "--mount-proc", "pid")?;
        }
        if self.as_pid1 {
            need(CloneFlags::NEWPID, "--as-pid-1", "pid")?;
        }

        let new_pid = all.contains(CloneFlags::NEWPID);
        if new_pid && !self.as_pid1 && flags.contains(CloneFlags::FILES) {
            return Err(Error::InvalidArgument {
                what: "a shared fd table (files) cannot go with a new PID namespace's init, which closes what it does not need: add --as-pid-1, or drop files".into(),
            });
        }
        let mut steps: Vec<Step> = Vec::new();
        let mut death_step = None;
        let mut death_again = None;
        if let Some(sig) = self.parent_death_signal {
            // Checked against the caller's pid; from a new PID namespace the parent is
            // outside and getppid() says 0.
            let ppid = if new_pid {
                0
            } else if flags.contains(CloneFlags::PARENT) {
                // SAFETY: getppid has no preconditions.
                #[allow(unsafe_code)]
                let p = unsafe { libc::getppid() };
                p as u64
            } else {
                std::process::id() as u64
            };
            let step = Step::new(
                OpKind::ParentDeathSignal,
                format!("set the parent-death signal {sig}"),
            )
            .num(0, sig as u64)
            .num(1, ppid);
            steps.push(step.clone());
            death_again = Some(step.clone());
            death_step = Some(step);
        }
        // Where the cgroup joins go, once every check has passed (below).
        let joins_at = steps.len();

        // Ids first: until the maps exist, the child's files would belong to nobody
        // (EOVERFLOW) and setgroups/setuid could not work.
        let maps = if all.contains(CloneFlags::NEWUSER) {
            let maps = self.ids.resolve(euid, egid, self.setgroups)?;
            for (id, list, name) in [
                (self.uid, &maps.users, "uid"),
                (self.gid, &maps.groups, "gid"),
            ] {
                if let Some(id) = id {
                    if !idmap::maps_inside(list, id) {
                        return Err(Error::InvalidArgument {
                            what: format!("--{name} {id} is not mapped in the new user namespace; map it (--map-user/--map-group) or pick a mapped id"),
                        });
                    }
                }
            }
            if maps.writer == MapWriter::Child {
                for (file, text) in [
                    ("setgroups", "deny".to_string()),
                    ("gid_map", idmap::render(&maps.groups)),
                    ("uid_map", idmap::render(&maps.users)),
                ] {
                    let path = format!("/proc/self/{file}");
                    steps.push(
                        Step::new(
                            OpKind::WriteFile,
                            format!("write {:?} to {path}", text.trim_end()),
                        )
                        .arg(0, &path)
                        .arg(1, &text)
                        .num(0, text.len() as u64),
                    );
                }
            }
            Some(maps)
        } else {
            None
        };

        if deferred.contains(CloneFlags::NEWTIME) {
            steps.push(
                Step::new(OpKind::Unshare, "unshare(CLONE_NEWTIME)")
                    .num(0, CloneFlags::NEWTIME.bits()),
            );
            let text = format!(
                "monotonic {} 0\nboottime {} 0\n",
                self.monotonic.unwrap_or(0),
                self.boottime.unwrap_or(0)
            );
            steps.push(
                Step::new(
                    OpKind::WriteFile,
                    format!("write the time offsets {:?}", text.trim_end()),
                )
                .arg(0, "/proc/self/timens_offsets")
                .arg(1, &text)
                .num(0, text.len() as u64),
            );
        }
        if let Some(h) = &self.hostname {
            steps.push(Step::text(OpKind::SetHostname, "sethostname", h));
        }
        if let Some(d) = &self.domainname {
            steps.push(Step::text(OpKind::SetDomainname, "setdomainname", d));
        }
        if all.contains(CloneFlags::NEWNET) {
            steps.push(Step::new(
                OpKind::LoopbackUp,
                "bring the loopback interface up",
            ));
        }

        let mut fs = self.fs.clone();
        if self.mount_proc {
            fs.ops.insert(
                0,
                MountOp::Proc {
                    dst: "/proc".into(),
                },
            );
        }
        let compiled = fs.compile(all.contains(CloneFlags::NEWNS))?;
        steps.extend(compiled.steps);
        self.cmd.reserve_slots(compiled.slots);

        // The program's stack, when the init can start it with CLONE_VM | CLONE_VFORK (not
        // after unsharing a time namespace: the kernel refuses CLONE_VM then). By the time
        // spawn returns the program has exec'd, so the stack can go with this frame.
        let mut program_stack = None;
        if new_pid && !self.as_pid1 {
            let mut step = Step::new(OpKind::ForkInit, "start the program behind cleave's init");
            // Not when the program locks its mounts: that makes it dumpable again, which
            // must not reach the init through a shared address space.
            if !deferred.contains(CloneFlags::NEWTIME) && !self.locks_mounts(all) {
                let stack = Stack::new(PROGRAM_STACK).map_err(|source| Error::Prepare {
                    what: "map the program's pre-exec stack".into(),
                    source,
                })?;
                step = step.num(0, stack.base() + stack.size());
                program_stack = Some(stack);
            }
            steps.push(step);
        }
        if self.new_session {
            steps.push(Step::new(OpKind::Setsid, "setsid"));
        }
        for r in &self.rlimits {
            steps.push(
                Step::new(
                    OpKind::SetRlimit,
                    format!("--rlimit {}={}:{}", r.name(), r.soft, r.hard),
                )
                .num(0, r.resource as u64)
                .num(1, r.soft)
                .num(2, r.hard),
            );
        }
        if self.session_keyring {
            steps.push(Step::new(
                OpKind::NewSessionKeyring,
                "join a new session keyring",
            ));
        }
        if self.no_new_privs {
            steps.push(Step::new(OpKind::NoNewPrivs, "set no_new_privs"));
        }
        // The bounding set shrinks while the child still holds CAP_SETPCAP (before any
        // change of uid clears its effective set).
        if let Some(keep) = self.keep_caps {
            let keep = keep & caps::ALL;
            steps.push(
                Step::new(
                    OpKind::DropBounding,
                    format!("drop capabilities but {:?}", caps::names(keep)),
                )
                .num(0, keep),
            );
        }
        // The ids the program has inside unless --uid/--gid change them: the caller's, as
        // the maps show them (the caller's own ids without a new user namespace).
        let (default_uid, default_gid) = match &maps {
            Some(m) => (
                idmap::inside_of(&m.users, euid).unwrap_or(0),
                idmap::inside_of(&m.groups, egid).unwrap_or(0),
            ),
            None => (euid, egid),
        };
        let uid = self.uid.unwrap_or(default_uid);
        let gid = self.gid.unwrap_or(default_gid);
        let changes_ids = self.uid.is_some() || self.gid.is_some();
        if changes_ids {
            let can_setgroups = maps.as_ref().map_or(euid == 0, |m| m.setgroups);
            if self.keep_caps.is_some() {
                steps
                    .push(Step::new(OpKind::KeepCaps, "keep capabilities across setuid").num(0, 1));
            }
            steps.push(
                Step::new(OpKind::SetIds, format!("become uid {uid} gid {gid}"))
                    .num(0, uid as u64)
                    .num(1, gid as u64)
                    .num(2, can_setgroups as u64),
            );
            // The kernel clears the parent-death signal when the ids change: set it again.
            steps.extend(death_step.take());
        }
        if let Some(keep) = self.keep_caps {
            let keep = keep & caps::ALL;
            if self.locks_mounts(all) {
                // CAP_SYS_ADMIN in the sandbox's own mount namespace could unmount what
                // cleave mounted (uncovering the host's /proc) or make a read-only bind
                // writable: the program gets a namespace of its own in which they are
                // locked. That user namespace maps only the program's own ids.
                let (u, g) = (format!("{uid} {uid} 1\n"), format!("{gid} {gid} 1\n"));
                steps.push(
                    Step::new(
                        OpKind::LockMounts,
                        "lock the sandbox's mounts (a nested user and mount namespace)",
                    )
                    .arg(0, &u)
                    .arg(1, &g)
                    .num(0, u.len() as u64)
                    .num(1, g.len() as u64),
                );
                // A new user namespace gives a full bounding set and clears the
                // parent-death signal: both again.
                steps.push(
                    Step::new(
                        OpKind::DropBounding,
                        format!("drop capabilities but {:?}", caps::names(keep)),
                    )
                    .num(0, keep),
                );
                steps.extend(death_again.clone());
            }
            steps.push(Step::new(OpKind::SetCaps, "set capabilities").num(0, keep));
            let ambient = self.ambient_caps & keep;
            if uid != 0 && ambient != 0 {
                steps
                    .push(Step::new(OpKind::Ambient, "raise ambient capabilities").num(0, ambient));
            }
        }

        if self.tty_filter {
            let prog = seccomp::tty_injection_filter();
            steps.push(
                Step::new(
                    OpKind::SeccompFilter,
                    "install the seccomp filter that refuses TIOCSTI and TIOCLINUX",
                )
                .blob(0, &prog)
                .num(0, (prog.len() / seccomp::INSTRUCTION_SIZE) as u64),
            );
        }

        // Limits, last of all so that no cgroup is made for a request refused above: the
        // cgroups exist before clone, the child starts in the cgroup2 one
        // (CLONE_INTO_CGROUP) and joins the v1 ones itself, first thing. A cgroup namespace
        // made at clone would then be rooted where it started: it is unshared after the join.
        let cgroup = if self.limits.is_empty() {
            None
        } else {
            let set = CgroupSet::create("sandbox", &self.limits, self.cgroup_parent.as_deref())?;
            if let Some(dir) = set.into_cgroup_dir() {
                self.cmd.into_cgroup(dir).map_err(|source| Error::Prepare {
                    what: "duplicate the cgroup directory fd".into(),
                    source,
                })?;
            }
            let mut joins: Vec<Step> = set
                .join_fds()
                .into_iter()
                .map(|fd| {
                    Step::new(OpKind::WriteFd, "join the sandbox's cgroup v1 hierarchies")
                        .arg(0, "0")
                        .num(0, fd as u64)
                        .num(1, 1)
                })
                .collect();
            if !joins.is_empty() && flags.contains(CloneFlags::NEWCGROUP) {
                flags.remove(CloneFlags::NEWCGROUP);
                joins.push(
                    Step::new(OpKind::Unshare, "unshare(CLONE_NEWCGROUP)")
                        .num(0, CloneFlags::NEWCGROUP.bits()),
                );
            }
            steps.splice(joins_at..joins_at, joins);
            Some(set)
        };

        self.cmd.flags(flags);
        for s in steps {
            self.cmd.push_step(s);
        }
        let writer = maps.filter(|m| m.writer != MapWriter::Child);
        let mut hook = self.on_clone.take();
        if writer.is_some() || hook.is_some() {
            self.cmd.after_clone(AfterClone(Box::new(move |pid| {
                if let Some(maps) = &writer {
                    maps.write_from_parent(pid)?;
                }
                match hook.as_mut() {
                    Some(f) => f(pid),
                    None => Ok(()),
                }
            })));
        }
        let child = self.cmd.spawn()?;
        drop(program_stack);
        Ok(SandboxChild {
            child,
            cgroup,
            cleanup_error: None,
        })
    }
}
