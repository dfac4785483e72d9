//! [`Command`]: a program started in a child made with the clone flags of your choice.
use super::report::{read_report, report_error};
use super::stdio::{open, pipe_cloexec, prepare, resolve, Io, Stdio, CAPTURE, INHERIT_ALL};
use super::{clone_error, owned_pidfd, reaper_for, CloneSpec};
use crate::child::{Child, ExitStatus, Output, Reaper};
use crate::error::{Error, RequestProblem, Result};
use crate::flags::CloneFlags;
use crate::plan::{text, PlanData, PlanInput, Step};
use crate::raw;
use crate::stack::Stack;
use cleave_child::{Notes, Op};
use std::cell::RefCell;
use std::ffi::{c_void, OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// A program to run in a new child.
///
/// By default the child is created the way posix_spawn(3) does it — CLONE_VM | CLONE_VFORK
/// with a small stack of its own and CLONE_CLEAR_SIGHAND — plus whatever flags you add: the
/// caller pauses until the program is executing, an exec failure comes back as
/// [`Error::Exec`], and nothing is copied. Every fd above 2 is closed in the program unless
/// kept with [`Command::keep_fd`].
///
/// Unless the flags make that impossible, the child is created with CLONE_PIDFD, so its
/// [`Child`] waits and signals through a pidfd (see [`Command::effective_flags`]).
///
/// The shape follows [`std::process::Command`]: `&mut self` setters, [`Stdio`] with
/// `piped()`, `null()` and `inherit()`, [`Command::spawn`], [`Command::status`],
/// [`Command::output`]; a spawned [`Child`] has `stdin`, `stdout` and `stderr` handles and
/// [`Child::wait_with_output`].
///
/// ```no_run
/// use cleave::{Command, Stdio};
/// let out = Command::new("sh").args(["-c", "echo hi; exit 3"]).output()?;
/// assert_eq!(out.stdout, b"hi\n");
/// assert_eq!(out.status.code(), Some(3));
///
/// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
/// use std::io::Write;
/// child.stdin.take().unwrap().write_all(b"through cat")?; // dropped: cat sees EOF
/// assert_eq!(child.wait_with_output()?.stdout, b"through cat");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ```no_run
/// use cleave::{CloneFlags, Command};
/// let status = Command::new("hostname")
///     .flags(CloneFlags::NEWUSER | CloneFlags::NEWUTS)
///     .hostname("sandbox")
///     .status()?;
/// assert!(status.success());
/// # Ok::<(), cleave::Error>(())
/// ```
#[derive(Debug)]
pub struct Command {
    program: OsString,
    argv: Vec<OsString>,
    env_clear: bool,
    env: Vec<(OsString, Option<OsString>)>,
    steps: Vec<Step>,
    /// The standard fds asked for; `None`: the default of the call that spawns.
    stdio: [Option<Stdio>; 3],
    /// CLONE_THREAD was allowed (see [`Command::allow_thread_exec`]).
    thread_exec: bool,
    keep_fds: Vec<RawFd>,
    sigmask: Option<u64>,
    spec: CloneSpec,
    after_clone: Option<AfterClone>,
    /// Fds `after_clone` owns: the child closes its copies before it waits.
    hook_fds: [i32; 3],
    cwd: Option<std::path::PathBuf>,
    slots: usize,
}

/// Parent-side work between clone and the child's setup (writing id maps): the child waits
/// on a pipe until it is done.
pub(crate) struct AfterClone(pub Box<dyn FnMut(i32) -> Result<()>>);

impl std::fmt::Debug for AfterClone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterClone")
    }
}

thread_local! {
    /// A stack reused by spawns that return only once the child no longer runs on it
    /// (CLONE_VFORK, or no CLONE_VM): saves an mmap/mprotect/munmap per spawn.
    static SPARE_STACK: RefCell<Option<Stack>> = const { RefCell::new(None) };
}

const PRE_EXEC_STACK: usize = 64 * 1024;

/// Signals every program gets at SIG_DFL (see [`set_program_default_signals`]).
static PROGRAM_DEFAULT_SIGNALS: AtomicU64 = AtomicU64::new(0);

/// Signals (bit N-1 for signal N) that this process ignores for itself only: every program a
/// [`Command`] starts from now on gets them at SIG_DFL again, set in the child just before
/// exec. An ignored signal stays ignored across execve and CLONE_CLEAR_SIGHAND, so a tool
/// that ignores SIGPIPE to see EPIPE (as the cleave CLI does) would otherwise hand that to
/// every program. Not applied to a child sharing the handler table (CLONE_SIGHAND): its
/// change would be this process's too. Replaces the earlier set.
pub fn set_program_default_signals(signals: u64) {
    PROGRAM_DEFAULT_SIGNALS.store(signals, Ordering::Relaxed);
}

#[allow(unsafe_code)]
unsafe extern "C" fn program_entry(arg: *mut c_void) -> i32 {
    // SAFETY: `arg` is the Plan the parent keeps alive until exec (see Command::spawn).
    unsafe { cleave_child::run(arg as *const cleave_child::Plan) }
}

impl Command {
    /// A command running `program` (searched in PATH when it has no `/`), with `argv[0]`
    /// set to `program`.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        let program = program.as_ref().to_os_string();
        Command {
            argv: vec![program.clone()],
            program,
            env_clear: false,
            env: Vec::new(),
            steps: Vec::new(),
            stdio: Default::default(),
            thread_exec: false,
            keep_fds: Vec::new(),
            sigmask: None,
            spec: CloneSpec::default(),
            after_clone: None,
            hook_fds: [-1; 3],
            cwd: None,
            slots: 0,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.argv.push(arg.as_ref().to_os_string());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Sets `argv[0]` (default: the program as given).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.argv[0] = arg0.as_ref().to_os_string();
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((
            key.as_ref().to_os_string(),
            Some(val.as_ref().to_os_string()),
        ));
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The working directory of the program: chdir in the child after every other step,
    /// so that it is looked up in the sandbox's filesystem as the program will see it.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Sets the hostname in the child (needs CLONE_NEWUTS, or it changes the host's).
    pub fn hostname(&mut self, name: impl AsRef<OsStr>) -> &mut Command {
        let name = name.as_ref();
        self.steps.push(Step::new(
            Op::SetHostname { name: text(name) },
            format!("sethostname({name:?})"),
        ));
        self
    }

    /// Sets the NIS domain name in the child (needs CLONE_NEWUTS).
    pub fn domainname(&mut self, name: impl AsRef<OsStr>) -> &mut Command {
        let name = name.as_ref();
        self.steps.push(Step::new(
            Op::SetDomainname { name: text(name) },
            format!("setdomainname({name:?})"),
        ));
        self
    }

    /// The program's stdin. Default: inherited, or `/dev/null` for [`Command::output`].
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stdio[0] = Some(cfg.into());
        self
    }

    /// The program's stdout. Default: inherited, or captured for [`Command::output`].
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stdio[1] = Some(cfg.into());
        self
    }

    /// The program's stderr. Default: inherited, or captured for [`Command::output`].
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stdio[2] = Some(cfg.into());
        self
    }

    /// Keeps this fd open (and inheritable) in the program.
    pub fn keep_fd(&mut self, fd: RawFd) -> &mut Command {
        self.keep_fds.push(fd);
        self
    }

    /// The signal mask the program starts with, as a 64-bit set (bit N-1 for signal N).
    /// Default: the caller's mask at spawn time. Lets a caller block signals it wants to
    /// forward before spawning, with no window where they are lost.
    pub fn signal_mask(&mut self, mask: u64) -> &mut Command {
        self.sigmask = Some(mask);
        self
    }

    /// Sets the clone flags (replacing earlier ones; CLONE_INTO_CGROUP stays while a cgroup
    /// is given with [`Command::into_cgroup`]).
    pub fn flags(&mut self, flags: CloneFlags) -> &mut Command {
        self.spec.set_flags(flags);
        self
    }

    /// The exit signal; `None` for none. Default SIGCHLD (none with THREAD or PARENT).
    pub fn exit_signal(&mut self, signal: Option<i32>) -> &mut Command {
        self.spec.exit_signal = Some(signal.unwrap_or(0));
        self
    }

    /// PIDs for the child, innermost PID namespace first (clone3 `set_tid`).
    pub fn set_tid(&mut self, pids: &[i32]) -> &mut Command {
        self.spec.set_tid = pids.to_vec();
        self
    }

    /// Starts the child in this cgroup2 directory (CLONE_INTO_CGROUP).
    pub fn into_cgroup(&mut self, dir: impl AsFd) -> io::Result<&mut Command> {
        self.spec.set_into_cgroup(dir)?;
        Ok(self)
    }

    /// The thread pointer for CLONE_SETTLS (the program's exec replaces it).
    pub fn tls(&mut self, tls: u64) -> &mut Command {
        self.spec.tls = tls;
        self
    }

    /// Allows CLONE_THREAD, which a `Command` otherwise refuses with
    /// [`Error::ThreadExec`].
    ///
    /// A CLONE_THREAD child is a thread of this process, and the program's execve(2) makes
    /// the whole process the program: the kernel kills every other thread of the process —
    /// the one that called `spawn` included — wherever it is, without unwinding, running
    /// destructors or atexit handlers, or flushing buffers, and the program takes over this
    /// process's PID, parent, credentials and every fd not marked close-on-exec. `spawn`
    /// (or `status`, `output`) then never returns, unless the program cannot be started:
    /// then the error is returned as usual and the process goes on.
    ///
    /// # Safety
    /// The caller must accept that every thread of this process is ended at an arbitrary
    /// point: no thread may be in the middle of changing state that outlives the process and
    /// that others rely on (a file being rewritten in place, a lock or data structure in
    /// memory shared with other processes, a protocol exchange with a peer), since nothing
    /// finishes or rolls it back. In practice: call it only from a program whose purpose
    /// is to become the command, while no other thread does such work.
    #[allow(unsafe_code)]
    pub unsafe fn allow_thread_exec(&mut self) -> &mut Command {
        self.thread_exec = true;
        self
    }

    /// Skips cleave's rules and its own additions (VM, VFORK, CLEAR_SIGHAND, PIDFD): the
    /// flags go to the kernel exactly as given, so you see the kernel's own answer.
    /// CLONE_THREAD still needs [`Command::allow_thread_exec`].
    pub fn unchecked(&mut self, yes: bool) -> &mut Command {
        self.spec.unchecked = yes;
        self
    }

    /// Adds a setup step (sandbox builders).
    pub(crate) fn push_step(&mut self, step: Step) -> &mut Command {
        self.steps.push(step);
        self
    }

    /// The fd slot table the steps use needs `n` entries.
    pub(crate) fn reserve_slots(&mut self, n: usize) -> &mut Command {
        self.slots = self.slots.max(n);
        self
    }

    /// Runs `f(pid)` in the caller after clone, before the child's first step; the child
    /// closes its copies of `owned` (fds `f` owns) before it waits for `f`.
    pub(crate) fn after_clone(&mut self, f: AfterClone, owned: [i32; 3]) -> &mut Command {
        self.after_clone = Some(f);
        self.hook_fds = owned;
        self
    }

    /// The caller cannot pause until exec: it must act after clone, the child becomes an
    /// init that never execs, or it waits at a start barrier for the caller's go-ahead.
    fn caller_runs_alongside(&self) -> bool {
        self.after_clone.is_some()
            || self
                .steps
                .iter()
                .any(|s| matches!(s.op, Op::ForkInit { .. } | Op::WaitForStart { .. }))
    }

    /// The flags the child will be created with: yours, plus (unless unchecked) CLONE_VM |
    /// CLONE_VFORK, CLONE_CLEAR_SIGHAND when the handler table is not shared, and
    /// CLONE_PIDFD unless this kernel cannot combine it with the other flags (before 5.4;
    /// CLONE_THREAD before 6.9; CLONE_PARENT_SETTID through legacy clone()).
    ///
    /// VM and VFORK go together or not at all: they are left out when the caller has work
    /// to do after clone or the child becomes an init that never execs. A child that shares
    /// the caller's memory while the caller runs would let whatever runs in the child (a
    /// sandbox's PID 1 lives beside the program) read and write the caller's memory.
    pub fn effective_flags(&self) -> CloneFlags {
        self.additions()
            .iter()
            .fold(self.spec.flags, |f, a| f | a.flags)
    }

    /// What cleave adds to the flags you asked for, and why (none when unchecked). The
    /// request is judged as asked before these are added: an addition never turns a
    /// request the kernel refuses into one it accepts.
    pub fn additions(&self) -> Vec<Addition> {
        let asked = self.spec.flags;
        let mut out = Vec::new();
        if self.spec.unchecked {
            return out;
        }
        let mut f = asked;
        if !self.caller_runs_alongside() {
            let fast = (CloneFlags::VM | CloneFlags::VFORK) - asked;
            if !fast.is_empty() {
                out.push(Addition {
                    flags: fast,
                    reason: AdditionReason::FastPath,
                });
            }
            f |= fast;
        }
        if !f.contains(CloneFlags::SIGHAND) && !raw::clone3_unavailable() {
            let clear = CloneFlags::CLEAR_SIGHAND - asked;
            if !clear.is_empty() {
                out.push(Addition {
                    flags: clear,
                    reason: AdditionReason::ClearHandlers,
                });
            }
            f |= clear;
        }
        let pidfd = self.spec.with_default_pidfd(f) - f;
        if !pidfd.is_empty() {
            out.push(Addition {
                flags: pidfd,
                reason: AdditionReason::Pidfd,
            });
        }
        out
    }

    /// Spawns and waits; a program killed by a signal is reported in the status. Standard
    /// fds left unset are inherited.
    ///
    /// Only a child this process reaps has a status to give: with CLONE_PARENT (the
    /// caller's parent reaps it) or CLONE_THREAD this fails with [`Error::NotWaitable`]
    /// before anything is created. Use [`Command::spawn`] and [`Child::wait_exit`] to await
    /// such a child's end.
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.check_reaped_here()?;
        self.spawn_with(INHERIT_ALL)?.wait()
    }

    /// Spawns, collects everything the program writes and waits, as
    /// [`std::process::Command::output`]: stdout and stderr left unset are captured, stdin
    /// left unset is `/dev/null`. Fails as [`Command::status`] does for a child this
    /// process cannot reap.
    pub fn output(&mut self) -> Result<Output> {
        self.check_reaped_here()?;
        self.spawn_with(CAPTURE)?.wait_with_output()
    }

    fn check_reaped_here(&self) -> Result<()> {
        match reaper_for(self.effective_flags()) {
            Reaper::Caller => Ok(()),
            reaper => Err(Error::NotWaitable { pid: None, reaper }),
        }
    }

    /// Checks the values the kernel would refuse after clone (set_tid PIDs, environment
    /// names and values, descriptors to keep), so that a sandbox refuses them before it
    /// creates anything.
    pub(crate) fn check_values(&self) -> Result<()> {
        self.spec.check_set_tid(self.effective_flags())?;
        for (name, value) in &self.env {
            crate::env::check_name(name)?;
            value.as_deref().map_or(Ok(()), crate::env::check_value)?;
        }
        self.keep_fds
            .iter()
            .try_for_each(|&fd| crate::fd::check_open(fd))?;
        Ok(())
    }

    fn env_list(&self) -> Option<Vec<(OsString, OsString)>> {
        if !self.env_clear && self.env.is_empty() {
            return None;
        }
        let mut vars: Vec<(OsString, OsString)> = if self.env_clear {
            Vec::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            vars.retain(|(key, _)| key != k);
            if let Some(v) = v {
                vars.push((k.clone(), v.clone()));
            }
        }
        Some(vars)
    }

    /// Creates the child and starts the program. Standard fds left unset are inherited.
    pub fn spawn(&mut self) -> Result<Child> {
        self.spawn_with(INHERIT_ALL)
    }

    fn spawn_with(&mut self, defaults: [Io; 3]) -> Result<Child> {
        match self.spawn_once(defaults) {
            // A rule that spawn_once left to the kernel (see CloneSpec::validate_lazily).
            Err(e @ Error::Clone { .. }) if e.errno() == Some(libc::EINVAL) => {
                let (asked, flags) = (self.spec.flags, self.effective_flags());
                let explained = self
                    .spec
                    .explain_einval(asked, self.spec.exit_signal_for(asked))
                    .or_else(|| {
                        self.spec
                            .explain_einval(flags, self.spec.exit_signal_for(flags))
                    });
                Err(explained.unwrap_or(e))
            }
            // clone3 turned out to be blocked (a seccomp filter installed after the first
            // spawn): choose the flags again for legacy clone().
            Err(Error::Clone { source, .. })
                if source.raw_os_error() == Some(libc::ENOSYS) && raw::clone3_unavailable() =>
            {
                self.spawn_once(defaults)
            }
            other => other,
        }
    }

    fn spawn_once(&mut self, defaults: [Io; 3]) -> Result<Child> {
        let flags = self.effective_flags();
        if flags.contains(CloneFlags::THREAD) && !self.thread_exec {
            return Err(Error::ThreadExec);
        }
        if flags.contains(CloneFlags::VFORK) && self.caller_runs_alongside() {
            return Err(RequestProblem::VforkWhileCallerActs.into());
        }
        let exit_signal = self.spec.exit_signal_for(flags);
        self.check_values()?;
        // Judged as asked first: the fast path's VM|VFORK (which the kernel's rules for
        // SIGHAND and THREAD are satisfied by) must not make a refused request run.
        let asked = self.spec.flags;
        let asked_signal = self.spec.exit_signal_for(asked);
        self.spec.validate_lazily(asked, asked_signal)?;
        if (flags, exit_signal) != (asked, asked_signal) {
            self.spec.validate_lazily(flags, exit_signal)?;
        }
        let shared_fds = flags.contains(CloneFlags::FILES);
        let io = resolve(&self.stdio, defaults);
        if shared_fds && io.iter().any(|s| *s != Io::Inherit) {
            return Err(RequestProblem::StdioWithSharedFiles.into());
        }
        let vm = flags.contains(CloneFlags::VM);
        let vfork = flags.contains(CloneFlags::VFORK);

        let (stdio, holders, parent_ends) = open(&io)?;

        // Report channel: shared memory when the caller waits for exec, else a pipe.
        let (report_rx, report_tx) = if vm && vfork {
            (None, None)
        } else {
            let (r, w) = pipe_cloexec().map_err(|e| prepare("create the report pipe", e))?;
            (Some(r), Some(w))
        };

        let env = self.env_list();
        let path_var = match &env {
            Some(vars) => vars
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone()),
            None => std::env::var_os("PATH"),
        };
        let (sync_rx, sync_tx) = if self.after_clone.is_some() {
            let (r, w) = pipe_cloexec().map_err(|e| prepare("create the sync pipe", e))?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        let chdir;
        let steps: &[Step] = match &self.cwd {
            Some(dir) => {
                chdir = [
                    self.steps.as_slice(),
                    &[Step::new(
                        Op::Chdir { path: text(dir) },
                        format!("chdir({dir:?})"),
                    )],
                ]
                .concat();
                &chdir
            }
            None => &self.steps,
        };
        let sigmask = raw::block_all_signals();
        let built = PlanData::build(PlanInput {
            program: &self.program,
            argv: &self.argv,
            env: env.as_deref(),
            path_var,
            steps,
            slots: self.slots,
            stdio,
            keep_fds: &self.keep_fds,
            close_other_fds: true,
            fd_table_shared: shared_fds,
            reset_signals: !flags.intersects(CloneFlags::CLEAR_SIGHAND | CloneFlags::SIGHAND),
            sigmask: self.sigmask.unwrap_or(sigmask),
            default_signals: if flags.contains(CloneFlags::SIGHAND) {
                0
            } else {
                PROGRAM_DEFAULT_SIGNALS.load(Ordering::Relaxed)
            },
            report_fd: report_tx.as_ref().map_or(-1, |f| f.as_raw_fd()),
            sync_fds: (
                sync_rx.as_ref().map_or(-1, |f| f.as_raw_fd()),
                sync_tx.as_ref().map_or(-1, |f| f.as_raw_fd()),
            ),
            hook_fds: self.hook_fds,
        });
        let mut data = match built {
            Ok(d) => Box::new(d),
            Err(e) => {
                raw::set_signal_mask(sigmask);
                return Err(e);
            }
        };
        data.plan.exit_task_only = flags.contains(CloneFlags::THREAD);

        // A stack: reused when the child is done with it once clone returns.
        let reusable = vfork || !vm;
        let stack = match SPARE_STACK
            .with(|s| s.borrow_mut().take())
            .filter(|_| reusable)
        {
            Some(s) => s,
            None => match Stack::new(PRE_EXEC_STACK) {
                Ok(s) => s,
                Err(e) => {
                    raw::set_signal_mask(sigmask);
                    return Err(prepare("map the child's pre-exec stack", e));
                }
            },
        };

        let mut args = self.spec.args(flags, exit_signal);
        let mut pidfd: i32 = -1;
        let tid_word = Box::new(std::sync::atomic::AtomicU32::new(0));
        args.pidfd = &mut pidfd as *mut i32 as u64;
        args.parent_tid = tid_word.as_ptr() as u64;
        args.child_tid = tid_word.as_ptr() as u64;
        args.stack = stack.base();
        args.stack_size = stack.size();
        let plan_ptr = &data.plan as *const cleave_child::Plan as *mut c_void;
        #[allow(unsafe_code)]
        // SAFETY: the child runs cleave_child::run on `stack` with `data`, both kept alive
        // until it has exec'd or exited: with VFORK clone returns only then; without VM the
        // child has its own copies; with VM and no VFORK both move into the Child handle.
        let result = unsafe { raw::clone(&mut args, Some((program_entry, plan_ptr))) };
        raw::set_signal_mask(sigmask);
        drop(report_tx);
        drop(holders);
        let (pid, _) = match result {
            Ok(r) => r,
            Err(e) => {
                if reusable {
                    SPARE_STACK.with(|s| *s.borrow_mut() = Some(stack));
                }
                return Err(clone_error(flags, raw::preferred_interface(), e));
            }
        };
        // An fd handed over with Stdio::Fd is the child's now: keeping it here would keep
        // a pipe open for whoever reads its other end.
        for s in &mut self.stdio {
            if matches!(s, Some(Stdio::Fd(_))) {
                *s = None;
            }
        }
        let ptid = flags
            .contains(CloneFlags::PARENT_SETTID)
            .then(|| tid_word.load(std::sync::atomic::Ordering::SeqCst) as i32);
        let mut child = Child::new(
            pid,
            owned_pidfd(flags, pidfd),
            exit_signal,
            reaper_for(flags),
            ptid,
        );

        drop(sync_rx);
        if let (Some(tx), Some(AfterClone(f))) = (sync_tx, self.after_clone.as_mut()) {
            if let Err(e) = f(pid) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
            let _ = rustix::io::write(&tx, &[1u8]);
        }

        // Did the child reach exec?
        let mut waiting = None;
        let (report, notes) = if vm && vfork {
            let r = *data.report;
            (Some(r).filter(|r| r.stage != 0), r.notes)
        } else if let Some(rx) = report_rx {
            if shared_fds && !vfork {
                (None, 0) // the pipe's write end is the caller's too: no EOF to wait for
            } else {
                let got = read_report(&rx);
                // At its start barrier: the child still writes a record if exec fails
                // later, so the read end stays open (a closed one would kill it with
                // SIGPIPE instead of its exit code).
                if got.1 & Notes::WAITING_FOR_START != 0 {
                    waiting = Some(rx);
                }
                got
            }
        } else {
            (None, 0)
        };
        child.set_notes(notes);
        if reusable {
            SPARE_STACK.with(|s| *s.borrow_mut() = Some(stack));
            if vm {
                drop(data);
                if let Some(rx) = waiting {
                    child.keep_alive(Box::new(rx));
                }
            } else {
                child.keep_alive(Box::new((data, tid_word, waiting)));
            }
        } else {
            // The child runs on our stack and reads our plan until it execs or exits (an
            // init never execs): both live as long as the handle.
            child.keep_alive(Box::new((data, stack, tid_word, waiting)));
        }
        if let Some(report) = report {
            if child.reaper() == Reaper::Caller {
                let _ = child.wait();
            }
            return Err(report_error(report, &self.program, &self.steps));
        }
        let [stdin, stdout, stderr] = parent_ends;
        child.stdin = stdin.map(Into::into);
        child.stdout = stdout.map(Into::into);
        child.stderr = stderr.map(Into::into);
        Ok(child)
    }
}

/// A flag cleave adds to the ones asked for (see [`Command::additions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addition {
    /// The flags added.
    pub flags: CloneFlags,
    /// Why.
    pub reason: AdditionReason,
}

/// Why cleave adds a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdditionReason {
    /// CLONE_VM | CLONE_VFORK: the posix_spawn-style fast path (the caller is suspended
    /// until the program starts, so nothing is copied).
    FastPath,
    /// CLONE_CLEAR_SIGHAND: the child starts with default signal handlers.
    ClearHandlers,
    /// CLONE_PIDFD: waiting and signalling without the race of a recycled PID.
    Pidfd,
}

impl std::fmt::Display for AdditionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AdditionReason::FastPath => {
                "posix_spawn fast path: the caller waits, its memory is shared until exec"
            }
            AdditionReason::ClearHandlers => "the child starts with default signal handlers",
            AdditionReason::Pidfd => "waited for and signalled through a pidfd",
        })
    }
}
