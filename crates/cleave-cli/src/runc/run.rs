//! `run`: create and start; with --detach return at once, otherwise wait for the program,
//! pass its exit code through and delete the container (unless --keep).
use super::cli::RunArgs;
use super::common::{Ctx, Res};
use super::{create, delete, start};
use cleave::supervise::{Forwarder, FORWARDED};

pub fn run(ctx: &Ctx, a: RunArgs) -> Res<i32> {
    // Signals to cleave go to the container, from before it exists.
    let forward = (!a.detach).then(|| Forwarder::block(&FORWARDED));
    let created = create::create(ctx, &a.id, &a.opts)?;
    let mut running = created.running;
    let config = created.config;
    drop(created.lock);
    if let Err(f) = start::start(ctx, &a.id, Some(&config)) {
        let _ = running.child().kill();
        let _ = running.child().wait();
        if let Ok(lock) = ctx.lock(&a.id) {
            let _ = delete::delete(lock, true);
        }
        return Err(f);
    }
    if a.detach {
        std::mem::forget(running);
        return Ok(0);
    }
    if let Some(fw) = &forward {
        let pid = running.id();
        if let Some(Ok(fd)) = running.child().pidfd().map(|f| f.try_clone_to_owned()) {
            fw.until_exit(fd, false, |sig| {
                // SAFETY: kill(2) with a PID and a signal number; the PID stays ours until
                // we reap it below.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(pid, sig);
                }
            });
        }
    }
    let status = running.wait()?;
    if !a.keep {
        if let Ok(lock) = ctx.lock(&a.id) {
            delete::delete_with(lock, true, Some(&config))?;
        }
    }
    Ok(status.shell_code())
}
