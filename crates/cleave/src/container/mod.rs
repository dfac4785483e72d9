//! A container's life beyond any one process. An OCI runtime's `create` exits while the
//! container lives, and `start`, `state`, `pause`, `kill` and `delete` each run as a process
//! of their own: what they know of the container is what [`state`] keeps on disk, one
//! directory per container under a root directory (`/run/cleave`, say, or
//! `$XDG_RUNTIME_DIR/cleave` without root).
//!
//! Nothing here knows the OCI configuration format: a front end fills a [`State`] from it.
//!
//! ```no_run
//! use cleave::container::{self, State, Status};
//! let root = std::path::Path::new("/run/cleave");
//! let mut state = State::new("ctr-1", "/bundles/ctr-1".into(), "/bundles/ctr-1/rootfs".into())?;
//! let lock = container::create(root, &state)?; // fails if ctr-1 exists
//! state.status = Status::Created;
//! lock.save(&state)?;
//! drop(lock);
//! // Later, in another process:
//! let lock = container::lock(root, "ctr-1")?; // waits for whoever holds it
//! let mut state = lock.load()?;
//! state.status = Status::Running;
//! lock.save(&state)?;
//! # Ok::<(), cleave::Error>(())
//! ```
pub mod state;

pub use state::{
    create, list, load, lock, remove, save, try_lock, validate_id, IdError, Lock, State, StateOp,
    Status,
};
