//! `kill ID [SIG]`: a signal to the init through a pidfd, or with --all to every process of
//! the container's cgroup.
use super::cli::KillArgs;
use super::common::{self, Ctx, Fail, Res};
use cleave::container::Status;

pub fn run(ctx: &Ctx, a: KillArgs) -> Res<i32> {
    let sig = common::parse_signal(a.signal.as_deref().unwrap_or("TERM"))?;
    let lock = ctx.lock(&a.id)?;
    let rec = lock.load()?;
    let status = common::status(&rec);
    if a.all {
        let Some(set) = common::cgroup(&rec) else {
            return Err(Fail::failed(format!(
                "container {} has no cgroup to signal every process through",
                a.id
            )));
        };
        for pid in set.processes()? {
            if let Ok(c) = cleave::Child::adopt(pid) {
                let _ = c.signal(sig);
            }
        }
        if status == Status::Paused && sig == libc::SIGKILL {
            let _ = set.thaw();
        }
        return Ok(0);
    }
    if status == Status::Stopped {
        return Err(common::not_running(&rec));
    }
    common::signal_init(&rec, sig)?;
    Ok(0)
}
