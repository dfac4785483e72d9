//! The executor: runs a [`Plan`] and ends in `execve` or `exit_group`.
use crate::ops::{fork_init, run_op};
use crate::plan::{Op, Plan, Report, Stage};
use crate::sys::{self, borrow, check, errno, syscall3, syscall4};
use crate::{EXIT_EXEC_FAILED, EXIT_SETUP_FAILED};
use rustix::io::{DupFlags, FdFlags};

const NSIG: usize = 64;

/// Runs `plan` in a freshly cloned child. Never returns.
///
/// # Safety
/// `plan` and every pointer inside it must be valid for the child's lifetime (they point into
/// memory the parent built before clone and keeps alive), and the caller must be a fresh child
/// that owns nothing it still needs to release.
pub unsafe extern "C" fn run(plan: *const Plan) -> ! {
    // SAFETY: the caller guarantees `plan` is valid.
    let plan = unsafe { &*plan };
    run_from(plan, 0)
}

/// Runs the plan's ops from index `first` (0: the whole plan, after the sync), then exec.
pub(crate) fn run_from(plan: &Plan, first: usize) -> ! {
    match run_steps(plan, first) {
        Ok(never) => match never {},
        Err((stage, index, errno)) => fail(plan, stage, index, errno),
    }
}

enum Never {}

fn fail(plan: &Plan, stage: Stage, index: u32, errno: i32) -> ! {
    let report = Report {
        stage: stage as u32,
        index,
        errno,
        notes: 0,
    };
    if !plan.report_slot.is_null() {
        // SAFETY: the parent handed a writable slot that lives until the child is gone.
        unsafe { core::ptr::write_volatile(plan.report_slot, report) };
    }
    if plan.report_fd >= 0 {
        let _ = sys::write(plan.report_fd, &report.to_bytes());
    }
    let code = if stage == Stage::Exec {
        EXIT_EXEC_FAILED
    } else {
        EXIT_SETUP_FAILED
    };
    if plan.exit_task_only {
        sys::exit_task(code)
    }
    sys::exit_group(code)
}

type StepError = (Stage, u32, i32);

/// Tells the parent about something done instead of what was asked, without failing: the
/// bits go into the shared report slot and, as a record with stage 0, down the report fd.
pub(crate) fn note(plan: &Plan, bits: u32) {
    if !plan.report_slot.is_null() {
        // SAFETY: the parent handed a writable slot that lives until the child is gone.
        unsafe {
            let mut r = core::ptr::read_volatile(plan.report_slot);
            r.notes |= bits;
            core::ptr::write_volatile(plan.report_slot, r);
        }
    }
    if plan.report_fd >= 0 {
        let record = Report {
            notes: bits,
            ..Report::default()
        };
        let _ = sys::write(plan.report_fd, &record.to_bytes());
    }
}

fn run_steps(plan: &Plan, first: usize) -> Result<Never, StepError> {
    if plan.sync_fd >= 0 && first == 0 {
        if plan.sync_peer_fd >= 0 && !plan.fd_table_shared {
            sys::close(plan.sync_peer_fd);
            for fd in plan.hook_fds {
                if fd >= 0 {
                    sys::close(fd);
                }
            }
        }
        let mut byte = [0u8; 1];
        match sys::read(plan.sync_fd, &mut byte) {
            Ok(1) => {}
            Ok(_) => return Err((Stage::Sync, 0, libc::EPIPE)),
            Err(e) => return Err((Stage::Sync, 0, e)),
        }
    }
    let mut finished = false;
    for i in first..plan.n_ops {
        // SAFETY: `ops` holds `n_ops` elements (Plan's contract).
        let op = unsafe { &*plan.ops.add(i) };
        // The caller's filters may refuse what cleave itself still calls (close_range, the
        // signal calls): they come after cleave's own last steps, just before exec.
        if matches!(op, Op::SeccompFilter { .. }) && !finished {
            finish(plan)?;
            finished = true;
        }
        let result = if let Op::ForkInit { program_stack } = *op {
            fork_init(plan, i, program_stack)
        } else {
            run_op(plan, op)
        };
        result.map_err(|e| (Stage::Op, i as u32, e))?;
    }
    if !finished {
        finish(plan)?;
    }
    Err((Stage::Exec, 0, exec_candidates(plan)))
}

/// The program's stdio, the closing of every other fd, and its signal dispositions and mask.
fn finish(plan: &Plan) -> Result<(), StepError> {
    if !plan.fd_table_shared {
        for (target, &src) in plan.stdio.iter().enumerate() {
            install_stdio(src, target as i32).map_err(|e| (Stage::Stdio, target as u32, e))?;
        }
        if plan.close_other_fds {
            close_other_fds(plan).map_err(|e| (Stage::Fds, 0, e))?;
        }
    }
    if plan.reset_signals {
        reset_signal_handlers();
    }
    set_default(plan.default_signals).map_err(|e| (Stage::Signals, 0, e))?;
    set_sigmask(plan.sigmask).map_err(|e| (Stage::Signals, 0, e))
}

fn install_stdio(src: i32, target: i32) -> Result<(), i32> {
    if src < 0 {
        return Ok(());
    }
    if src == target {
        // Already in place: only make sure it survives exec.
        return rustix::io::fcntl_setfd(borrow(src)?, FdFlags::empty()).map_err(errno);
    }
    if target < 0 {
        return Err(libc::EBADF);
    }
    // rustix's dup3 takes the target as an `OwnedFd`; one made from the number is never
    // dropped (std's drop would close through the C library), only turned back into it.
    // SAFETY: `target` is a non-negative number this child owns, for dup3 to replace.
    let mut owned = unsafe { <rustix::fd::OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(target) };
    let r = rustix::io::dup3(borrow(src)?, &mut owned, DupFlags::empty());
    let _ = rustix::fd::IntoRawFd::into_raw_fd(owned);
    r.map_err(errno)
}

fn close_other_fds(plan: &Plan) -> Result<(), i32> {
    // CLOEXEC keeps the report fd usable until exec.
    sys::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC)?;
    for i in 0..plan.n_keep_fds {
        // SAFETY: `keep_fds` holds `n_keep_fds` elements.
        let fd = unsafe { *plan.keep_fds.add(i) };
        rustix::io::fcntl_setfd(borrow(fd)?, FdFlags::empty()).map_err(errno)?;
    }
    Ok(())
}

/// Resets every signal that has a handler to SIG_DFL, leaving ignored ones ignored (what
/// CLONE_CLEAR_SIGHAND does in the kernel). Safe to call in a fresh child.
pub fn reset_signal_handlers() {
    for sig in 1..=NSIG {
        if sig == libc::SIGKILL as usize || sig == libc::SIGSTOP as usize {
            continue;
        }
        // The kernel's struct sigaction is at most four words on x86_64 and aarch64:
        // handler, flags, restorer, mask. Word 0 is the handler on both.
        let mut old = [0usize; 4];
        // rustix lacks rt_sigaction outside its unstable runtime module.
        // SAFETY: `old` is writable and large enough; sigsetsize is 8.
        let got = unsafe {
            syscall4(
                libc::SYS_rt_sigaction as usize,
                sig,
                0,
                old.as_mut_ptr() as usize,
                8,
            )
        };
        if got != 0 || old[0] == libc::SIG_DFL || old[0] == libc::SIG_IGN {
            continue;
        }
        let new = [0usize; 4];
        // SAFETY: `new` is a valid SIG_DFL action.
        let _ = unsafe {
            syscall4(
                libc::SYS_rt_sigaction as usize,
                sig,
                new.as_ptr() as usize,
                0,
                8,
            )
        };
    }
}

/// Sets each signal of `signals` (bit N-1 for signal N) to SIG_DFL.
fn set_default(signals: u64) -> Result<(), i32> {
    let mut rest = signals;
    while rest != 0 {
        let sig = rest.trailing_zeros() as usize + 1;
        rest &= rest - 1;
        let new = [0usize; 4];
        // rustix lacks rt_sigaction outside its unstable runtime module.
        // SAFETY: `new` is a valid SIG_DFL action (see reset_signal_handlers); sigsetsize 8.
        check(unsafe {
            syscall4(
                libc::SYS_rt_sigaction as usize,
                sig,
                new.as_ptr() as usize,
                0,
                8,
            )
        })?;
    }
    Ok(())
}

fn set_sigmask(mask: u64) -> Result<(), i32> {
    // rustix lacks rt_sigprocmask outside its unstable runtime module.
    // SAFETY: the mask is a local 8-byte value.
    check(unsafe {
        syscall4(
            libc::SYS_rt_sigprocmask as usize,
            libc::SIG_SETMASK as usize,
            &mask as *const u64 as usize,
            0,
            8,
        )
    })?;
    Ok(())
}

/// Tries each candidate path in turn with the execvp rules: ENOENT/ENOTDIR/ESTALE/ENODEV/
/// ETIMEDOUT move on, EACCES is remembered and moves on, anything else stops.
fn exec_candidates(plan: &Plan) -> i32 {
    let mut saw_eacces = false;
    let mut last = libc::ENOENT;
    let mut i = 0;
    loop {
        // SAFETY: `candidates` is a null-terminated array (Plan's contract).
        let path = unsafe { *plan.candidates.add(i) };
        if path.is_null() {
            break;
        }
        // rustix lacks execve outside its unstable runtime module.
        // SAFETY: path, argv and envp are NUL-terminated strings / null-terminated arrays.
        let ret = unsafe {
            syscall3(
                libc::SYS_execve as usize,
                path as usize,
                plan.argv as usize,
                plan.envp as usize,
            )
        };
        let errno = match check(ret) {
            Ok(_) => libc::EINVAL, // execve never returns success
            Err(e) => e,
        };
        match errno {
            libc::EACCES => saw_eacces = true,
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            other => return other,
        }
        last = errno;
        i += 1;
    }
    if saw_eacces {
        libc::EACCES
    } else {
        last
    }
}
