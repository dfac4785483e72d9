//! Seed 002, TLPI 28.2.2: waitpid() extensions for cloned children.
//!
//! * A "clone child" is one whose exit signal is not SIGCHLD (or none). Plain waitpid()
//!   does not see it; `__WCLONE` waits for clone children only; `__WALL` for every child.
//! * `__WNOTHREAD` waits only for children of the calling thread, not of its siblings.
//! * Found on the running kernel: a clone child that execs is reported at exit as an
//!   ordinary SIGCHLD child (the kernel resets its exit signal), so `__WCLONE` no longer
//!   matches it. cleave's `Child::wait` uses `__WALL` for clone children for that reason.
use cleave::{Command, Fork};
use std::io;

fn waitpid(pid: i32, options: i32) -> String {
    let mut status = 0;
    // SAFETY: `status` is writable.
    let r = unsafe { libc::waitpid(pid, &mut status, options) };
    if r == pid {
        "reaped".to_string()
    } else if r == 0 {
        "still running".to_string()
    } else {
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ECHILD) => "ECHILD".to_string(),
            _ => e.to_string(),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SIGUSR1 as an exit signal would end this process by default: ignore it.
    // SAFETY: setting a disposition.
    unsafe { libc::signal(libc::SIGUSR1, libc::SIG_IGN) };
    let settle = || std::thread::sleep(std::time::Duration::from_millis(50));

    let c = Fork::new().exit_signal(Some(libc::SIGUSR1)).spawn(|| 0)?;
    settle();
    println!("clone child (exit signal SIGUSR1), no exec:");
    println!(
        "  waitpid(pid, 0)                -> {}",
        waitpid(c.id(), libc::WNOHANG)
    );
    println!(
        "  waitpid(pid, __WCLONE)         -> {}",
        waitpid(c.id(), libc::__WCLONE)
    );

    let c = Fork::new().exit_signal(None).spawn(|| 0)?;
    settle();
    println!("clone child (no exit signal), no exec:");
    println!(
        "  waitpid(pid, 0)                -> {}",
        waitpid(c.id(), libc::WNOHANG)
    );
    println!(
        "  waitpid(pid, __WALL)           -> {}",
        waitpid(c.id(), libc::__WALL)
    );

    let c = Fork::new().spawn(|| 0)?;
    settle();
    println!("ordinary child (SIGCHLD):");
    println!(
        "  waitpid(pid, __WCLONE|WNOHANG) -> {}",
        waitpid(c.id(), libc::__WCLONE | libc::WNOHANG)
    );
    println!(
        "  waitpid(pid, __WALL)           -> {}",
        waitpid(c.id(), libc::__WALL)
    );

    let c = Command::new("true")
        .exit_signal(Some(libc::SIGUSR1))
        .spawn()?;
    settle();
    println!("clone child (exit signal SIGUSR1) that exec'd /bin/true:");
    println!(
        "  waitpid(pid, __WCLONE|WNOHANG) -> {}",
        waitpid(c.id(), libc::__WCLONE | libc::WNOHANG)
    );
    println!("  waitpid(pid, 0)                -> {}", waitpid(c.id(), 0));

    // The sibling stays alive while main waits: when a thread exits, its children pass to
    // another thread of the group, and __WNOTHREAD would then find them.
    let (pid_tx, pid_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let sibling = std::thread::spawn(move || {
        let pid = Command::new("true").spawn().map(|c| c.id());
        let _ = pid_tx.send(pid);
        let _ = done_rx.recv();
    });
    let pid = pid_rx.recv()??;
    settle();
    println!("child created by a sibling thread (still running):");
    println!(
        "  waitpid(pid, __WNOTHREAD)      -> {}",
        waitpid(pid, libc::__WNOTHREAD | libc::WNOHANG)
    );
    println!("  waitpid(pid, 0)                -> {}", waitpid(pid, 0));
    let _ = done_tx.send(());
    sibling.join().map_err(|_| "sibling thread panicked")?;
    Ok(())
}
