//! `cleave inspect`: what two processes share.
use crate::cli::InspectArgs;

pub fn run(_a: InspectArgs) -> i32 {
    crate::report::bad_request("inspect: not built yet")
}
