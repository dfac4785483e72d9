//! `state`: runc's state JSON, the status read from the live process and the cgroup.
use super::cli::IdArg;
use super::common::{self, Ctx, Res};

pub fn run(ctx: &Ctx, a: IdArg) -> Res<i32> {
    let rec = ctx.load(&a.id)?;
    let version = common::oci_version(&ctx.root.join(&a.id));
    let state = common::oci_state(&rec, &version);
    println!(
        "{}",
        serde_json::to_string_pretty(&state).unwrap_or_default()
    );
    Ok(0)
}
