//! The code cleave runs inside a new child between `clone()` and `execve()`.
//!
//! The parent may be multi-threaded, so after clone the child's memory may hold locks taken
//! by threads that no longer exist there. This crate is `#![no_std]` without `alloc`: it cannot
//! allocate, lock, log or format. It reads a [`Plan`] that the parent built completely before
//! clone (every string already NUL-terminated, every path already joined), runs its steps with
//! raw system calls, and ends in `execve` or `exit_group`. On failure it writes one 16-byte
//! [`Report`] naming the stage, the step and the errno, to the report fd and to the shared
//! report slot, then exits with [`EXIT_SETUP_FAILED`].
#![no_std]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod sys;

#[allow(unsafe_code)]
mod data;
#[allow(unsafe_code)]
mod exec;
#[allow(unsafe_code)]
pub mod fs;
#[allow(unsafe_code)]
mod lock;
#[allow(unsafe_code)]
mod ops;
#[allow(unsafe_code)]
mod ops_extra;
mod plan;
#[allow(unsafe_code)]
mod process;

pub use exec::{reset_signal_handlers, run};
pub use plan::{Bytes, Notes, Op, Plan, Report, Slot, Stage, Str};

/// Exit code of a child whose setup failed before exec (the report says why).
pub const EXIT_SETUP_FAILED: i32 = 126;
/// Exit code of a child whose program could not be found or executed.
pub const EXIT_EXEC_FAILED: i32 = 127;
