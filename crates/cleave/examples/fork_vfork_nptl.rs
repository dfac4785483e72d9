//! Seed 002 (TLPI 28.2.1): the flag sets behind fork(), vfork(), LinuxThreads and NPTL, each
//! run and shown to behave as described.
//!
//! * fork         = SIGCHLD: a copy of everything, nothing shared;
//! * vfork        = CLONE_VM | CLONE_VFORK | SIGCHLD: memory shared, the parent suspended
//!   until the child exits;
//! * LinuxThreads = CLONE_VM | CLONE_FILES | CLONE_FS | CLONE_SIGHAND: memory, fds, cwd and
//!   handlers shared, but a PID of its own;
//! * NPTL         = the above | CLONE_THREAD | CLONE_SETTLS | CLONE_PARENT_SETTID |
//!   CLONE_CHILD_CLEARTID | CLONE_SYSVSEM: same PID (thread group), own TLS, joined by futex.
use cleave::{CloneFlags, Fork, Task};
use cleave_child::sys;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

static MEMORY: AtomicI32 = AtomicI32::new(0);
static CHILD_PID: AtomicI32 = AtomicI32::new(0);
static CHILD_TID: AtomicI32 = AtomicI32::new(0);
static CHILD_TP: AtomicU64 = AtomicU64::new(0);
static VFORK_CHILD_DONE: AtomicI32 = AtomicI32::new(0);

/// A block to serve as the NPTL task's TLS: on x86_64 the thread pointer points at a word
/// holding its own address.
#[repr(C, align(64))]
struct Tls([u64; 8]);
static mut TLS: Tls = Tls([0; 8]);

fn thread_pointer() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut fs: u64 = 0;
        // SAFETY: ARCH_GET_FS stores the FS base into `fs`.
        unsafe {
            sys::syscall2(
                libc::SYS_arch_prctl as usize,
                0x1003, /* ARCH_GET_FS */
                &mut fs as *mut u64 as usize,
            )
        };
        fs
    }
    #[cfg(target_arch = "aarch64")]
    {
        let tp: u64;
        // SAFETY: reading the thread pointer register.
        unsafe { std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp) };
        tp
    }
}

fn show(name: &str, flags: CloneFlags, signal: &str) {
    let text = if flags.is_empty() {
        "no flag".to_string()
    } else {
        flags.to_string()
    };
    println!("\n{name}: {text}, exit signal {signal}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let main_pid = sys::getpid();
    let cwd0 = std::env::current_dir()?;

    show("fork", CloneFlags::PRESET_FORK, "SIGCHLD");
    MEMORY.store(1, Ordering::SeqCst);
    let mut c = Fork::new().flags(CloneFlags::PRESET_FORK).spawn(|| {
        MEMORY.store(2, Ordering::SeqCst);
        let _ = std::env::set_current_dir("/");
        0
    })?;
    c.wait()?;
    println!(
        "  child wrote memory=2 and chdir /: parent sees memory={}, cwd unchanged={}",
        MEMORY.load(Ordering::SeqCst),
        std::env::current_dir()? == cwd0
    );

    show("vfork", CloneFlags::PRESET_VFORK, "SIGCHLD");
    MEMORY.store(1, Ordering::SeqCst);
    // SAFETY: the body only writes atomics and sleeps with a raw nanosleep.
    let mut t = unsafe {
        Task::new()
            .flags(CloneFlags::VFORK)
            .exit_signal(Some(libc::SIGCHLD))
            .spawn(|| {
                let ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 50_000_000,
                };
                // SAFETY: a valid timespec.
                sys::syscall2(libc::SYS_nanosleep as usize, &ts as *const _ as usize, 0);
                MEMORY.store(2, Ordering::SeqCst);
                VFORK_CHILD_DONE.store(1, Ordering::SeqCst);
                0
            })?
    };
    println!(
        "  clone returned after the child finished: {} (it slept 50 ms first); parent sees memory={}",
        VFORK_CHILD_DONE.load(Ordering::SeqCst) == 1,
        MEMORY.load(Ordering::SeqCst)
    );
    t.join()?;

    show("LinuxThreads", CloneFlags::PRESET_LINUXTHREADS, "SIGCHLD");
    MEMORY.store(1, Ordering::SeqCst);
    let file = std::fs::File::open("/dev/null")?;
    let fd = file.as_raw_fd();
    let mut t = unsafe {
        // SAFETY: the body uses atomics and raw system calls only.
        Task::new()
            .flags(CloneFlags::PRESET_LINUXTHREADS)
            .exit_signal(Some(libc::SIGCHLD))
            .spawn(move || {
                MEMORY.store(2, Ordering::SeqCst);
                CHILD_PID.store(sys::getpid(), Ordering::SeqCst);
                sys::close(fd);
                // SAFETY: a NUL-terminated path.
                sys::syscall1(libc::SYS_chdir as usize, c"/".as_ptr() as usize);
                0
            })?
    };
    t.join()?;
    // SAFETY: fcntl on a number.
    let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
    std::mem::forget(file);
    println!(
        "  child wrote memory=2, closed fd {fd}, chdir /: parent sees memory={}, fd open={open}, cwd={}",
        MEMORY.load(Ordering::SeqCst),
        std::env::current_dir()?.display()
    );
    println!(
        "  getpid(): parent {main_pid}, child {} (a process of its own)",
        CHILD_PID.load(Ordering::SeqCst)
    );
    std::env::set_current_dir(&cwd0)?;

    show("NPTL", CloneFlags::PRESET_NPTL, "none");
    // SAFETY: TLS is only touched here and, as raw memory, by the kernel.
    let tls = unsafe {
        let p = &raw mut TLS;
        (*p).0[0] = p as u64;
        p as u64
    };
    let mut t = unsafe {
        // SAFETY: with its own TLS the body touches no thread-local: atomics and raw calls.
        Task::new()
            .flags(CloneFlags::PRESET_NPTL)
            .tls(tls)
            .spawn(|| {
                CHILD_PID.store(sys::getpid(), Ordering::SeqCst);
                CHILD_TID.store(sys::gettid(), Ordering::SeqCst);
                CHILD_TP.store(thread_pointer(), Ordering::SeqCst);
                0
            })?
    };
    let tid = t.tid();
    t.join()?;
    println!(
        "  getpid(): parent {main_pid}, thread {} (same thread group)",
        CHILD_PID.load(Ordering::SeqCst)
    );
    println!(
        "  gettid(): parent {}, thread {} = TID stored by CLONE_PARENT_SETTID {tid}",
        sys::gettid(),
        CHILD_TID.load(Ordering::SeqCst)
    );
    println!(
        "  thread pointer: parent {:#x}, thread {:#x} = the TLS block given {:#x}",
        thread_pointer(),
        CHILD_TP.load(Ordering::SeqCst),
        tls
    );
    println!(
        "  joined through CLONE_CHILD_CLEARTID: TID word now {}",
        t.tid_word()
    );
    Ok(())
}
