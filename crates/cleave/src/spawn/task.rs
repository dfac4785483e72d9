//! [`Task`]: a thread-like body that shares the caller's address space (CLONE_VM).
use super::{clone_error, owned_pidfd, reaper_for, CloneSpec};
use crate::child::{Child, ExitStatus, Reaper};
use crate::error::{Error, Result};
use crate::flags::CloneFlags;
use crate::raw;
use crate::stack::Stack;
use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// A task sharing the caller's memory (CLONE_VM is always set) and whatever else the flags
/// say: SIGHAND, THREAD, SETTLS, FILES, FS, SYSVSEM, IO. It runs on a stack of its own; its
/// TID is captured race-free with CLONE_PARENT_SETTID, and [`TaskHandle::join`] waits on the
/// CLONE_CHILD_CLEARTID futex before the stack is released.
///
/// For ordinary threads use [`std::thread`]: this is for when the exact clone flags matter.
///
/// ```no_run
/// use cleave::{CloneFlags, Task};
/// let mut task = Task::new();
/// task.flags(CloneFlags::FILES | CloneFlags::SIGHAND);
/// // SAFETY: the body touches nothing but its return value.
/// let mut handle = unsafe { task.spawn(|| 7)? };
/// assert_eq!(handle.join()?.code(), Some(7));
/// # Ok::<(), cleave::Error>(())
/// ```
#[derive(Debug)]
pub struct Task {
    spec: CloneSpec,
    stack_size: usize,
    /// CLONE_SETTLS was asked for with [`Task::tls`].
    settls: bool,
}

impl Default for Task {
    fn default() -> Task {
        Task {
            spec: CloneSpec::default(),
            stack_size: Stack::DEFAULT_SIZE,
            settls: false,
        }
    }
}

struct Shared<F> {
    tid: AtomicU32,
    result: AtomicI32,
    body: F,
}

/// A running task. Dropping it without [`TaskHandle::join`] joins it (the stack cannot be
/// freed while the task may run on it).
pub struct TaskHandle<F> {
    shared: Box<Shared<F>>,
    stack: Option<Stack>,
    child: Child,
    status: Option<ExitStatus>,
}

impl<F> std::fmt::Debug for TaskHandle<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle")
            .field("child", &self.child)
            .field("status", &self.status)
            .finish()
    }
}

#[allow(unsafe_code)]
unsafe extern "C" fn task_entry<F: Fn() -> i32>(arg: *mut c_void) -> i32 {
    // SAFETY: `arg` is the Shared<F> the parent keeps alive until join.
    let shared = unsafe { &*(arg as *const Shared<F>) };
    let code = (shared.body)();
    shared.result.store(code, Ordering::SeqCst);
    code
}

impl Task {
    /// A task with no flag of its own yet: CLONE_VM, CLONE_PARENT_SETTID and
    /// CLONE_CHILD_CLEARTID are always added (see [`Task::effective_flags`]). Exit signal:
    /// SIGCHLD, or none with CLONE_THREAD / CLONE_PARENT.
    pub fn new() -> Task {
        Task::default()
    }

    /// Sets the clone flags (replacing earlier ones; CLONE_SETTLS stays while a thread
    /// pointer is given with [`Task::tls`]).
    pub fn flags(&mut self, flags: CloneFlags) -> &mut Task {
        self.spec.flags = flags;
        if self.settls {
            self.spec.flags |= CloneFlags::SETTLS;
        }
        self
    }

    /// Size of the task's stack (default 256 KiB; a guard page is added below it).
    pub fn stack_size(&mut self, bytes: usize) -> &mut Task {
        self.stack_size = bytes;
        self
    }

    /// The thread pointer for CLONE_SETTLS (sets the flag).
    pub fn tls(&mut self, tls: u64) -> &mut Task {
        self.spec.tls = tls;
        self.settls = true;
        self.spec.flags |= CloneFlags::SETTLS;
        self
    }

    /// The exit signal; `None` for no signal.
    pub fn exit_signal(&mut self, signal: Option<i32>) -> &mut Task {
        self.spec.exit_signal = Some(signal.unwrap_or(0));
        self
    }

    /// Skips cleave's rules and hands the flags to the kernel untouched (CLONE_VM,
    /// CLONE_PARENT_SETTID and CLONE_CHILD_CLEARTID are still added: the task needs them).
    pub fn unchecked(&mut self, yes: bool) -> &mut Task {
        self.spec.unchecked = yes;
        self
    }

    /// The flags the task is created with: yours, plus CLONE_VM, CLONE_PARENT_SETTID and
    /// CLONE_CHILD_CLEARTID, and (unless unchecked) CLONE_PIDFD where the kernel allows it
    /// (not before Linux 5.4, with CLONE_THREAD not before 6.9, and not through legacy
    /// clone(), where CLONE_PARENT_SETTID's pointer would carry it).
    pub fn effective_flags(&self) -> CloneFlags {
        let flags = self.spec.flags
            | CloneFlags::VM
            | CloneFlags::PARENT_SETTID
            | CloneFlags::CHILD_CLEARTID;
        self.spec.with_default_pidfd(flags)
    }

    /// Starts `body` in a new task.
    ///
    /// # Safety
    /// `body` runs in the caller's address space with the caller's thread pointer (unless
    /// CLONE_SETTLS gives it another), while the caller keeps running. It may only touch
    /// atomics, raw system calls and memory the caller handed over for its exclusive use: no
    /// allocation (malloc's per-thread caches live in TLS), no locks (`println!`, `Mutex`),
    /// no thread-locals, no panics, no std::process::exit. With CLONE_SETTLS the thread
    /// pointer must point to memory laid out as the body's code expects.
    #[allow(unsafe_code)]
    pub unsafe fn spawn<F: Fn() -> i32 + Sync>(&self, body: F) -> Result<TaskHandle<F>> {
        let flags = self.effective_flags();
        let exit_signal = self.spec.exit_signal_for(flags);
        self.spec.validate(flags, exit_signal)?;
        let stack = Stack::reuse_or_new(self.stack_size).map_err(|e| Error::Prepare {
            what: format!("map a {}-byte task stack", self.stack_size),
            source: e,
        })?;
        let shared = Box::new(Shared {
            tid: AtomicU32::new(0),
            result: AtomicI32::new(0),
            body,
        });
        let mut args = self.spec.args(flags, exit_signal);
        let mut pidfd: i32 = -1;
        args.pidfd = &mut pidfd as *mut i32 as u64;
        args.parent_tid = shared.tid.as_ptr() as u64;
        args.child_tid = shared.tid.as_ptr() as u64;
        args.stack = stack.base();
        args.stack_size = stack.size();
        let arg = &*shared as *const Shared<F> as *mut c_void;
        // SAFETY: the stack and `shared` outlive the task (join waits for CLEARTID before
        // either is dropped); the body's contract is the caller's.
        let (pid, _) = unsafe { raw::clone(&mut args, Some((task_entry::<F>, arg))) }
            .map_err(|e| clone_error(flags, raw::preferred_interface(), e))?;
        let ptid = shared.tid.load(Ordering::SeqCst) as i32;
        Ok(TaskHandle {
            child: Child::new(
                pid,
                owned_pidfd(flags, pidfd),
                exit_signal,
                reaper_for(flags),
                Some(ptid),
            ),
            shared,
            stack: Some(stack),
            status: None,
        })
    }
}

impl<F> TaskHandle<F> {
    /// The task's TID, as stored by CLONE_PARENT_SETTID before clone returned.
    pub fn tid(&self) -> i32 {
        self.child.id()
    }

    /// The task as a [`Child`] (pidfd, signals, exit signal).
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// Whether the task is still running (its CLEARTID word is not yet zero).
    pub fn is_running(&self) -> bool {
        self.status.is_none() && self.shared.tid.load(Ordering::SeqCst) != 0
    }

    /// Waits for the task to end, reaps it when the caller is its reaper, and releases its
    /// stack. A thread (CLONE_THREAD) reports the value its body returned.
    pub fn join(&mut self) -> Result<ExitStatus> {
        self.join_inner()
    }

    /// The current value of the TID word: the TID from CLONE_PARENT_SETTID while the task
    /// runs, 0 once CLONE_CHILD_CLEARTID has cleared it at the task's exit.
    pub fn tid_word(&self) -> u32 {
        self.shared.tid.load(Ordering::SeqCst)
    }

    fn join_inner(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let status = match self.child.reaper() {
            // A reaped task is past exit_mm(), where the kernel cleared its TID word: it no
            // longer touches its stack, so one wait is enough (no futex sleep and wake-up
            // before it). If the wait fails, the futex still tells when the stack is free.
            Reaper::Caller => match self.child.wait() {
                Ok(status) => status,
                Err(e) => {
                    self.await_cleartid();
                    return Err(e);
                }
            },
            _ => {
                self.await_cleartid();
                ExitStatus::Exited(self.shared.result.load(Ordering::SeqCst))
            }
        };
        if let Some(stack) = self.stack.take() {
            stack.recycle();
        }
        self.status = Some(status);
        Ok(status)
    }

    /// Blocks until CLONE_CHILD_CLEARTID has zeroed the TID word (the task left its stack).
    fn await_cleartid(&self) {
        loop {
            let v = self.shared.tid.load(Ordering::SeqCst);
            if v == 0 {
                break;
            }
            raw::futex_wait(&self.shared.tid, v);
        }
    }
}

impl<F> Drop for TaskHandle<F> {
    fn drop(&mut self) {
        let _ = self.join_inner();
    }
}
