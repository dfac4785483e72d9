//! What the kernel accepts for a new namespace's settings, checked before anything is
//! created: the UTS names ([`uts`]) and the time namespace's clock offsets ([`time`]).
mod join;
pub mod time;
pub(crate) mod user;
pub mod uts;

pub(crate) use join::{check_join, join_steps};
