//! A program that links the child crate's entry points and nothing else, built by
//! `tests/symbols.rs` the way a release binary is (fat LTO, panic = abort, unused sections
//! dropped) so that its symbol table lists exactly what the child's code pulls in.
//!
//! Every input goes through `black_box`: the optimiser may not assume a plan, a length or
//! an fd, so every branch of the executor stays in.
#![no_std]
#![no_main]

use core::hint::black_box;

/// The process entry (no C runtime: `-nostartfiles`). Never run; only linked.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    cleave_child::reset_signal_handlers();
    let _ = cleave_child::sys::write(black_box(2), black_box(b"probe"));
    // The rest of `sys`'s public calls, which the library may use outside a plan.
    let mut byte = [0u8; 1];
    let _ = cleave_child::sys::read(black_box(0), black_box(&mut byte));
    let _ = cleave_child::sys::close_range(black_box(3), black_box(u32::MAX), black_box(0));
    black_box((
        cleave_child::sys::gettid(),
        cleave_child::sys::getpid(),
        cleave_child::sys::getppid(),
    ));
    // The check's own control: built with `--cfg control`, the probe unwraps, and the
    // symbol check must then find the panic machinery.
    #[cfg(control)]
    {
        let slot: Option<i32> = black_box(None);
        cleave_child::sys::close(slot.unwrap());
    }
    let plan = black_box(core::ptr::null::<cleave_child::Plan>());
    // SAFETY: never executed; the program exists to be linked and read by nm.
    unsafe { cleave_child::run(plan) }
}

/// Reached only through a panic: present in the binary exactly when some code can panic.
#[panic_handler]
fn on_panic(_: &core::panic::PanicInfo) -> ! {
    cleave_child::sys::exit_group(101)
}
