//! `pause`: freezes every process of the container (cgroup2 `cgroup.freeze`, or the v1
//! freezer on a host without cgroup2).
use super::cli::IdArg;
use super::common::{self, Ctx, Fail, Res};
use cleave::container::Status;

pub fn run(ctx: &Ctx, a: IdArg) -> Res<i32> {
    set_frozen(ctx, &a.id, true)?;
    Ok(0)
}

/// Freezes or thaws container `id`. The record is not rewritten: a live container's
/// running or paused status is read from its cgroup ([`common::status`]), so the freezer
/// is the one place that says it (and a rename of the record cost more than the freeze).
pub fn set_frozen(ctx: &Ctx, id: &str, frozen: bool) -> Res<()> {
    let lock = ctx.lock(id)?;
    let rec = lock.load()?;
    // Opened once, for the status and for the freeze.
    let set = common::cgroup(&rec);
    let status = common::status_with(&rec, set.as_ref());
    let ok = if frozen {
        status == Status::Running
    } else {
        status == Status::Paused
    };
    if !ok {
        let verb = if frozen { "pause" } else { "resume" };
        return Err(Fail::failed(format!(
            "cannot {verb} container {id}: it is {status}"
        )));
    }
    let Some(set) = set else {
        let why = if rec.rootless {
            ": it was created rootless outside a delegated cgroup2 directory (create it from a cgroup the user owns, such as systemd's user@UID.service)"
        } else {
            ""
        };
        return Err(Fail::failed(format!(
            "container {id} has no cgroup to freeze{why}"
        )));
    };
    if frozen {
        set.freeze()?;
    } else {
        set.thaw()?;
    }
    drop(lock);
    Ok(())
}
