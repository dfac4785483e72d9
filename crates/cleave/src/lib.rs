//! # cleave: the whole of Linux `clone()`
//!
//! For every new execution context, choose exactly what it shares with its creator — memory,
//! file descriptors, filesystem attributes, signal handlers, thread group, parent, exit
//! signal — and which kernel namespaces it gets of its own.
//!
//! * [`Command`] runs a program (the posix_spawn-style CLONE_VM | CLONE_VFORK fast path plus
//!   any flags you add), with the shape of [`std::process::Command`]: [`Stdio`] piped, null
//!   or inherited, [`Command::output`], [`Command::status`];
//! * [`Fork`] runs a Rust closure in a process of its own;
//! * [`Task`] runs a thread-like body in the caller's address space;
//! * [`Child`] waits (`__WALL` when the exit signal is not SIGCHLD), signals through the
//!   pidfd every builder asks for unless the kernel cannot give one with the flags (or the
//!   builder is unchecked), reports an [`ExitStatus`] or an [`Output`], and can be made for
//!   a running process with [`Child::adopt`].
//!
//! Builders take `&mut self` setters, as std's: `Task::new().flags(..)`,
//! `Fork::new().flags(..)`, `Command::new(..).arg(..)`.
//!
//! Every request is checked against the kernel's rules ([`flags::rules`]) before any system
//! call; all broken rules are reported at once with the errno the kernel would give.
//!
//! ```no_run
//! use cleave::{CloneFlags, Command};
//! let status = Command::new("hostname")
//!     .flags(CloneFlags::NEWUSER | CloneFlags::NEWUTS)
//!     .hostname("inside")
//!     .status()?;
//! # Ok::<(), cleave::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod caps;
pub mod cgroup;
pub mod checkpoint;
pub mod child;
pub mod container;
pub mod enter;
pub mod env;
pub mod error;
pub mod fd;
pub mod flags;
pub mod host;
pub mod idmap;
pub mod inspect;
pub mod mount;
pub mod ns;
mod plan;
pub mod raw;
pub mod rawio;
pub mod sandbox;
pub mod seccomp;
mod security;
mod spawn;
pub mod stack;
pub mod supervise;

pub use child::{Child, ExitStatus, Output, Reaper};
pub use error::{Error, Result};
pub use flags::{parse_flags, CloneFlags};
pub use ns::Namespace;
pub use spawn::{
    set_program_default_signals, Addition, AdditionReason, Command, Fork, Stdio, Task, TaskHandle,
};

/// The README's library example, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExample;
