//! [`Fork`]: a Rust closure in a new process that does not share the address space.
use super::{clone_error, owned_pidfd, reaper_for, CloneSpec};
use crate::child::Child;
use crate::error::{Error, RequestProblem, Result};
use crate::flags::CloneFlags;
use crate::raw;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

/// Runs a closure in a child that gets a copy-on-write copy of the caller's memory, sharing
/// whatever else the flags say (fd table, fs attributes, namespaces, ...). This is fork(2)
/// with every clone flag available except the ones that need a separate stack.
///
/// ```no_run
/// use cleave::{CloneFlags, Fork};
/// let mut child = Fork::new()
///     .flags(CloneFlags::FILES | CloneFlags::FS)
///     .spawn(|| {
///         std::env::set_current_dir("/tmp").unwrap(); // seen by the parent: CLONE_FS
///         0
///     })?;
/// assert!(child.wait()?.success());
/// # Ok::<(), cleave::Error>(())
/// ```
///
/// Unless made [unchecked](Fork::unchecked), the child is created with CLONE_PIDFD where the
/// kernel allows it, so [`Child::pidfd`] can wait and signal without a PID race.
///
/// # Values the closure captures under CLONE_FILES
/// With CLONE_FILES the child and the caller have one fd table. A value that owns an fd
/// (`OwnedFd`, `File`, a socket) moved into the closure is then dropped twice in that one
/// table: by the caller, which drops its copy of the closure as soon as `spawn` returns,
/// and by the child when `body` ends. The caller's drop closes the fd under the running
/// child, and the second close hits whatever fd was given that number since (the caller's,
/// as it is the same table). Under CLONE_FILES capture the raw fd number (`as_raw_fd()`)
/// and keep the owning value in the caller.
#[derive(Debug, Default)]
pub struct Fork {
    spec: CloneSpec,
    tid_word: Option<Arc<AtomicU32>>,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn single_threaded() -> bool {
    extern "C" {
        static __libc_single_threaded: std::ffi::c_char;
    }
    #[allow(unsafe_code)]
    // SAFETY: glibc (2.32+) keeps this byte; it only ever changes from 1 to 0.
    let flag = unsafe { std::ptr::read_volatile(&raw const __libc_single_threaded) };
    flag != 0 || raw::thread_count() == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn single_threaded() -> bool {
    raw::thread_count() == 1
}

impl Fork {
    /// A fork-like child: no flag, exit signal SIGCHLD.
    pub fn new() -> Fork {
        Fork::default()
    }

    /// Sets the clone flags (replacing earlier ones). CLONE_VM is refused: use [`crate::Task`].
    pub fn flags(&mut self, flags: CloneFlags) -> &mut Fork {
        self.spec.set_flags(flags);
        self
    }

    /// The signal the parent receives when the child ends; `None` for no signal.
    /// Default: SIGCHLD (none with CLONE_THREAD or CLONE_PARENT).
    pub fn exit_signal(&mut self, signal: Option<i32>) -> &mut Fork {
        self.spec.exit_signal = Some(signal.unwrap_or(0));
        self
    }

    /// PIDs for the child, innermost PID namespace first (clone3 `set_tid`).
    pub fn set_tid(&mut self, pids: &[i32]) -> &mut Fork {
        self.spec.set_tid = pids.to_vec();
        self
    }

    /// Starts the child in this cgroup2 directory (CLONE_INTO_CGROUP).
    pub fn into_cgroup(&mut self, dir: impl AsFd) -> std::io::Result<&mut Fork> {
        self.spec.set_into_cgroup(dir)?;
        Ok(self)
    }

    /// The word used by CLONE_PARENT_SETTID, CLONE_CHILD_SETTID and CLONE_CHILD_CLEARTID:
    /// the closure can capture a clone of it to read its own copy.
    pub fn tid_word(&mut self, word: Arc<AtomicU32>) -> &mut Fork {
        self.tid_word = Some(word);
        self
    }

    /// Skips cleave's rules and hands the flags to the kernel untouched (no CLONE_PIDFD
    /// is added either).
    pub fn unchecked(&mut self, yes: bool) -> &mut Fork {
        self.spec.unchecked = yes;
        self
    }

    /// The flags the child is created with: yours, plus CLONE_PIDFD unless unchecked or
    /// impossible with them (before Linux 5.4; CLONE_THREAD before 6.9; CLONE_PARENT_SETTID
    /// through legacy clone()), so that [`Child::pidfd`] is there to wait and signal with.
    pub fn effective_flags(&self) -> CloneFlags {
        self.spec.with_default_pidfd(self.spec.flags)
    }

    /// Creates the child and runs `body` in it; the child exits with the returned code (101
    /// if `body` panics).
    ///
    /// Refused with [`Error::MultiThreaded`] when the caller has other threads: after clone
    /// the child could find a lock held forever (malloc, stdout). Use
    /// [`Fork::spawn_multithreaded`] if `body` is written for that.
    pub fn spawn<F: FnOnce() -> i32>(&mut self, body: F) -> Result<Child> {
        if !single_threaded() {
            return Err(Error::MultiThreaded);
        }
        #[allow(unsafe_code)]
        // SAFETY: the caller is single-threaded, so no lock is held by a thread that will not
        // exist in the child.
        unsafe {
            self.spawn_inner(body, true)
        }
    }

    /// As [`Fork::spawn`], from a multi-threaded process.
    ///
    /// # Safety
    /// The child gets a copy of this process's memory as it was at clone, in which only the
    /// calling thread exists: any lock another thread held at that instant — the allocator's,
    /// stdout's, the environment's, a `Mutex`, the dynamic loader's — is held forever in the
    /// child. So `body`, like code between fork(2) and exec in a threaded program, may only
    /// make raw system calls (`cleave_child::sys`), use atomics and memory it owns (values
    /// moved into it, buffers allocated before the spawn), and return. It must not allocate
    /// or free (`Box`, `Vec`, `String`, `format!`), print through std (`println!`), lock
    /// anything, read or change the environment through std, first-touch a lazily
    /// initialised static or thread-local, or call libc functions that are not
    /// async-signal-safe. It must not panic: unlike [`Fork::spawn`], no `catch_unwind`
    /// surrounds it here (that would allocate), so a panic would unwind into the caller's
    /// frames in the child. Its return value is the child's exit code (exit_group; no
    /// destructor or atexit handler runs). Values it captures are also dropped in the caller:
    /// see the note on CLONE_FILES in [`Fork`].
    #[allow(unsafe_code)]
    pub unsafe fn spawn_multithreaded<F: FnOnce() -> i32>(&mut self, body: F) -> Result<Child> {
        // SAFETY: forwarded to the caller.
        unsafe { self.spawn_inner(body, false) }
    }

    #[allow(unsafe_code)]
    unsafe fn spawn_inner<F: FnOnce() -> i32>(&mut self, body: F, std_ok: bool) -> Result<Child> {
        let flags = self.effective_flags();
        // Even unchecked: a fork-style child continues on the caller's own stack.
        if flags.contains(CloneFlags::VM) {
            return Err(RequestProblem::ForkSharesVm.into());
        }
        let exit_signal = self.spec.exit_signal_for(flags);
        self.spec.validate(flags, exit_signal)?;
        // The kernel touches the TID word only for these flags: allocate it only for them.
        let tid_flags =
            CloneFlags::PARENT_SETTID | CloneFlags::CHILD_SETTID | CloneFlags::CHILD_CLEARTID;
        let word = self.tid_word.clone().or_else(|| {
            flags
                .intersects(tid_flags)
                .then(|| Arc::new(AtomicU32::new(0)))
        });
        let mut args = self.spec.args(flags, exit_signal);
        let mut pidfd: i32 = -1;
        args.pidfd = &mut pidfd as *mut i32 as u64;
        if let Some(w) = &word {
            args.parent_tid = w.as_ptr() as u64;
            args.child_tid = w.as_ptr() as u64;
        }
        if std_ok {
            // Whatever the caller has buffered is written now, once: otherwise the child's
            // copy of the buffer would be written a second time when it flushes on exit.
            // (This also sets stdout up here, so the child does not allocate it.)
            let _ = std::io::stdout().flush();
        }
        // No signal is blocked around this clone: as with fork(2), a handler that runs in the
        // child before `body` is the caller's own, in the child's own copy of memory (CLONE_VM
        // and CLONE_SIGHAND are impossible here).
        // SAFETY: no CLONE_VM (refused above), so the child runs on its own copy of this
        // stack; the pointers in args point to live locals.
        let result = unsafe { raw::clone(&mut args, None) };
        match result {
            Ok((0, _)) => {
                let code = if std_ok {
                    let code =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
                    // Stdout is buffered; stderr is not, so there is nothing to flush there
                    // (and taking its lock would cost a copy-on-write fault in the child).
                    let _ = std::io::stdout().flush();
                    code
                } else {
                    body()
                };
                cleave_child::sys::exit_group(code)
            }
            Ok((pid, _)) => {
                let ptid = match (&word, flags.contains(CloneFlags::PARENT_SETTID)) {
                    (Some(w), true) => Some(w.load(std::sync::atomic::Ordering::SeqCst) as i32),
                    _ => None,
                };
                let mut child = Child::new(
                    pid,
                    owned_pidfd(flags, pidfd),
                    exit_signal,
                    reaper_for(flags),
                    ptid,
                );
                if let Some(w) = word {
                    child.keep_alive(Box::new(w));
                }
                Ok(child)
            }
            Err(e) => Err(clone_error(flags, raw::preferred_interface(), e)),
        }
    }
}
