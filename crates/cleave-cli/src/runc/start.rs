//! `start`: runs the startContainer hooks (and a runtime-spec 1.0 config's prestart hooks),
//! releases a created container's init from its start barrier, then runs the poststart
//! hooks (after the program was let go, as the runtime-spec has it).
use super::cli::IdArg;
use super::common::{self, Ctx, Fail, Res, FIFO};
use super::{hooks, log};
use cleave::container::Status;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

pub fn run(ctx: &Ctx, a: IdArg) -> Res<i32> {
    start(ctx, &a.id, None)?;
    Ok(0)
}

/// Starts created container `id`; `config` is its config when the caller (`run`) parsed it
/// already, otherwise the copy in the state directory is read.
pub fn start(ctx: &Ctx, id: &str, config: Option<&common::oci_spec_runtime::Spec>) -> Res<()> {
    let lock = ctx.lock(id)?;
    let mut rec = lock.load()?;
    match common::status(&rec) {
        Status::Created => {}
        s => {
            return Err(Fail::failed(format!(
                "cannot start container {id}: it is {s}, not created"
            )))
        }
    }
    // Before the program is let go: prestart hooks of a runtime-spec 1.0 config, then
    // startContainer hooks in the container. A failure ends the container.
    let read;
    let config = match config {
        Some(c) => c,
        None => {
            read = common::config(lock.dir())?;
            &read
        }
    };
    let h = config.hooks().clone().unwrap_or_default();
    let state = common::oci_state(&rec, config.version());
    let prestart = if hooks::prestart_at_start(config.version()) {
        h.prestart().as_ref()
    } else {
        None
    };
    let before = hooks::run("prestart", prestart, &state).and_then(|_| {
        hooks::run_at(
            "startContainer",
            h.start_container().as_ref(),
            &state,
            hooks::Place::Container(rec.pid),
        )
    });
    if let Err(f) = before {
        // The spec: stop the container and go on to its end (delete, poststop hooks):
        // nothing of it is left.
        if let Err(d) = super::delete::delete(lock, true) {
            log::warn(&d.msg);
        }
        return Err(f);
    }
    let fifo = lock.dir().join(FIFO);
    // Non-blocking: with no reader left (the init died) this fails with ENXIO.
    let mut f = std::fs::File::options()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .map_err(|e| {
            Fail::failed(format!(
                "cannot start container {id}: its init no longer waits ({e})"
            ))
        })?;
    f.write_all(b"1")
        .map_err(|e| Fail::failed(format!("cannot start container {id}: {e}")))?;
    drop(f);
    let _ = std::fs::remove_file(&fifo);
    // The poststart hooks run "after the user-specified process is executed": with any,
    // wait until the init is no longer cleave's (it exec'd) or is gone. Without, start
    // returns once the init is let go, as runc's does (the wait cost a sleep of 1 ms or
    // more on every start).
    let poststart = h.poststart().as_ref().filter(|p| !p.is_empty());
    if poststart.is_some() {
        wait_exec(rec.pid);
    }
    rec.status = Status::Running;
    rec.start_barrier = None;
    lock.save(&rec)?;
    drop(lock);
    // The state the poststart hooks get is the one start made (a short program may have
    // exited already; the hooks still learn what was started).
    if let Some(poststart) = poststart {
        let state = common::oci_state_as(&rec, config.version(), Status::Running);
        if let Err(f) = hooks::run("poststart", Some(poststart), &state) {
            // The runtime-spec: a poststart failure is logged, and the container goes on.
            log::warn(&f.msg);
        }
    }
    Ok(())
}

/// Waits (up to 10 s) until process `pid` runs another executable than this one: it passed
/// execve, or it exited (then /proc/PID/exe cannot be read). Where `pid` is cleave's init
/// of a joined PID namespace, which never execs, its child (the program) is watched.
fn wait_exec(pid: i32) {
    use std::os::unix::fs::MetadataExt;
    let Ok(own) = std::fs::metadata("/proc/self/exe") else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let target = match children.split_whitespace().collect::<Vec<_>>()[..] {
            [only] => only.parse().unwrap_or(pid),
            _ => pid,
        };
        match std::fs::metadata(format!("/proc/{target}/exe")) {
            Ok(m) if m.dev() == own.dev() && m.ino() == own.ino() => {}
            _ => return,
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
