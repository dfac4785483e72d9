//! Seed 001, Example 2: CLONE_VM | CLONE_SIGHAND | CLONE_THREAD. The thread has the same
//! getpid() (the TGID) as main and its own gettid().
use cleave::{raw_println, CloneFlags, Task};
use cleave_child::sys;
use std::sync::atomic::{AtomicBool, Ordering};

static GO: AtomicBool = AtomicBool::new(false);

fn main() -> Result<(), cleave::Error> {
    println!("[Main] PID (TGID) via getpid() = {}", sys::getpid());
    println!("[Main] TID via gettid() = {}", sys::gettid());
    // CLONE_THREAD requires CLONE_SIGHAND, which requires CLONE_VM.
    let mut task = Task::new();
    task.flags(CloneFlags::VM | CloneFlags::SIGHAND | CloneFlags::THREAD);
    // SAFETY: the body spins on an atomic and prints with raw write(2) only.
    let mut thread = unsafe {
        task.spawn(|| {
            while !GO.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            raw_println!("[Thread] PID (TGID) via getpid() = {}", sys::getpid());
            raw_println!("[Thread] TID via gettid() = {}", sys::gettid());
            0
        })?
    };
    println!("[Main] clone() returned TID = {}", thread.tid());
    GO.store(true, Ordering::Release);
    // A CLONE_THREAD child cannot be waited for with waitpid(); it is joined through the
    // CLONE_CHILD_CLEARTID futex instead of sleeping.
    thread.join()?;
    Ok(())
}
