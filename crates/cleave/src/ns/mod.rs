//! What the kernel accepts for a new namespace's settings, checked before anything is
//! created: the UTS names ([`uts`]) and the time namespace's clock offsets ([`time`]).
pub mod time;
pub mod uts;
