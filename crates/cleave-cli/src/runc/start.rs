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
    let open = |write: bool| {
        std::fs::File::options()
            .write(write)
            .read(!write)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&fifo)
    };
    // Non-blocking: with no reader left (the init died) this fails with ENXIO.
    let first = open(true).map_err(|e| {
        Fail::failed(format!(
            "cannot start container {id}: its init no longer waits ({e})"
        ))
    })?;
    // A read end of our own, to learn when the init execs: the init holds the FIFO open
    // (close-on-exec) until its execve, and a read end polls POLLHUP once no writer is
    // left. The kernel reports that hangup only to a reader that saw a writer open after
    // it did, hence the second write end, opened after the read end.
    let watch = open(false).ok();
    let mut f = open(true).unwrap_or(first);
    f.write_all(b"1")
        .map_err(|e| Fail::failed(format!("cannot start container {id}: {e}")))?;
    drop(f);
    let _ = std::fs::remove_file(&fifo);
    // The poststart hooks run "after the user-specified process is executed": wait until
    // the init is no longer cleave's (it exec'd) or is gone.
    wait_exec(rec.pid, watch);
    rec.status = Status::Running;
    rec.start_barrier = None;
    lock.save(&rec)?;
    drop(lock);
    // The state the poststart hooks get is the one start made (a short program may have
    // exited already; the hooks still learn what was started).
    if let Some(poststart) = h.poststart().as_ref().filter(|p| !p.is_empty()) {
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
/// `watch`, the start FIFO's read end, wakes the wait at the exec (its hangup); without it,
/// or once it has hung up, the check is repeated every millisecond (as it is while the
/// FIFO stays quiet).
fn wait_exec(pid: i32, mut watch: Option<std::fs::File>) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let Ok(own) = std::fs::metadata("/proc/self/exe") else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut first = true;
    while std::time::Instant::now() < deadline {
        if !std::mem::take(&mut first) {
            match &watch {
                Some(w) => {
                    let mut p = libc::pollfd {
                        fd: w.as_raw_fd(),
                        events: 0,
                        revents: 0,
                    };
                    // SAFETY: poll(2) on one valid pollfd; the fd stays open meanwhile.
                    #[allow(unsafe_code)]
                    let n = unsafe { libc::poll(&mut p, 1, 1) };
                    if n != 0 {
                        // Hung up (or failed): every further check sleeps instead.
                        watch = None;
                    }
                }
                None => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
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
    }
}
