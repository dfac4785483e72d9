//! The only kernel-facing `unsafe` of the library: clone3(2), legacy clone(2) with per-arch
//! trampolines, and the few system calls neither std nor rustix offers safely (each says
//! what rustix lacks). The rest are thin rustix calls kept here for their callers. Functions
//! return the raw errno.
#![allow(unsafe_code)]

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
use aarch64 as arch;
#[cfg(target_arch = "x86_64")]
use x86_64 as arch;

use crate::flags::rules::Interface;
use crate::flags::CloneFlags;
use cleave_child::sys::check;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU8, Ordering};

/// A raw errno value.
pub type Errno = i32;

/// The body a child runs on its own stack; its return value becomes the task's exit code.
pub type Entry = unsafe extern "C" fn(*mut c_void) -> i32;

/// `struct clone_args` of clone3(2), version 2 (88 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloneArgs {
    /// Flags (CloneFlags bits).
    pub flags: u64,
    /// Where to store the pidfd (CLONE_PIDFD).
    pub pidfd: u64,
    /// Where to store the TID in the child's memory (CHILD_SETTID / CHILD_CLEARTID).
    pub child_tid: u64,
    /// Where to store the TID in the parent's memory (PARENT_SETTID).
    pub parent_tid: u64,
    /// Signal sent to the parent when the child exits (0: none).
    pub exit_signal: u64,
    /// Lowest address of the child's stack.
    pub stack: u64,
    /// Size of the child's stack.
    pub stack_size: u64,
    /// Thread pointer for CLONE_SETTLS.
    pub tls: u64,
    /// Array of PIDs, innermost namespace first.
    pub set_tid: u64,
    /// Number of entries in `set_tid`.
    pub set_tid_size: u64,
    /// Cgroup2 directory fd for CLONE_INTO_CGROUP.
    pub cgroup: u64,
}

/// Size of [`CloneArgs`] as passed to the kernel.
pub const CLONE_ARGS_SIZE: usize = std::mem::size_of::<CloneArgs>();

const UNKNOWN: u8 = 0;
const AVAILABLE: u8 = 1;
const BLOCKED: u8 = 2;
static CLONE3_STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether clone3 answers ENOSYS here (seccomp policy or old kernel). Probed once per
/// process with `clone3(NULL, 0)`, which creates nothing: EINVAL when clone3 exists.
pub fn clone3_unavailable() -> bool {
    match CLONE3_STATE.load(Ordering::Relaxed) {
        AVAILABLE => false,
        BLOCKED => true,
        _ => {
            // SAFETY: a zero size is rejected before the (null) pointer is read.
            let ret = unsafe { cleave_child::sys::syscall2(libc::SYS_clone3 as usize, 0, 0) };
            let blocked = ret == -(libc::ENOSYS as isize);
            CLONE3_STATE.store(if blocked { BLOCKED } else { AVAILABLE }, Ordering::Relaxed);
            blocked
        }
    }
}

/// Which interface the next clone will use.
pub fn preferred_interface() -> Interface {
    if clone3_unavailable() {
        Interface::Legacy
    } else {
        Interface::Clone3
    }
}

/// Creates a child as clone3(2) does, falling back to legacy clone(2) only when clone3
/// answers ENOSYS (remembered for the process). With `entry`, the child starts on
/// `args.stack` running `entry(arg)` and exits with its return value; without it, the child
/// returns 0 from this call on a copy of the caller's stack, like fork(2).
///
/// Returns the child's PID (0 in a fork-style child) and the interface used.
///
/// # Safety
/// The kernel checks none of the following; the caller guarantees all of it.
///
/// * **Pointers in `args`.** `pidfd` and `parent_tid` (with CLONE_PIDFD / CLONE_PARENT_SETTID)
///   point to writable memory of this process for the duration of the call; `set_tid` points
///   to `set_tid_size` readable `i32`s; `child_tid` (CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID)
///   is written in the child's address space when it starts and when it exits, so with
///   CLONE_VM it must stay valid until the child has exited or exec'd. With
///   CLONE_INTO_CGROUP, `cgroup` is an open directory fd.
/// * **The stack, with `entry`.** `args.stack` and `args.stack_size` describe a live,
///   writable region that nothing else touches while the child runs on it. With CLONE_VM that
///   is until the child has exited or exec'd: it must not be unmapped or reused before (with
///   CLONE_VFORK this call returns only then). `arg` must stay valid as long as `entry` uses
///   it. The value `entry` returns ends the task (exit(2), not exit_group) with that code.
/// * **What the child runs.** After clone the child is a task no runtime set up: it has
///   the caller's thread pointer (unless CLONE_SETTLS gives it another), so thread-locals,
///   errno and libc's per-thread state are the caller's. With CLONE_VM it shares the
///   caller's memory while the caller runs on; without it, it has a copy in which any lock
///   another thread held at clone stays held forever. Either way the child's code must not
///   allocate or free, take a lock (`println!`, `Mutex`, stdio, the environment), touch
///   thread-locals, panic or unwind, or call libc functions that keep state; it may make raw
///   system calls (`cleave_child::sys`), use atomics and memory handed to it for its own
///   use, and must end in execve(2) or exit. (A single-threaded caller without CLONE_VM has
///   no lock held by another thread, as after fork(2).)
/// * **Without `entry`** (fork-style): CLONE_VM must not be set — the child would run on,
///   and corrupt, the caller's own stack — and `args.stack` should be 0. The child returns
///   `Ok((0, _))` from this call on its copy of the caller's stack, and must end in execve(2)
///   or exit_group without returning into code that assumes it is the parent (such as
///   destructors of values the parent will also drop).
/// * **Signals.** With CLONE_SIGHAND (or before the child resets them) the caller's handlers
///   may run in the child, on the child's stack; block signals around the call (see
///   [`block_all_signals`]) when they must not.
/// * **Shared tables.** With CLONE_FILES an fd the child closes is closed for the caller
///   too (and the reverse), so no value that owns an fd may be dropped by both sides.
pub unsafe fn clone(
    args: &mut CloneArgs,
    entry: Option<(Entry, *mut c_void)>,
) -> Result<(i32, Interface), Errno> {
    if !clone3_unavailable() {
        // SAFETY: forwarded caller contract.
        match unsafe { clone3(args, entry) } {
            Err(libc::ENOSYS) => CLONE3_STATE.store(BLOCKED, Ordering::Relaxed),
            other => return other.map(|pid| (pid, Interface::Clone3)),
        }
    }
    if args.flags & CloneFlags::CLONE3_ONLY.bits() != 0 || args.set_tid_size != 0 {
        // clone() cannot carry this request: report clone3's absence, so that callers that
        // chose flags before they knew can choose again.
        return Err(libc::ENOSYS);
    }
    // SAFETY: forwarded caller contract.
    unsafe { clone_legacy(args, entry) }.map(|pid| (pid, Interface::Legacy))
}

/// `clone3(args, sizeof *args)` — see [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html).
///
/// # Safety
/// As [`clone`].
pub unsafe fn clone3(
    args: &mut CloneArgs,
    entry: Option<(Entry, *mut c_void)>,
) -> Result<i32, Errno> {
    let ptr = args as *mut CloneArgs as usize;
    let ret = match entry {
        // SAFETY: caller contract; the trampoline never returns in the child.
        Some((f, arg)) => unsafe { arch::clone3_entry(ptr, CLONE_ARGS_SIZE, f, arg) },
        // SAFETY: caller contract; without CLONE_VM the child has its own copy of this stack.
        None => unsafe { arch::clone3_fork(ptr, CLONE_ARGS_SIZE) },
    };
    check(ret).map(|pid| pid as i32)
}

/// Legacy `clone(flags|signal, stack, parent_tid, child_tid, tls)` — see
/// [clone(2)](https://man7.org/linux/man-pages/man2/clone.2.html). The fields of `args`
/// clone() cannot carry (flags above 32 bits, set_tid, cgroup) must be zero; `pidfd` is
/// passed through `parent_tid` as the kernel requires.
///
/// # Safety
/// As [`clone`].
pub unsafe fn clone_legacy(
    args: &mut CloneArgs,
    entry: Option<(Entry, *mut c_void)>,
) -> Result<i32, Errno> {
    if args.flags >> 32 != 0 || args.flags & 0xff != 0 || args.set_tid_size != 0 {
        return Err(libc::EINVAL);
    }
    let word = args.flags | (args.exit_signal & 0xff);
    let flags = CloneFlags::from_bits_retain(args.flags);
    let ptid = if flags.contains(CloneFlags::PIDFD) {
        args.pidfd
    } else {
        args.parent_tid
    };
    let sp = if args.stack == 0 {
        0
    } else {
        args.stack + args.stack_size
    };
    let ret = match entry {
        // SAFETY: caller contract; the trampoline never returns in the child.
        Some((f, arg)) => unsafe {
            arch::clone_legacy_entry(word, sp, ptid, args.child_tid, args.tls, f, arg)
        },
        // SAFETY: caller contract.
        None => unsafe { arch::clone_legacy_fork(word, sp, ptid, args.child_tid, args.tls) },
    };
    check(ret).map(|pid| pid as i32)
}

fn ret_errno(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    } else {
        Ok(ret)
    }
}

/// The caller's effective capability set, from `capget(2)`.
pub fn effective_caps() -> u64 {
    rustix::thread::capabilities(None).map_or(0, |sets| sets.effective.bits())
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)` — see
/// [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html).
pub fn pidfd_send_signal(pidfd: i32, sig: i32) -> Result<(), Errno> {
    // rustix lacks signal 0 (the probe) and unnamed (real-time) signals without unsafe.
    // SAFETY: plain integers and a null siginfo.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    ret_errno(ret).map(|_| ())
}

/// `pidfd_open(pid, 0)` — see [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html).
pub fn pidfd_open(pid: i32) -> Result<std::os::fd::OwnedFd, Errno> {
    let pid = rustix::process::Pid::from_raw(pid.max(0)).ok_or(libc::EINVAL)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| e.raw_os_error())
}

/// The result of a successful wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waited {
    /// The PID that changed state.
    pub pid: i32,
    /// `CLD_EXITED`, `CLD_KILLED`, `CLD_DUMPED`, ...
    pub code: i32,
    /// Exit code or signal number.
    pub status: i32,
}

/// `waitid(idtype, id, &info, options)` — see [wait(2)](https://man7.org/linux/man-pages/man2/wait.2.html).
/// Returns `None` when WNOHANG found nothing to report. Retries on EINTR.
pub fn waitid(idtype: libc::idtype_t, id: u32, options: i32) -> Result<Option<Waited>, Errno> {
    // rustix lacks si_pid in its waitid status (and __WALL among its options).
    loop {
        // SAFETY: zeroed siginfo_t is a valid out-parameter.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is writable.
        let ret = unsafe { libc::waitid(idtype, id, &mut info, options) };
        match ret_errno(ret.into()) {
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        // SAFETY: after a successful waitid the pid/status fields are initialised.
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        return Ok(Some(Waited {
            pid,
            code: info.si_code,
            status,
        }));
    }
}

/// `waitpid(pid, &status, options)` returning the raw status; retries on EINTR.
pub fn waitpid(pid: i32, options: i32) -> Result<(i32, i32), Errno> {
    use rustix::process::{Pid, WaitOptions};
    let options = WaitOptions::from_bits_retain(options as u32);
    loop {
        let got = match pid {
            -1 => rustix::process::wait(options),
            0 => rustix::process::waitpid(None, options),
            p => match Pid::from_raw(p.saturating_abs()) {
                Some(p) if pid > 0 => rustix::process::waitpid(Some(p), options),
                Some(group) => rustix::process::waitpgid(group, options),
                None => return Err(libc::EINVAL),
            },
        };
        match got {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.raw_os_error()),
            Ok(None) => return Ok((0, 0)),
            Ok(Some((p, status))) => return Ok((p.as_raw_nonzero().get(), status.as_raw())),
        }
    }
}

/// Waits until the 32-bit word at `addr` is no longer `expected` (FUTEX_WAIT, shared).
pub fn futex_wait(addr: &std::sync::atomic::AtomicU32, expected: u32) {
    let _ =
        rustix::thread::futex::wait(addr, rustix::thread::futex::Flags::empty(), expected, None);
}

/// kcmp(2) type: the address space.
pub const KCMP_VM: i32 = 1;
/// kcmp(2) type: the fd table.
pub const KCMP_FILES: i32 = 2;
/// kcmp(2) type: root, cwd and umask.
pub const KCMP_FS: i32 = 3;
/// kcmp(2) type: the signal handler table.
pub const KCMP_SIGHAND: i32 = 4;
/// kcmp(2) type: the I/O context.
pub const KCMP_IO: i32 = 5;
/// kcmp(2) type: the SysV semaphore undo list.
pub const KCMP_SYSVSEM: i32 = 6;

/// `kcmp(pid1, pid2, type, 0, 0)`: 0 when both processes share the resource.
/// See [kcmp(2)](https://man7.org/linux/man-pages/man2/kcmp.2.html).
pub fn kcmp(pid1: i32, pid2: i32, kind: i32) -> Result<i32, Errno> {
    // rustix lacks kcmp.
    // SAFETY: plain integers.
    let ret = unsafe { libc::syscall(libc::SYS_kcmp, pid1, pid2, kind, 0, 0) };
    ret_errno(ret).map(|r| r as i32)
}

/// Blocks every signal in the calling thread and returns the previous mask.
pub fn block_all_signals() -> u64 {
    // rustix lacks a safe sigprocmask (its runtime one is unsafe and for libc-less programs).
    let mut old: u64 = 0;
    let all: u64 = !0;
    // SAFETY: 8-byte masks as the kernel expects.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &all as *const u64,
            &mut old as *mut u64,
            8,
        )
    };
    old
}

/// Restores a mask from [`block_all_signals`].
pub fn set_signal_mask(mask: u64) {
    // rustix lacks a safe sigprocmask, as above.
    // SAFETY: an 8-byte mask.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &mask as *const u64,
            std::ptr::null_mut::<u64>(),
            8,
        )
    };
}

/// Number of threads in this process, from /proc/self/stat's field 20 (1 when unknown).
pub fn thread_count() -> usize {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 1;
    };
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    after
        .split_whitespace()
        .nth(17)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// `setns(fd, nstype)` — see [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html).
/// `fd` is a /proc/PID/ns/* file (nstype 0 or its CLONE_NEW* flag) or a pidfd (nstype: the
/// CLONE_NEW* flags of every namespace to join at once, Linux 5.8+).
pub fn setns(fd: std::os::fd::BorrowedFd<'_>, nstype: i32) -> Result<(), Errno> {
    let types = rustix::thread::ThreadNameSpaceType::from_bits_retain(nstype as u32);
    rustix::thread::move_into_thread_name_spaces(fd, types).map_err(|e| e.raw_os_error())
}

/// `fchdir(fd)` — see [chdir(2)](https://man7.org/linux/man-pages/man2/chdir.2.html).
pub fn fchdir(fd: std::os::fd::BorrowedFd<'_>) -> Result<(), Errno> {
    rustix::process::fchdir(fd).map_err(|e| e.raw_os_error())
}

/// The seccomp filters of process `pid`, the most recently installed first, each as its BPF
/// instructions (`struct sock_filter`): `ptrace(PTRACE_SECCOMP_GET_FILTER, pid, i, buf)`
/// while the process is held in a ptrace stop (PTRACE_SEIZE, PTRACE_INTERRUPT), then
/// detached with any signal that stopped it delivered. Needs CAP_SYS_ADMIN, ptrace access to
/// `pid` and no seccomp filter on the caller (EACCES otherwise). See
/// [ptrace(2)](https://man7.org/linux/man-pages/man2/ptrace.2.html).
pub fn seccomp_filters(pid: i32) -> Result<Vec<Vec<libc::sock_filter>>, Errno> {
    // rustix lacks ptrace.
    const PTRACE_SECCOMP_GET_FILTER: libc::c_uint = 0x420c;
    let ptrace = |req: libc::c_uint, addr: usize, data: usize| {
        // SAFETY: every request below takes numbers, or (GET_FILTER) a buffer the caller
        // sized from the kernel's own count.
        ret_errno(unsafe { libc::ptrace(req, pid, addr, data) })
    };
    ptrace(libc::PTRACE_SEIZE, 0, 0)?;
    // Once seized, always detach: a tracer that leaves keeps nothing stopped, but detach
    // explicitly to hand back a signal that arrived while we held it.
    let mut signal = 0usize;
    let got = (|| {
        ptrace(libc::PTRACE_INTERRUPT, 0, 0)?;
        loop {
            let (_, status) = waitpid(pid, libc::__WALL)?;
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                return Err(libc::ESRCH);
            }
            if libc::WIFSTOPPED(status) {
                // A signal-delivery stop (no event) holds a signal meant for the process.
                if status >> 16 == 0 {
                    signal = libc::WSTOPSIG(status) as usize;
                }
                break;
            }
        }
        let mut filters = Vec::new();
        for index in 0.. {
            let len = match ptrace(PTRACE_SECCOMP_GET_FILTER, index, 0) {
                Ok(n) => n as usize,
                Err(libc::ENOENT) => break,
                Err(e) => return Err(e),
            };
            let mut buf = vec![
                libc::sock_filter {
                    code: 0,
                    jt: 0,
                    jf: 0,
                    k: 0
                };
                len
            ];
            let n = ptrace(PTRACE_SECCOMP_GET_FILTER, index, buf.as_mut_ptr() as usize)?;
            buf.truncate(n as usize);
            filters.push(buf);
        }
        Ok(filters)
    })();
    let _ = ptrace(libc::PTRACE_DETACH, 0, signal);
    got
}

/// `setgroups(n, list)` for the calling thread (the caller is single-threaded) — see
/// [setgroups(2)](https://man7.org/linux/man-pages/man2/setgroups.2.html).
pub fn setgroups(groups: &[u32]) -> Result<(), Errno> {
    let groups: Vec<rustix::process::Gid> = groups
        .iter()
        .map(|&g| rustix::process::Gid::from_raw(g))
        .collect();
    rustix::thread::set_thread_groups(&groups).map_err(|e| e.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// The rustix-backed wrappers keep the raw-errno contract of the libc ones they replaced.
    #[test]
    fn wrappers_keep_their_errno_contract() {
        assert_eq!(pidfd_open(0).unwrap_err(), libc::EINVAL);
        assert_eq!(pidfd_open(-5).unwrap_err(), libc::EINVAL);
        let me = pidfd_open(std::process::id() as i32).expect("a pidfd for this process");
        // waitpid's pid forms: a child pid, any child (-1), the caller's group (0), a group
        // (-pgid). A pid that is no child of this process gives ECHILD in every form.
        assert_eq!(waitpid(1, libc::WNOHANG).unwrap_err(), libc::ECHILD);
        assert_eq!(waitpid(-999_999, libc::WNOHANG).unwrap_err(), libc::ECHILD);
        // A child reaped through each form, with its raw status.
        let run = |code: &str| {
            std::process::Command::new("sh")
                .args(["-c", &format!("exit {code}")])
                .spawn()
                .unwrap()
                .id() as i32
        };
        let pid = run("3");
        assert_eq!(waitpid(pid, libc::__WALL), Ok((pid, 3 << 8)));
        // setns on a pidfd with no namespace bits asks for nothing the kernel accepts.
        assert_eq!(setns(me.as_fd(), 0).unwrap_err(), libc::EINVAL);
        // capget agrees with what the kernel shows in /proc/self/status.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let cap_eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        assert_eq!(effective_caps(), cap_eff);
    }
}
