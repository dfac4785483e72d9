//! The library as a Rust programmer used to `std::process` meets it: piped and null stdio,
//! `output()`, `wait_with_output()`, the pidfd by default, statuses that cannot be
//! collected, CLONE_THREAD for a program, and `Child::adopt`. Every check is on what the
//! program saw or wrote, or on what the kernel reports about it.
mod common;

use cleave::{Child, CloneFlags as F, Command, Error, ExitStatus, Fork, Reaper, Stdio, Task};
use common::*;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() {
    run(&[
        ("output_captures_both_streams_and_status", output_captures),
        ("output_reads_both_pipes_at_once", output_large_both),
        ("stdin_piped_through_cat_reaches_eof", stdin_through_cat),
        ("null_stdin_reads_eof_at_once", null_stdin),
        ("a_given_fd_is_closed_here_after_spawn", given_fd_closed),
        (
            "status_of_a_clone_parent_child_is_an_error",
            clone_parent_status,
        ),
        (
            "clone_parent_child_awaited_through_default_pidfd",
            clone_parent_awaited,
        ),
        ("thread_command_refused_without_consent", thread_refused),
        (
            "thread_command_with_consent_becomes_the_caller",
            thread_becomes_caller,
        ),
        ("pidfd_is_the_default_everywhere", pidfd_default),
        (
            "thread_task_end_awaited_through_pidfd",
            thread_task_wait_exit,
        ),
        ("unchecked_adds_no_pidfd", unchecked_no_pidfd),
        ("adopt_own_child_waits_for_its_status", adopt_own_child),
        ("adopt_foreign_process_signals_and_awaits", adopt_foreign),
        ("adopt_missing_process_is_an_error", adopt_missing),
        // Last: it starts a thread, after which a safe Fork may be refused.
        (
            "environment_copied_while_another_thread_sets_it",
            env_while_set,
        ),
    ]);
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

fn output_captures() -> TestResult {
    let out = sh("echo out; echo err >&2; exit 3").output().map_err(err)?;
    ensure_eq!(out.stdout, b"out\n".to_vec());
    ensure_eq!(out.stderr, b"err\n".to_vec());
    ensure_eq!(out.status, ExitStatus::Exited(3));
    pass()
}

/// 300 kB on each stream, stdout first: read one pipe after the other and the program
/// would block on a full stderr pipe while this process waits for stdout's end.
fn output_large_both() -> TestResult {
    let out = sh("head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2; echo done >&2")
        .output()
        .map_err(err)?;
    ensure_eq!(out.stdout.len(), 300_000);
    ensure_eq!(out.stderr.len(), 300_005);
    ensure!(out.stderr.ends_with(b"done\n"), "stderr tail");
    ensure!(out.status.success(), "{}", out.status);
    pass()
}

fn stdin_through_cat() -> TestResult {
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().map_err(err)?;
    let mut input = child.stdin.take().ok_or("no stdin handle")?;
    input.write_all(b"through cat\n").map_err(err)?;
    drop(input);
    // read_to_string ends only at EOF: cat saw EOF on its stdin and closed its stdout,
    // and no other copy of the pipe's write end is open here (the Command still lives).
    let mut got = String::new();
    child
        .stdout
        .take()
        .ok_or("no stdout handle")?
        .read_to_string(&mut got)
        .map_err(err)?;
    ensure_eq!(got, "through cat\n");
    ensure!(child.wait().map_err(err)?.success(), "cat failed");
    drop(cmd);
    pass()
}

fn null_stdin() -> TestResult {
    let mut cmd = sh("cat; echo rc=$?");
    cmd.stdin(Stdio::null());
    let out = cmd.output().map_err(err)?;
    ensure_eq!(String::from_utf8_lossy(&out.stdout), "rc=0\n");
    // output() leaves stdin as /dev/null when unset: cat would otherwise wait on ours.
    let out = sh("cat; echo rc=$?").output().map_err(err)?;
    ensure_eq!(String::from_utf8_lossy(&out.stdout), "rc=0\n");
    pass()
}

/// The regression: a pipe's write end given as stdout stayed open in the `Command`, so the
/// reader saw no EOF while the `Command` lived. Now the write end is closed right after
/// spawn: once the program has ended, poll reports the pipe hung up (no writer is left).
fn given_fd_closed() -> TestResult {
    let (r, w) = pipe();
    let w_raw = w.as_raw_fd();
    let mut cmd = sh("echo via fd");
    cmd.stdout(w);
    let mut child = cmd.spawn().map_err(err)?;
    ensure!(!raw_fd_open(w_raw), "fd {w_raw} still open after spawn");
    ensure!(child.stdout.is_none(), "a given fd is not a piped handle");
    ensure!(child.wait().map_err(err)?.success(), "sh failed");
    let mut pfd = libc::pollfd {
        fd: r.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout.
    unsafe { libc::poll(&mut pfd, 1, 0) };
    ensure!(
        pfd.revents & libc::POLLHUP != 0,
        "the pipe still has a writer: revents {:#x}",
        pfd.revents
    );
    let mut got = String::new();
    std::fs::File::from(r)
        .read_to_string(&mut got)
        .map_err(err)?;
    ensure_eq!(got, "via fd\n");
    // The fd went to the first child: a second spawn inherits again (captured here).
    let out = cmd.output().map_err(err)?;
    ensure_eq!(out.stdout, b"via fd\n".to_vec());
    pass()
}

fn clone_parent_status() -> TestResult {
    let mut cmd = sh("exit 7");
    cmd.flags(F::PARENT);
    match cmd.status() {
        Err(Error::NotWaitable {
            pid: None,
            reaper: Reaper::CallersParent,
        }) => {}
        other => return Err(format!("status() gave {other:?}, expected NotWaitable")),
    }
    match cmd.output() {
        Err(Error::NotWaitable { pid: None, .. }) => {}
        other => return Err(format!("output() gave {other:?}, expected NotWaitable")),
    }
    pass()
}

/// A forked child spawns `sh -c 'exit 7'` with CLONE_PARENT: the program is this process's
/// child, not the fork's. The fork awaits its end through the pidfd it got by default and
/// passes the PID up; this process, the real reaper, collects the real status, 7.
fn clone_parent_awaited() -> TestResult {
    let (r, w) = pipe();
    let wfd = w.as_raw_fd();
    let mut fork = Fork::new()
        .spawn(move || {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "exit 7"]).flags(F::PARENT);
            let Ok(child) = cmd.spawn() else { return 2 };
            if child.pidfd().is_none() {
                return 3;
            }
            if child.wait_exit().is_err() {
                return 4;
            }
            let pid = child.id().to_ne_bytes();
            // SAFETY: a live buffer on our copy of the write end.
            unsafe { libc::write(wfd, pid.as_ptr().cast(), 4) };
            0
        })
        .map_err(err)?;
    drop(w);
    let mut buf = [0u8; 4];
    let n = std::fs::File::from(r).read(&mut buf).unwrap_or(0);
    ensure_eq!(fork.wait().map_err(err)?, ExitStatus::Exited(0));
    ensure_eq!(n, 4);
    let pid = i32::from_ne_bytes(buf);
    let mut status = 0;
    // SAFETY: waiting for our own child (the CLONE_PARENT grandchild) by PID.
    let got = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    ensure_eq!(got, pid);
    ensure_eq!(ExitStatus::from_wait_status(status), ExitStatus::Exited(7));
    pass()
}

fn thread_refused() -> TestResult {
    let mut cmd = sh("exit 0");
    cmd.flags(F::SIGHAND | F::THREAD);
    ensure!(
        matches!(cmd.spawn(), Err(Error::ThreadExec)),
        "spawn accepted CLONE_THREAD"
    );
    cmd.unchecked(true);
    ensure!(
        matches!(cmd.spawn(), Err(Error::ThreadExec)),
        "unchecked spawn accepted CLONE_THREAD"
    );
    match cmd.status() {
        Err(Error::NotWaitable {
            reaper: Reaper::ThreadGroup,
            ..
        })
        | Err(Error::ThreadExec) => {}
        other => return Err(format!("status() gave {other:?}")),
    }
    pass()
}

/// With consent, the program's exec replaces the process that spawned it: a fork that
/// spawns `sh -c 'exit 9'` as a thread ends with the program's status, never returning from
/// spawn (it would exit 1).
fn thread_becomes_caller() -> TestResult {
    let mut fork = Fork::new()
        .spawn(|| {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "exit 9"])
                .flags(F::VM | F::SIGHAND | F::THREAD);
            // SAFETY: this forked child exists to become the program.
            unsafe { cmd.allow_thread_exec() };
            let _ = cmd.spawn();
            1
        })
        .map_err(err)?;
    ensure_eq!(fork.wait().map_err(err)?, ExitStatus::Exited(9));
    pass()
}

fn pidfd_default() -> TestResult {
    let mut child = Command::new("true").spawn().map_err(err)?;
    ensure!(child.pidfd().is_some(), "Command: no pidfd");
    ensure!(child.wait().map_err(err)?.success(), "true failed");
    let mut child = Fork::new().spawn(|| 0).map_err(err)?;
    ensure!(child.pidfd().is_some(), "Fork: no pidfd");
    ensure!(
        Fork::new().effective_flags().contains(F::PIDFD),
        "Fork flags"
    );
    ensure!(child.wait().map_err(err)?.success(), "fork failed");
    let mut task = Task::new();
    task.flags(F::FILES);
    // SAFETY: the body touches nothing.
    let mut handle = unsafe { task.spawn(|| 5) }.map_err(err)?;
    ensure!(handle.child().pidfd().is_some(), "Task: no pidfd");
    ensure_eq!(handle.join().map_err(err)?, ExitStatus::Exited(5));
    pass()
}

static RELEASE: AtomicBool = AtomicBool::new(false);

/// A CLONE_THREAD task has a pidfd (Linux 6.9+), and `wait_exit` returns once the thread
/// has ended: the body waits for RELEASE, so an early return would find it unset.
fn thread_task_wait_exit() -> TestResult {
    if cleave::host::kernel_version() < (6, 9) {
        return skip("CLONE_PIDFD with CLONE_THREAD needs Linux 6.9");
    }
    RELEASE.store(false, Ordering::SeqCst);
    let mut task = Task::new();
    task.flags(F::SIGHAND | F::THREAD);
    // SAFETY: the body spins on an atomic only.
    let mut handle = unsafe {
        task.spawn(|| {
            while !RELEASE.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            11
        })
    }
    .map_err(err)?;
    ensure!(handle.child().pidfd().is_some(), "thread task: no pidfd");
    ensure_eq!(handle.child().reaper(), Reaper::ThreadGroup);
    RELEASE.store(true, Ordering::SeqCst);
    handle.child().wait_exit().map_err(err)?;
    ensure_eq!(handle.tid_word(), 0);
    ensure_eq!(handle.join().map_err(err)?, ExitStatus::Exited(11));
    pass()
}

fn unchecked_no_pidfd() -> TestResult {
    let mut fork = Fork::new();
    fork.unchecked(true);
    ensure!(
        !fork.effective_flags().contains(F::PIDFD),
        "unchecked added PIDFD"
    );
    let mut child = fork.spawn(|| 0).map_err(err)?;
    ensure!(child.pidfd().is_none(), "unchecked child has a pidfd");
    ensure!(child.wait().map_err(err)?.success(), "fork failed");
    let mut cmd = Command::new("true");
    cmd.unchecked(true);
    ensure!(
        !cmd.effective_flags().contains(F::PIDFD),
        "unchecked Command"
    );
    pass()
}

fn adopt_own_child() -> TestResult {
    let std_child = std::process::Command::new("sh")
        .args(["-c", "exit 5"])
        .spawn()
        .map_err(err)?;
    let mut child = Child::adopt(std_child.id() as i32).map_err(err)?;
    ensure_eq!(child.reaper(), Reaper::Caller);
    ensure_eq!(child.exit_signal(), libc::SIGCHLD);
    ensure!(child.pidfd().is_some(), "no pidfd");
    ensure_eq!(child.wait().map_err(err)?, ExitStatus::Exited(5));
    pass()
}

/// A fork starts `sleep` (its child, not ours) and reports how it ended as its own exit
/// code. This process adopts the sleeper, cannot reap it, stops it with SIGTERM through the
/// pidfd and awaits its end: the fork saw its child killed by SIGTERM.
fn adopt_foreign() -> TestResult {
    let (r, w) = pipe();
    let wfd = w.as_raw_fd();
    let mut fork = Fork::new()
        .spawn(move || {
            let Ok(mut sleeper) = std::process::Command::new("sleep").arg("1000").spawn() else {
                return 2;
            };
            let pid = (sleeper.id() as i32).to_ne_bytes();
            // SAFETY: a live buffer on our copy of the write end.
            unsafe { libc::write(wfd, pid.as_ptr().cast(), 4) };
            use std::os::unix::process::ExitStatusExt;
            match sleeper.wait() {
                Ok(s) => s.signal().map_or(3, |sig| 100 + sig),
                Err(_) => 4,
            }
        })
        .map_err(err)?;
    drop(w);
    let mut buf = [0u8; 4];
    let n = std::fs::File::from(r).read(&mut buf).unwrap_or(0);
    ensure_eq!(n, 4);
    let pid = i32::from_ne_bytes(buf);
    let mut child = Child::adopt(pid).map_err(err)?;
    ensure_eq!(child.reaper(), Reaper::Other);
    match child.wait() {
        Err(Error::NotWaitable {
            pid: Some(p),
            reaper: Reaper::Other,
        }) if p == pid => {}
        other => return Err(format!("wait() on a foreign process gave {other:?}")),
    }
    child.signal(libc::SIGTERM).map_err(err)?;
    child.wait_exit().map_err(err)?;
    ensure_eq!(
        fork.wait().map_err(err)?,
        ExitStatus::Exited(100 + libc::SIGTERM)
    );
    pass()
}

fn adopt_missing() -> TestResult {
    // A PID above pid_max (at most 2^22) never names a process.
    match Child::adopt(1 << 23) {
        Err(e @ Error::Adopt { .. }) => {
            ensure!(e.to_string().contains("cannot adopt process"), "{e}");
        }
        other => return Err(format!("adopt gave {other:?}")),
    }
    ensure!(
        matches!(Child::adopt(0), Err(Error::Adopt { .. })),
        "adopt(0)"
    );
    pass()
}

/// The program's environment is a copy taken through std's environment lock: a variable set
/// a moment ago is there, and another thread rewriting a variable during the spawns never
/// gives the program a torn or freed value (reading `environ` directly could).
fn env_while_set() -> TestResult {
    std::env::set_var("CLEAVE_STD_LIKE", "first");
    let out = sh("printf %s \"$CLEAVE_STD_LIKE\"").output().map_err(err)?;
    ensure_eq!(out.stdout, b"first".to_vec());
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let a = "a".repeat(4096);
    let b = "b".repeat(4096);
    let (a2, b2) = (a.clone(), b.clone());
    std::env::set_var("CLEAVE_STD_LIKE", &a);
    let setter = std::thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            std::env::set_var("CLEAVE_STD_LIKE", &a2);
            std::env::set_var("CLEAVE_STD_LIKE", &b2);
        }
    });
    let mut result = Ok(());
    for _ in 0..50 {
        match sh("printf %s \"$CLEAVE_STD_LIKE\"").output() {
            Ok(out) if out.stdout == a.as_bytes() || out.stdout == b.as_bytes() => {}
            Ok(out) => {
                result = Err(format!("torn value of {} bytes", out.stdout.len()));
                break;
            }
            Err(e) => {
                result = Err(e.to_string());
                break;
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    let _ = setter.join();
    std::env::remove_var("CLEAVE_STD_LIKE");
    result?;
    pass()
}
