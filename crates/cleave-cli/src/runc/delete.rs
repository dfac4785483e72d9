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
    delete_with(lock, force, None)
}

/// [`delete`]; `config` is the container's config when the caller (`run`) holds it already,
/// otherwise the copy in the state directory is read.
pub fn delete_with(
    lock: Lock,
    force: bool,
    config: Option<&common::oci_spec_runtime::Spec>,
) -> Res<()> {
    let rec = lock.load()?;
    let id = rec.id.clone();
    // The set opened once, for the status, the kill and the removal.
    let set = common::cgroup(&rec);
    let status = common::status_with(&rec, set.as_ref());
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
    // Read before the state directory goes; the state JSON only for hooks that take it.
    let read = match config {
        Some(_) => None,
        None => common::config(lock.dir()).ok(),
    };
    let config = config.or(read.as_ref());
    if let Some(set) = set {
        set.remove()?;
    }
    lock.remove()?;
    if let Some(c) = config {
        let h = c.hooks().clone().unwrap_or_default();
        if let Some(poststop) = h.poststop().as_ref().filter(|p| !p.is_empty()) {
            let state = common::oci_state_as(&rec, c.version(), Status::Stopped);
            if let Err(f) = hooks::run("poststop", Some(poststop), &state) {
                log::warn(&f.msg);
            }
        }
    }
    Ok(())
}
