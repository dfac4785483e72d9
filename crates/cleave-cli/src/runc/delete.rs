//! `delete [-f] ID`: a stopped container's cgroup and state removed; a created, running or
//! paused one is refused unless --force, which kills it first. The poststop hooks run last.
use super::cli::DeleteArgs;
use super::common::{self, Ctx, Fail, Res};
use super::{hooks, log};
use cleave::container::{Lock, Status};

pub fn run(ctx: &Ctx, a: DeleteArgs) -> Res<i32> {
    let lock = ctx.lock(&a.id)?;
    delete(lock, a.force)?;
    Ok(0)
}

pub fn delete(lock: Lock, force: bool) -> Res<()> {
    let rec = lock.load()?;
    let id = rec.id.clone();
    let status = common::status(&rec);
    let set = common::cgroup(&rec);
    match status {
        // The runtime-spec: deleting a container that is not stopped MUST fail and MUST
        // leave it as it was; a created one too (runc ends it).
        Status::Running | Status::Paused | Status::Created if !force => {
            return Err(Fail::failed(format!(
                "cannot delete container {id}: it is {status}; stop it first (kill {id} KILL) or pass --force"
            )))
        }
        Status::Stopped => {}
        _ => {
            // Forced.
            match &set {
                Some(s) => {
                    s.kill()?;
                }
                None => {
                    let _ = common::signal_init(&rec, libc::SIGKILL);
                }
            }
            common::wait_gone(&rec, 10);
        }
    }
    let config = common::config(lock.dir()).ok();
    let mut state = common::oci_state(&rec, &common::oci_version(lock.dir()));
    state.status = cleave_oci::Status::Stopped;
    state.pid = 0;
    if let Some(set) = set {
        set.remove()?;
    }
    lock.remove()?;
    if let Some(c) = config {
        let h = c.hooks().clone().unwrap_or_default();
        if let Err(f) = hooks::run("poststop", h.poststop().as_ref(), &state) {
            log::warn(&f.msg);
        }
    }
    Ok(())
}
