//! `pause`: freezes every process of the container (cgroup2 `cgroup.freeze`, or the v1
//! freezer on a host without cgroup2).
use super::cli::IdArg;
use super::common::{self, Ctx, Fail, Res};
use cleave::container::Status;

pub fn run(ctx: &Ctx, a: IdArg) -> Res<i32> {
    set_frozen(ctx, &a.id, true)?;
    Ok(0)
}

pub fn set_frozen(ctx: &Ctx, id: &str, frozen: bool) -> Res<()> {
    let lock = ctx.lock(id)?;
    let mut rec = lock.load()?;
    let status = common::status(&rec);
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
    let Some(set) = common::cgroup(&rec) else {
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
        rec.status = Status::Paused;
    } else {
        set.thaw()?;
        rec.status = Status::Running;
    }
    lock.save(&rec)?;
    Ok(())
}
