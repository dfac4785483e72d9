//! `resume`: thaws a paused container.
use super::cli::IdArg;
use super::common::{Ctx, Res};

pub fn run(ctx: &Ctx, a: IdArg) -> Res<i32> {
    super::pause::set_frozen(ctx, &a.id, false)?;
    Ok(0)
}
