//! Seed 001, Section D: CLONE_PARENT_SETTID writes the TID into the parent's memory before
//! clone returns; CLONE_CHILD_CLEARTID zeroes it and wakes a futex when the child exits.
use cleave::{raw_println, CloneFlags, Task};
use cleave_child::sys;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static GO: AtomicBool = AtomicBool::new(false);
static SEEN_TID: AtomicI32 = AtomicI32::new(0);

fn main() -> Result<(), cleave::Error> {
    let flags = CloneFlags::PRESET_NPTL.difference(CloneFlags::SETTLS);
    println!("flags: {flags}");
    // SAFETY: the body waits on an atomic, records its TID and prints with raw write(2).
    let mut task = unsafe {
        Task::new().flags(flags).spawn(|| {
            while !GO.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            SEEN_TID.store(sys::gettid(), Ordering::SeqCst);
            raw_println!("[Child] gettid() = {}", sys::gettid());
            0
        })?
    };
    // The child has not run a single instruction of its body yet, and the word is set.
    let word = task.tid_word();
    println!("[Parent] TID word right after clone returned = {word} (child still held)");
    GO.store(true, Ordering::Release);
    task.join()?; // FUTEX_WAIT on the word until CLONE_CHILD_CLEARTID clears it
    println!(
        "[Parent] child reported gettid() = {}: {}",
        SEEN_TID.load(Ordering::SeqCst),
        if SEEN_TID.load(Ordering::SeqCst) == word as i32 {
            "matches the word"
        } else {
            "MISMATCH"
        }
    );
    println!(
        "[Parent] TID word after the child exited = {} (cleared, futex woken: join returned)",
        task.tid_word()
    );
    Ok(())
}
