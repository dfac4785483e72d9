//! Seed 001, Example 1: a thread-like child sharing memory (CLONE_VM | CLONE_FILES |
//! CLONE_SIGHAND, exit signal SIGCHLD). The child's write is seen by the parent.
use cleave::{raw_println, CloneFlags, Fork, Task};
use std::sync::atomic::{AtomicI32, Ordering};

/// In shared memory: both parent and child see changes.
static SHARED_COUNTER: AtomicI32 = AtomicI32::new(0);

fn main() -> Result<(), cleave::Error> {
    SHARED_COUNTER.store(5, Ordering::SeqCst);
    println!(
        "[Parent] shared_counter = {} (before clone)",
        SHARED_COUNTER.load(Ordering::SeqCst)
    );
    let mut task = Task::new();
    task.flags(CloneFlags::VM | CloneFlags::FILES | CloneFlags::SIGHAND);
    // SAFETY: the body only touches an atomic and prints with one raw write(2).
    let mut child = unsafe {
        task.spawn(|| {
            raw_println!(
                "[Child] shared_counter before = {}",
                SHARED_COUNTER.load(Ordering::SeqCst)
            );
            SHARED_COUNTER.fetch_add(100, Ordering::SeqCst); // the parent's memory too (CLONE_VM)
            raw_println!(
                "[Child] shared_counter after = {}",
                SHARED_COUNTER.load(Ordering::SeqCst)
            );
            0
        })?
    };
    child.join()?; // waitpid() on a SIGCHLD child, after the CLEARTID futex
    println!(
        "[Parent] shared_counter = {} (after child modified it)",
        SHARED_COUNTER.load(Ordering::SeqCst)
    );

    // Without CLONE_VM the child writes to its own copy and the parent still sees 105.
    let mut copy = Fork::new().spawn(|| {
        SHARED_COUNTER.fetch_add(100, Ordering::SeqCst);
        0
    })?;
    copy.wait()?;
    println!(
        "[Parent] shared_counter = {} (a child without CLONE_VM added 100 to its own copy)",
        SHARED_COUNTER.load(Ordering::SeqCst)
    );
    Ok(())
}
