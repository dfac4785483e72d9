//! Each clone flag, observed from the inside: what the child saw or changed, and kcmp(2)
//! equality for the shared resources (as LTP kcmp03.c and clone02.c check them).
mod common;

use cleave::raw::{self, CloneArgs};
use cleave::{CloneFlags as F, Command, Error, ExitStatus, Fork, Reaper, Stdio, Task};
use cleave_child::sys;
use common::*;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use cleave::raw::{KCMP_FILES, KCMP_FS, KCMP_IO, KCMP_SIGHAND, KCMP_SYSVSEM, KCMP_VM};

static GATE: AtomicBool = AtomicBool::new(false);
static VALUE: AtomicI32 = AtomicI32::new(0);
static VALUE64: AtomicU64 = AtomicU64::new(0);

/// kcmp proves a child made `with` these flags shares `kind`, and one made `without` does not.
fn kcmp_pair(with: F, without: F, kind: i32) -> Result<(), String> {
    ensure_eq!(kcmp_with_child(with, kind)?, 0);
    ensure!(
        kcmp_with_child(without, kind)? != 0,
        "kcmp kind {kind}: shared without {}",
        with.difference(without)
    );
    Ok(())
}

/// A fork-like child made with `flags` that waits until a byte arrives on the returned fd
/// (its own copy of the write end keeps EOF from ever coming).
fn gated_fork(flags: F) -> Result<(cleave::Child, OwnedFd), String> {
    let (r, w) = pipe();
    let rfd = r.as_raw_fd();
    let child = Fork::new()
        .flags(flags)
        .spawn(move || {
            let mut b = [0u8; 1];
            let _ = sys::read(rfd, &mut b);
            0
        })
        .map_err(|e| e.to_string())?;
    Ok((child, w))
}

/// kcmp(self, child, kind) while a child created with `flags` is alive: 0 means shared.
fn kcmp_with_child(flags: F, kind: i32) -> Result<i32, String> {
    let me = sys::getpid();
    if flags.contains(F::VM) {
        GATE.store(false, Ordering::SeqCst);
        // SAFETY: the body spins on an atomic only.
        let mut t = unsafe {
            Task::new().flags(flags.difference(F::VM)).spawn(|| {
                while !GATE.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                0
            })
        }
        .map_err(|e| e.to_string())?;
        let r = raw::kcmp(me, t.tid(), kind);
        GATE.store(true, Ordering::SeqCst);
        t.join().map_err(|e| e.to_string())?;
        r.map_err(|e| format!("kcmp errno {e}"))
    } else {
        let (mut c, gate) = gated_fork(flags)?;
        let res = raw::kcmp(me, c.id(), kind);
        write_all(&gate, b"x");
        c.wait().map_err(|e| e.to_string())?;
        res.map_err(|e| format!("kcmp errno {e}"))
    }
}

fn vm() -> TestResult {
    VALUE.store(5, Ordering::SeqCst);
    // SAFETY: atomics only.
    let mut t = unsafe {
        Task::new()
            .flags(F::VM)
            .spawn(|| VALUE.fetch_add(100, Ordering::SeqCst))
    }
    .map_err(|e| e.to_string())?;
    t.join().map_err(|e| e.to_string())?;
    ensure_eq!(VALUE.load(Ordering::SeqCst), 105);
    let mut c = Fork::new()
        .spawn(|| {
            VALUE.store(1, Ordering::SeqCst);
            0
        })
        .map_err(|e| e.to_string())?;
    c.wait().map_err(|e| e.to_string())?;
    ensure_eq!(VALUE.load(Ordering::SeqCst), 105);
    kcmp_pair(F::VM, F::empty(), KCMP_VM)?;
    pass()
}

fn files() -> TestResult {
    for (flags, shared) in [(F::FILES, true), (F::empty(), false)] {
        let f: OwnedFd = std::fs::File::open("/dev/null")
            .map_err(|e| e.to_string())?
            .into();
        let fd = f.as_raw_fd();
        let mut c = Fork::new()
            .flags(flags)
            .spawn(move || {
                sys::close(fd);
                0
            })
            .map_err(|e| e.to_string())?;
        c.wait().map_err(|e| e.to_string())?;
        ensure_eq!(raw_fd_open(fd), !shared);
        if shared {
            std::mem::forget(f);
        }
    }
    kcmp_pair(F::FILES, F::empty(), KCMP_FILES)?;
    pass()
}

fn fs() -> TestResult {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    for (flags, shared) in [(F::FS, true), (F::empty(), false)] {
        // SAFETY: umask has no memory effects.
        let old = unsafe { libc::umask(0o022) };
        let mut c = Fork::new()
            .flags(flags)
            .spawn(|| {
                // SAFETY: as above.
                unsafe { libc::umask(0o077) };
                let _ = std::env::set_current_dir("/");
                0
            })
            .map_err(|e| e.to_string())?;
        c.wait().map_err(|e| e.to_string())?;
        // SAFETY: as above.
        let now = unsafe { libc::umask(old) };
        let now_cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        std::env::set_current_dir(&cwd).map_err(|e| e.to_string())?;
        ensure_eq!(now == 0o077, shared);
        ensure_eq!(now_cwd == std::path::Path::new("/"), shared);
    }
    kcmp_pair(F::FS, F::empty(), KCMP_FS)?;
    pass()
}

fn disposition(sig: i32) -> usize {
    // SAFETY: zeroed sigaction is a valid out-parameter.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: querying only.
    unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    old.sa_sigaction
}

fn sighand() -> TestResult {
    for (flags, shared) in [(F::VM | F::SIGHAND, true), (F::VM, false)] {
        // SAFETY: setting a disposition.
        unsafe { libc::signal(libc::SIGURG, libc::SIG_DFL) };
        // SAFETY: the body makes one raw rt_sigaction call setting SIG_IGN.
        let mut t = unsafe {
            Task::new().flags(flags).spawn(|| {
                let act = [libc::SIG_IGN, 0usize, 0, 0];
                // SAFETY: a valid kernel sigaction.
                sys::syscall4(
                    libc::SYS_rt_sigaction as usize,
                    libc::SIGURG as usize,
                    act.as_ptr() as usize,
                    0,
                    8,
                );
                0
            })
        }
        .map_err(|e| e.to_string())?;
        t.join().map_err(|e| e.to_string())?;
        ensure_eq!(disposition(libc::SIGURG) == libc::SIG_IGN, shared);
    }
    kcmp_pair(F::VM | F::SIGHAND, F::VM, KCMP_SIGHAND)?;
    // SAFETY: restoring the default.
    unsafe { libc::signal(libc::SIGURG, libc::SIG_DFL) };
    pass()
}

fn sysvsem() -> TestResult {
    // SAFETY: a private semaphore set; SEM_UNDO gives this process an undo list.
    let id = unsafe { libc::semget(libc::IPC_PRIVATE, 1, 0o600) };
    ensure!(id >= 0, "semget: {}", std::io::Error::last_os_error());
    let mut op = libc::sembuf {
        sem_num: 0,
        sem_op: 1,
        sem_flg: libc::SEM_UNDO as i16,
    };
    // SAFETY: one valid sembuf.
    let r = unsafe { libc::semop(id, &mut op, 1) };
    let checked = kcmp_pair(F::SYSVSEM, F::empty(), KCMP_SYSVSEM);
    // SAFETY: removing the set we created.
    unsafe { libc::semctl(id, 0, libc::IPC_RMID) };
    ensure_eq!(r, 0);
    checked?;
    pass()
}

fn io() -> TestResult {
    // An I/O priority makes the kernel give this process an io_context (and a child without
    // CLONE_IO a context of its own).
    // IOPRIO_CLASS_BE, level 4.
    let prio = (2 << 13) | 4;
    // SAFETY: ioprio_set on ourselves.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, prio) };
    ensure_eq!(r, 0);
    kcmp_pair(F::IO, F::empty(), KCMP_IO)?;
    pass()
}

fn thread() -> TestResult {
    // SAFETY: atomics and raw calls only.
    let mut t = unsafe {
        Task::new().flags(F::SIGHAND | F::THREAD).spawn(|| {
            VALUE.store(sys::getpid(), Ordering::SeqCst);
            VALUE64.store(sys::gettid() as u64, Ordering::SeqCst);
            while !GATE.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            0
        })
    }
    .map_err(|e| e.to_string())?;
    GATE.store(false, Ordering::SeqCst);
    let tid = t.tid();
    let mut st = 0;
    // SAFETY: waitpid with a writable status.
    let w = unsafe { libc::waitpid(tid, &mut st, libc::__WALL | libc::WNOHANG) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    GATE.store(true, Ordering::SeqCst);
    t.join().map_err(|e| e.to_string())?;
    ensure_eq!(t.child().reaper(), Reaper::ThreadGroup);
    ensure_eq!(VALUE.load(Ordering::SeqCst), sys::getpid());
    ensure_eq!(VALUE64.load(Ordering::SeqCst) as i32, tid);
    ensure!(tid != sys::gettid(), "same tid");
    ensure!(
        w == -1 && errno == Some(libc::ECHILD),
        "waitpid on a thread: {w} {errno:?}"
    );
    pass()
}

fn parent() -> TestResult {
    // A creator makes a CLONE_PARENT child; the child's parent is this process.
    let (r, w) = pipe();
    let mut creator = Fork::new()
        .spawn(move || {
            let w2 = w.as_raw_fd();
            let child = Fork::new().flags(F::PARENT | F::PIDFD).spawn(move || {
                let msg = format!("{} {}", sys::getppid(), sys::getpid());
                let _ = sys::write(w2, msg.as_bytes());
                0
            });
            let Ok(mut child) = child else { return 2 };
            let not_waitable = matches!(child.wait(), Err(Error::NotWaitable { .. }));
            let exited = child.wait_exit().is_ok();
            if not_waitable && exited && child.reaper() == Reaper::CallersParent {
                0
            } else {
                3
            }
        })
        .map_err(|e| e.to_string())?;
    let status = creator.wait().map_err(|e| e.to_string())?;
    let mut out = String::new();
    std::fs::File::from(r)
        .read_to_string(&mut out)
        .map_err(|e| e.to_string())?;
    let mut it = out
        .split_whitespace()
        .map(|s| s.parse::<i32>().unwrap_or(-1));
    let (ppid, pid) = (it.next().unwrap_or(-1), it.next().unwrap_or(-1));
    let mut st = 0;
    // SAFETY: reaping the grandchild, which is ours by CLONE_PARENT.
    let reaped = unsafe { libc::waitpid(pid, &mut st, libc::__WALL) };
    ensure_eq!(status, ExitStatus::Exited(0));
    ensure_eq!(ppid, sys::getpid());
    ensure_eq!(reaped, pid);
    pass()
}

fn pidfd() -> TestResult {
    let (mut c, gate) = gated_fork(F::PIDFD)?;
    let fd = c.pidfd().ok_or("no pidfd")?.as_raw_fd();
    let poll = |timeout| {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        unsafe { libc::poll(&mut p, 1, timeout) }
    };
    // SAFETY: fcntl on a number.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    ensure_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    ensure_eq!(poll(50), 0);
    write_all(&gate, b"x");
    ensure_eq!(poll(5000), 1);
    ensure_eq!(c.wait().map_err(|e| e.to_string())?, ExitStatus::Exited(0));
    // Signals go through the pidfd.
    let (mut c, gate) = gated_fork(F::PIDFD)?;
    c.kill().map_err(|e| e.to_string())?;
    let st = c.wait().map_err(|e| e.to_string())?;
    drop(gate);
    ensure_eq!(st.signal(), Some(libc::SIGKILL));
    ensure_eq!(st.shell_code(), 137);
    pass()
}

fn vfork() -> TestResult {
    let (r, w) = pipe();
    let mut c = Fork::new()
        .flags(F::VFORK)
        .spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let _ = sys::write(w.as_raw_fd(), b"x");
            0
        })
        .map_err(|e| e.to_string())?;
    // The child wrote before exiting, and clone returned only after it exited.
    // SAFETY: setting O_NONBLOCK on our fd.
    unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut b = [0u8; 1];
    let n = sys::read(r.as_raw_fd(), &mut b);
    c.wait().map_err(|e| e.to_string())?;
    ensure_eq!(n, Ok(1));
    pass()
}

fn tid_words() -> TestResult {
    // PARENT_SETTID + CHILD_CLEARTID through Task.
    // The child waits for a byte before it exits: the word is read while the child lives
    // (CHILD_CLEARTID zeroes it at exit, which a busy machine let come first).
    let (r, w) = pipe();
    let go = r.as_raw_fd();
    // SAFETY: a raw read and gettid only.
    let mut t = unsafe {
        Task::new().flags(F::empty()).spawn(move || {
            let mut b = [0u8; 1];
            let _ = sys::read(go, &mut b);
            sys::gettid()
        })
    }
    .map_err(|e| e.to_string())?;
    let word = t.tid_word();
    let _ = sys::write(w.as_raw_fd(), b"x");
    let st = t.join().map_err(|e| e.to_string())?;
    drop(r);
    ensure_eq!(word as i32, t.tid());
    ensure_eq!(t.tid_word(), 0);
    ensure_eq!(st.code(), Some(t.tid() & 0xff));
    // CHILD_SETTID without VM: the child's copy holds its TID, the parent's stays 0.
    let word = Arc::new(AtomicU32::new(0));
    let seen = word.clone();
    let mut c = Fork::new()
        .flags(F::CHILD_SETTID)
        .tid_word(word.clone())
        .spawn(move || i32::from(seen.load(Ordering::SeqCst) as i32 == sys::gettid()))
        .map_err(|e| e.to_string())?;
    let st = c.wait().map_err(|e| e.to_string())?;
    ensure_eq!(st, ExitStatus::Exited(1));
    ensure_eq!(word.load(Ordering::SeqCst), 0);
    // PARENT_SETTID without VM: the parent's word holds the TID before spawn returns.
    let mut c = Fork::new()
        .flags(F::PARENT_SETTID)
        .spawn(|| 0)
        .map_err(|e| e.to_string())?;
    ensure_eq!(c.parent_tid(), Some(c.id()));
    c.wait().map_err(|e| e.to_string())?;
    pass()
}

#[cfg(target_arch = "x86_64")]
fn settls() -> TestResult {
    #[repr(C, align(64))]
    struct Block([u64; 8]);
    let mut block = Box::new(Block([0; 8]));
    let tls = &mut *block as *mut Block as u64;
    block.0[0] = tls;
    // SAFETY: the body touches no thread-local: one raw arch_prctl and an atomic store.
    let mut t = unsafe {
        Task::new()
            .flags(F::SIGHAND | F::THREAD)
            .tls(tls)
            .spawn(|| {
                let mut fs: u64 = 0;
                // SAFETY: ARCH_GET_FS into a local.
                sys::syscall2(
                    libc::SYS_arch_prctl as usize,
                    0x1003,
                    &mut fs as *mut u64 as usize,
                );
                VALUE64.store(fs, Ordering::SeqCst);
                0
            })
    }
    .map_err(|e| e.to_string())?;
    t.join().map_err(|e| e.to_string())?;
    ensure_eq!(VALUE64.load(Ordering::SeqCst), tls);
    pass()
}

#[cfg(not(target_arch = "x86_64"))]
fn settls() -> TestResult {
    skip("thread pointer check written for x86_64")
}

fn pending(sig: i32) -> bool {
    // SAFETY: sigset out-parameter.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::sigpending(&mut set) };
    // SAFETY: querying an initialised set.
    unsafe { libc::sigismember(&set, sig) == 1 }
}

fn consume(sig: i32) {
    // SAFETY: sigset handling and a zero timeout wait.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        while libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) == sig {}
    }
}

fn exit_signal() -> TestResult {
    // SAFETY: blocking two signals in this (single) thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    consume(libc::SIGCHLD);
    consume(libc::SIGUSR1);
    let mut c = Fork::new()
        .exit_signal(Some(libc::SIGUSR1))
        .spawn(|| 0)
        .map_err(|e| e.to_string())?;
    ensure_eq!(c.wait_option(), libc::__WALL);
    c.wait().map_err(|e| e.to_string())?;
    let usr1 = pending(libc::SIGUSR1);
    let chld = pending(libc::SIGCHLD);
    consume(libc::SIGUSR1);
    let mut c = Fork::new()
        .exit_signal(None)
        .spawn(|| 0)
        .map_err(|e| e.to_string())?;
    c.wait().map_err(|e| e.to_string())?;
    let none_sent = !pending(libc::SIGCHLD) && !pending(libc::SIGUSR1);
    consume(libc::SIGCHLD);
    ensure!(
        usr1 && !chld,
        "SIGUSR1 pending {usr1}, SIGCHLD pending {chld}"
    );
    ensure!(
        none_sent,
        "a child with no exit signal signalled its parent"
    );
    pass()
}

fn read_child_report(flags: F, body: fn() -> String) -> Result<String, String> {
    let (r, w) = pipe();
    let mut c = Fork::new()
        .flags(flags)
        .spawn(move || {
            let s = body();
            let _ = sys::write(w.as_raw_fd(), s.as_bytes());
            0
        })
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    std::fs::File::from(r)
        .read_to_string(&mut out)
        .map_err(|e| e.to_string())?;
    c.wait().map_err(|e| e.to_string())?;
    Ok(out)
}

fn ns_check(extra: F) -> Result<(), String> {
    for ns in cleave::Namespace::ALL {
        let flags = ns.flag() | extra;
        let name = ns.proc_name();
        let before = ns_inode("self", name);
        let report = read_child_report(flags, || {
            let mut s = String::new();
            for n in ["user", "mnt", "uts", "ipc", "net", "pid", "cgroup", "time"] {
                s += &format!("{n}={} ", ns_inode("self", n));
            }
            s
        })?;
        let inside: u64 = report
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .ok_or(format!("no {name} in {report:?}"))?;
        ensure!(inside != 0 && before != 0, "no inode for {name}");
        ensure!(inside != before, "{ns}: inode {inside} is the parent's");
    }
    Ok(())
}

fn namespaces_root() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    ns_check(F::empty())?;
    pass()
}

fn namespaces_unprivileged() -> TestResult {
    as_nobody(|| {
        ns_check(F::NEWUSER)?;
        match Fork::new().flags(F::NEWUTS).spawn(|| 0) {
            Err(Error::InvalidRequest { violations, .. }) => {
                ensure_eq!(violations[0].errno, libc::EPERM);
            }
            other => return Err(format!("NEWUTS alone as nobody: {other:?}")),
        }
        let mut cmd = Fork::new();
        cmd.flags(F::NEWUTS).unchecked(true);
        match cmd.spawn(|| 0) {
            Err(Error::Clone { source, .. }) => {
                ensure_eq!(source.raw_os_error(), Some(libc::EPERM))
            }
            other => return Err(format!("unchecked NEWUTS as nobody: {other:?}")),
        }
        Ok(())
    })?;
    pass()
}

fn newuser_identity() -> TestResult {
    as_nobody(|| {
        let out = read_child_report(F::NEWUSER, || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let capeff = status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .unwrap_or("")
                .trim()
                .to_string();
            // SAFETY: getuid has no side effects.
            format!("{} {capeff}", unsafe { libc::getuid() })
        })?;
        let mut it = out.split_whitespace();
        ensure_eq!(it.next(), Some("65534"));
        let caps = u64::from_str_radix(it.next().unwrap_or("0"), 16).unwrap_or(0);
        ensure!(caps & (1 << 21) != 0, "no CAP_SYS_ADMIN inside: {out}");
        Ok(())
    })?;
    pass()
}

fn newpid() -> TestResult {
    let flags = if is_root() {
        F::NEWPID
    } else {
        F::NEWPID | F::NEWUSER
    };
    let out = read_child_report(flags, || format!("{} {}", sys::getpid(), sys::getppid()))?;
    ensure_eq!(out, "1 0");
    pass()
}

extern "C" fn noop_handler(_: i32) {}

fn clear_sighand() -> TestResult {
    // SAFETY: installing a handler and an ignore in this single-threaded runner.
    unsafe {
        libc::signal(libc::SIGUSR1, noop_handler as *const () as usize);
        libc::signal(libc::SIGUSR2, libc::SIG_IGN);
    }
    let with = read_child_report(F::CLEAR_SIGHAND, || {
        format!(
            "{} {}",
            disposition(libc::SIGUSR1) == libc::SIG_DFL,
            disposition(libc::SIGUSR2) == libc::SIG_IGN
        )
    })?;
    let without = read_child_report(F::empty(), || {
        format!(
            "{}",
            disposition(libc::SIGUSR1) == noop_handler as *const () as usize
        )
    })?;
    // SAFETY: restoring defaults.
    unsafe {
        libc::signal(libc::SIGUSR1, libc::SIG_DFL);
        libc::signal(libc::SIGUSR2, libc::SIG_DFL);
    }
    ensure_eq!(with, "true true");
    ensure_eq!(without, "true");
    pass()
}

/// The cgroup2 mount: /sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup on pure v2.
fn cgroup2_root() -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(2) == Some(&"cgroup2"))
        .and_then(|f| f.get(1).map(std::path::PathBuf::from))
}

fn into_cgroup() -> TestResult {
    if !is_root() {
        return skip("needs root to create a cgroup");
    }
    let Some(root) = cgroup2_root() else {
        return skip("no cgroup2 hierarchy mounted");
    };
    let name = format!("cleave-test-{}", std::process::id());
    let dir = root.join(&name);
    std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let result = (|| {
        let fd = std::fs::File::open(&dir).map_err(|e| e.to_string())?;
        let (r, w) = pipe();
        let mut c = Fork::new()
            .into_cgroup(&fd)
            .map_err(|e| e.to_string())?
            .spawn(move || {
                let s = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
                let _ = sys::write(w.as_raw_fd(), s.as_bytes());
                0
            })
            .map_err(|e| e.to_string())?;
        let mut out = String::new();
        let _ = std::fs::File::from(r).read_to_string(&mut out);
        c.wait().map_err(|e| e.to_string())?;
        let line = out
            .lines()
            .find(|l| l.starts_with("0::"))
            .unwrap_or("")
            .to_string();
        ensure!(
            line.ends_with(&format!("/{name}")),
            "child's cgroup: {line:?}"
        );
        // A cgroup v1 directory is refused with EBADF.
        if let Ok(v1) = std::fs::File::open("/sys/fs/cgroup/pids") {
            let mut f = Fork::new();
            f.into_cgroup(&v1).map_err(|e| e.to_string())?;
            match f.spawn(|| 0) {
                Err(Error::Clone { source, .. }) => {
                    ensure_eq!(source.raw_os_error(), Some(libc::EBADF))
                }
                other => return Err(format!("INTO_CGROUP with a v1 dir: {other:?}")),
            }
        }
        Ok(())
    })();
    let rm = std::fs::remove_dir(&dir);
    result?;
    ensure!(rm.is_ok(), "cgroup left behind: {rm:?}");
    pass()
}

fn set_tid() -> TestResult {
    if !is_root() {
        return skip("set_tid needs CAP_SYS_ADMIN");
    }
    let max: i32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    let want = (max - 1000..max)
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .ok_or("no free pid")?;
    let mut c = Fork::new()
        .set_tid(&[want])
        .spawn(|| 0)
        .map_err(|e| e.to_string())?;
    let id = c.id();
    c.wait().map_err(|e| e.to_string())?;
    ensure_eq!(id, want);
    // Inside a new PID namespace, the innermost PID can be chosen as 1.
    let out = read_child_report(F::empty(), || {
        let mut f = Fork::new();
        f.flags(F::NEWPID).set_tid(&[1]);
        match f.spawn(|| i32::from(sys::getpid() == 1)) {
            Ok(mut c) => format!("{:?}", c.wait().map(|s| s.code())),
            Err(e) => e.to_string(),
        }
    })?;
    ensure_eq!(out, "Ok(Some(1))");
    pass()
}

fn ptrace_and_untraced() -> TestResult {
    // A traced process creates children with and without CLONE_PTRACE / CLONE_UNTRACED; the
    // tracer (this process) checks who ends up traced. Mirrors clone(2)'s description.
    let tracer = sys::getpid();
    let mut results = Vec::new();
    for (flags, trace_clone) in [
        (F::PTRACE, false),
        (F::empty(), false),
        (F::empty(), true),
        (F::UNTRACED, true),
    ] {
        let (r, w) = pipe();
        let wfd = w.as_raw_fd();
        let mut tracee = Fork::new()
            .spawn(move || {
                // SAFETY: ptrace(TRACEME) and raise in our own child.
                unsafe {
                    libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
                    libc::raise(libc::SIGSTOP);
                }
                let grandchild = Fork::new().flags(flags).spawn(move || {
                    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
                    let tp = status
                        .lines()
                        .find_map(|l| l.strip_prefix("TracerPid:"))
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    let _ = sys::write(wfd, tp.as_bytes());
                    0
                });
                match grandchild {
                    Ok(mut g) => {
                        let _ = g.wait();
                        0
                    }
                    Err(_) => 1,
                }
            })
            .map_err(|e| e.to_string())?;
        let pid = tracee.id();
        let mut st = 0;
        // SAFETY: ptrace requests on our stopped tracee.
        unsafe {
            libc::waitpid(pid, &mut st, libc::__WALL);
            if trace_clone {
                libc::ptrace(
                    libc::PTRACE_SETOPTIONS,
                    pid,
                    0,
                    libc::PTRACE_O_TRACECLONE | libc::PTRACE_O_TRACEFORK,
                );
            }
            libc::ptrace(libc::PTRACE_CONT, pid, 0, 0);
        }
        // Let every stopped task (tracee, auto-attached grandchild) run on until the pipe
        // closes; detach whatever stops.
        drop(w);
        let mut out = String::new();
        // SAFETY: nonblocking reads and ptrace on our tracees.
        unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let mut file = std::fs::File::from(r);
        for _ in 0..500 {
            let mut st = 0;
            // SAFETY: as above.
            let p = unsafe { libc::waitpid(-1, &mut st, libc::__WALL | libc::WNOHANG) };
            if p > 0 && libc::WIFSTOPPED(st) {
                let sig = libc::WSTOPSIG(st);
                let deliver = if sig == libc::SIGTRAP || sig == libc::SIGSTOP {
                    0
                } else {
                    sig
                };
                // SAFETY: continuing a stopped tracee.
                unsafe { libc::ptrace(libc::PTRACE_CONT, p, 0, deliver) };
            } else if p == pid {
                break;
            }
            let mut buf = [0u8; 64];
            if let Ok(n) = file.read(&mut buf) {
                out.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // SAFETY: back to blocking reads: every writer is gone once the tracee has exited.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, 0) };
        let _ = file.read_to_string(&mut out);
        let _ = tracee.try_wait();
        results.push(out.trim().to_string());
    }
    let me = tracer.to_string();
    ensure_eq!(
        results,
        vec![me.clone(), "0".to_string(), me, "0".to_string()]
    );
    pass()
}

fn legacy_detached_ignored() -> TestResult {
    let mut args = CloneArgs {
        flags: F::DETACHED.bits(),
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: no CLONE_VM; the child exits at once.
    let pid = unsafe { raw::clone_legacy(&mut args, None) };
    match pid {
        Ok(0) => sys::exit_group(0),
        Ok(pid) => {
            let (p, _) = raw::waitpid(pid, 0).map_err(|e| format!("waitpid {e}"))?;
            ensure_eq!(p, pid);
        }
        Err(e) => {
            return Err(format!(
                "legacy clone(CLONE_DETACHED) failed with errno {e}"
            ))
        }
    }
    pass()
}

fn newtime_clone3() -> TestResult {
    let flags = if is_root() {
        F::NEWTIME
    } else {
        F::NEWTIME | F::NEWUSER
    };
    let before = ns_inode("self", "time");
    let out = read_child_report(flags, || ns_inode("self", "time").to_string())?;
    ensure!(out != before.to_string(), "time ns unchanged: {out}");
    pass()
}

fn clone3_enosys_fallback() -> TestResult {
    // Block clone3 with ENOSYS through seccomp, as container runtimes do, then spawn.
    // Mirrors bubblewrap's tests/try-syscall.c expectation.
    in_child(|| {
        install_clone3_enosys_filter()?;
        let status = Command::new("true").status().map_err(|e| e.to_string())?;
        ensure!(status.success(), "true under seccomp: {status}");
        ensure!(raw::clone3_unavailable(), "clone3 was not found blocked");
        // SAFETY: atomics only.
        let mut t = unsafe {
            Task::new()
                .flags(F::SIGHAND | F::THREAD)
                .spawn(|| VALUE.fetch_add(1, Ordering::SeqCst))
        }
        .map_err(|e| e.to_string())?;
        t.join().map_err(|e| e.to_string())?;
        let mut c = Fork::new()
            .flags(F::PIDFD)
            .spawn(|| 4)
            .map_err(|e| e.to_string())?;
        ensure!(c.pidfd().is_some(), "no pidfd through legacy clone");
        ensure_eq!(c.wait().map_err(|e| e.to_string())?, ExitStatus::Exited(4));
        match Fork::new().flags(F::NEWTIME | F::NEWUSER).spawn(|| 0) {
            Err(Error::NeedsClone3 { .. }) => Ok(()),
            other => Err(format!("NEWTIME without clone3: {other:?}")),
        }
    })?;
    pass()
}

fn install_clone3_enosys_filter() -> Result<(), String> {
    // BPF: load nr; if nr == clone3 return ERRNO(ENOSYS); else ALLOW. (Arch check omitted:
    // the filter runs on the native arch only.)
    let filter = [
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 0,
        }, // ld [0] (nr)
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: libc::SYS_clone3 as u32,
        }, // jeq clone3
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x0005_0000 | libc::ENOSYS as u32,
        }, // ret ERRNO
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        }, // ret ALLOW
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: prctl with a valid filter program.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) != 0
        {
            return Err(format!("seccomp: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn program_spawn() -> TestResult {
    // stdout captured, env replaced, cwd set, inherited fds closed.
    let (r, w) = pipe();
    // SAFETY: dup without CLOEXEC: an fd the program must not inherit.
    let leaked = unsafe { libc::fcntl(0, libc::F_DUPFD, 100) };
    let status = Command::new("sh")
        .args([
            "-c",
            "echo \"$FOO $(pwd)\"; ls /proc/self/fd | tr '\\n' ' '",
        ])
        .env_clear()
        .env("FOO", "bar")
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdout(Stdio::Fd(w))
        .status()
        .map_err(|e| e.to_string())?;
    // SAFETY: closing our dup.
    unsafe { libc::close(leaked) };
    let mut out = String::new();
    std::fs::File::from(r)
        .read_to_string(&mut out)
        .map_err(|e| e.to_string())?;
    ensure!(status.success(), "{status}");
    let mut lines = out.lines();
    ensure_eq!(lines.next(), Some("bar /"));
    let fds: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    // ls's own directory fd is the only one above 2.
    ensure!(
        fds.len() == 4 && fds[..3] == ["0", "1", "2"],
        "fds in the program: {fds:?}"
    );
    ensure!(leaked >= 100, "dup: {}", std::io::Error::last_os_error());
    ensure!(
        !fds.contains(&leaked.to_string().as_str()),
        "inherited fd {leaked} reached the program"
    );
    pass()
}

fn exec_errors_leave_no_zombie() -> TestResult {
    for (prog, errno) in [
        ("cleave-no-such-program", libc::ENOENT),
        ("/etc/passwd", libc::EACCES),
    ] {
        match Command::new(prog).spawn() {
            Err(Error::Exec { source, .. }) => ensure_eq!(source.raw_os_error(), Some(errno)),
            other => return Err(format!("{prog}: {other:?}")),
        }
    }
    // The failed child was reaped: no child is left to wait for.
    let r = raw::waitpid(-1, libc::__WALL | libc::WNOHANG);
    ensure_eq!(r, Err(libc::ECHILD));
    pass()
}

fn program_in_namespaces_unprivileged() -> TestResult {
    as_nobody(|| {
        let (r, w) = pipe();
        let status = Command::new("sh")
            .args(["-c", "hostname; cat /proc/self/uid_map | wc -l; echo $$"])
            .flags(F::NEWUSER | F::NEWUTS | F::NEWPID)
            .hostname("box")
            .stdout(Stdio::Fd(w))
            .status()
            .map_err(|e| e.to_string())?;
        let mut out = String::new();
        let _ = std::fs::File::from(r).read_to_string(&mut out);
        ensure!(status.success(), "{status}");
        ensure_eq!(out, "box\n0\n1\n");
        Ok(())
    })?;
    pass()
}

fn main() {
    run(&[
        ("vm", vm),
        ("files", files),
        ("fs", fs),
        ("sighand", sighand),
        ("sysvsem", sysvsem),
        ("io", io),
        ("thread", thread),
        ("parent", parent),
        ("pidfd", pidfd),
        ("vfork", vfork),
        ("tid_words", tid_words),
        ("settls", settls),
        ("exit_signal", exit_signal),
        ("namespaces_root", namespaces_root),
        ("namespaces_unprivileged", namespaces_unprivileged),
        ("newuser_identity", newuser_identity),
        ("newpid", newpid),
        ("newtime_clone3", newtime_clone3),
        ("clear_sighand", clear_sighand),
        ("into_cgroup", into_cgroup),
        ("set_tid", set_tid),
        ("ptrace_and_untraced", ptrace_and_untraced),
        ("legacy_detached_ignored", legacy_detached_ignored),
        ("clone3_enosys_fallback", clone3_enosys_fallback),
        ("program_spawn", program_spawn),
        ("exec_errors_leave_no_zombie", exec_errors_leave_no_zombie),
        (
            "program_in_namespaces_unprivileged",
            program_in_namespaces_unprivileged,
        ),
    ]);
}
