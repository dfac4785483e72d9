//! Seed 003 (sys_clone: beyond processes and threads): a new process that shares the fd table
//! and the filesystem attributes with its creator (CLONE_FS | CLONE_FILES) but has a private
//! copy of memory, and the same parent as its creator (CLONE_PARENT).
//!
//! To show who the parent is, `main` first forks a "creator"; the creator makes the task with
//! CLONE_PARENT, so the task's parent is `main`, which reaps it.
use cleave::{CloneFlags, Fork};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

static MEMORY: AtomicI32 = AtomicI32::new(1);

fn main() -> Result<(), cleave::Error> {
    println!("[main] pid {}", std::process::id());
    let mut creator = Fork::new().spawn(|| {
        let me = std::process::id();
        // SAFETY: getppid has no side effects.
        let my_parent = unsafe { libc::getppid() };
        std::env::set_current_dir("/").unwrap_or(());
        println!("[creator] pid {me}, parent {my_parent}, cwd /, memory = 1");
        let mut task = Fork::new();
        task.flags(CloneFlags::FS | CloneFlags::FILES | CloneFlags::PARENT | CloneFlags::PIDFD);
        let file = std::fs::File::open("/dev/null").unwrap();
        let fd = file.as_raw_fd();
        let child = task.spawn(move || {
            // SAFETY: getppid and close have no memory effects.
            let ppid = unsafe { libc::getppid() };
            println!(
                "[task] pid {}, parent {ppid} (the creator's parent), closing fd {fd}, chdir /tmp, memory = 2",
                std::process::id()
            );
            // SAFETY: closing a number.
            unsafe { libc::close(fd) };
            let _ = std::env::set_current_dir("/tmp");
            MEMORY.store(2, Ordering::SeqCst);
            0
        });
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        };
        let _ = child.wait_exit(); // the creator cannot reap it: CLONE_PARENT
        // SAFETY: fcntl on a number.
        let fd_open = unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
        std::mem::forget(file); // already closed by the task, through the shared table
        println!(
            "[creator] after the task: fd {fd} open = {fd_open} (CLONE_FILES), cwd = {} (CLONE_FS), memory = {} (private copy)",
            std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            MEMORY.load(Ordering::SeqCst)
        );
        0
    })?;
    creator.wait()?;
    // The task's exit is reported to main, its parent by CLONE_PARENT.
    let mut status = 0;
    // SAFETY: `status` is writable.
    let reaped = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
    println!("[main] reaped the task (pid {reaped}) as its parent");
    Ok(())
}
