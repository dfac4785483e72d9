//! `cleave::inspect::compare` against pairs whose sharing the test itself set up: a
//! thread-like task, a fork, a CLONE_THREAD task, new namespaces, CLONE_SYSVSEM.
mod common;

use cleave::error::TargetProblem;
use cleave::inspect::{compare, Report, Shared};
use cleave::{CloneFlags as F, Error, Fork, Task};
use cleave_child::sys;
use common::*;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

static GATE: AtomicBool = AtomicBool::new(false);

fn me() -> i32 {
    std::process::id() as i32
}

/// The answer of row `key`, or a test failure naming the row.
fn shared(r: &Report, key: &str) -> Result<Shared, String> {
    r.row(key)
        .map(|row| row.shared)
        .ok_or_else(|| format!("no row {key} in {r:?}"))
}

/// Runs `check` on compare(me, task) while a thread-like task made with `flags` spins.
fn with_task(flags: F, check: impl FnOnce(Report) -> Result<(), String>) -> Result<(), String> {
    GATE.store(false, Ordering::SeqCst);
    // SAFETY: the body spins on an atomic only.
    let mut t = unsafe {
        Task::new().flags(flags).spawn(|| {
            while !GATE.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            0
        })
    }
    .map_err(|e| e.to_string())?;
    let report = compare(me(), Some(t.tid()));
    GATE.store(true, Ordering::SeqCst);
    t.join().map_err(|e| e.to_string())?;
    check(report.map_err(|e| e.to_string())?)
}

/// Runs `check` on compare(child, None) — the child against its parent, this process —
/// while a fork-like child made with `flags` waits on a pipe.
fn with_fork(flags: F, check: impl FnOnce(Report) -> Result<(), String>) -> Result<(), String> {
    let (r, w): (OwnedFd, OwnedFd) = pipe();
    let rfd = r.as_raw_fd();
    let mut c = Fork::new()
        .flags(flags)
        .spawn(move || {
            let mut b = [0u8; 1];
            let _ = sys::read(rfd, &mut b);
            0
        })
        .map_err(|e| e.to_string())?;
    let report = compare(c.id(), None);
    write_all(&w, b"x");
    c.wait().map_err(|e| e.to_string())?;
    let report = report.map_err(|e| e.to_string())?;
    ensure_eq!(report.other, me());
    ensure!(report.other_is_parent, "OTHER defaults to the parent");
    check(report)
}

fn vm_fs_task_shares_memory_and_fs() -> TestResult {
    with_task(F::FS, |r| {
        ensure_eq!(shared(&r, "vm")?, Shared::Yes);
        ensure_eq!(shared(&r, "fs")?, Shared::Yes);
        ensure_eq!(shared(&r, "files")?, Shared::No);
        ensure_eq!(shared(&r, "sighand")?, Shared::No);
        ensure_eq!(shared(&r, "thread-group")?, Shared::No);
        let parent = r.row("parent").unwrap();
        ensure!(
            parent.shared == Shared::No && parent.detail.contains("is the parent of"),
            "{parent:?}"
        );
        Ok(())
    })?;
    pass()
}

fn fork_shares_nothing_but_namespaces() -> TestResult {
    with_fork(F::empty(), |r| {
        for key in [
            "vm",
            "files",
            "fs",
            "sighand",
            "io",
            "sysvsem",
            "thread-group",
        ] {
            ensure!(shared(&r, key)? == Shared::No, "{key}: {:?}", r.row(key));
        }
        for ns in ["ipc", "mnt", "net", "pid", "user", "uts", "cgroup"] {
            ensure_eq!(shared(&r, &format!("ns:{ns}"))?, Shared::Yes);
        }
        let parent = r.row("parent").unwrap();
        ensure_eq!(
            parent.detail,
            format!("{} is the parent of {}", me(), r.pid)
        );
        let sig = r.row("exit-signal").unwrap();
        ensure!(sig.detail.starts_with("SIGCHLD"), "{sig:?}");
        Ok(())
    })?;
    pass()
}

fn clone_thread_is_the_same_thread_group() -> TestResult {
    with_task(F::THREAD | F::SIGHAND, |r| {
        ensure_eq!(shared(&r, "thread-group")?, Shared::Yes);
        ensure_eq!(shared(&r, "sighand")?, Shared::Yes);
        ensure_eq!(shared(&r, "vm")?, Shared::Yes);
        // A thread has no exit signal of its own (-1 in /proc/PID/stat).
        ensure_eq!(shared(&r, "exit-signal")?, Shared::No);
        Ok(())
    })?;
    pass()
}

fn new_user_and_uts_namespaces_differ() -> TestResult {
    with_fork(F::NEWUSER | F::NEWUTS, |r| {
        ensure_eq!(shared(&r, "ns:uts")?, Shared::No);
        ensure_eq!(shared(&r, "ns:user")?, Shared::No);
        ensure_eq!(shared(&r, "ns:net")?, Shared::Yes);
        ensure_eq!(shared(&r, "ns:mnt")?, Shared::Yes);
        ensure_eq!(r.row("ns:uts").unwrap().flag, "CLONE_NEWUTS");
        Ok(())
    })?;
    pass()
}

fn sysvsem_undo_list_is_shared_with_clone_sysvsem() -> TestResult {
    with_fork(F::SYSVSEM, |r| {
        ensure_eq!(shared(&r, "sysvsem")?, Shared::Yes);
        ensure_eq!(shared(&r, "vm")?, Shared::No);
        Ok(())
    })?;
    pass()
}

fn unprivileged_sees_unknown_with_the_reason() -> TestResult {
    if !is_root() {
        return skip("needs root to own the process that nobody inspects");
    }
    let parent = me();
    as_nobody(move || {
        let r = compare(parent, None).map_err(|e| format!("compare: {e}"))?;
        let vm = r.row("vm").ok_or("no vm row")?;
        ensure!(
            vm.shared == Shared::Unknown
                && vm
                    .reason
                    .as_deref()
                    .is_some_and(|w| w.contains("EPERM") && w.contains("ptrace")),
            "{vm:?}"
        );
        let uts = r.row("ns:uts").ok_or("no uts row")?;
        ensure!(
            uts.shared == Shared::Unknown && uts.reason.is_some(),
            "{uts:?}"
        );
        // /proc/PID/stat and status stay readable: those rows still answer.
        ensure_eq!(r.row("thread-group").map(|r| r.shared), Some(Shared::No));
        Ok(())
    })?;
    pass()
}

fn bad_and_gone_pids_are_errors() -> TestResult {
    ensure!(
        matches!(
            compare(0, None),
            Err(Error::Target(TargetProblem::NotPositive(0)))
        ),
        "pid 0"
    );
    let mut c = Fork::new().spawn(|| 0).map_err(|e| e.to_string())?;
    let pid = c.id();
    c.wait().map_err(|e| e.to_string())?;
    match compare(pid, None) {
        Err(e @ Error::Inspect { .. }) => ensure_eq!(e.errno(), Some(libc::ESRCH)),
        other => return Err(format!("gone pid {pid}: {other:?}")),
    }
    pass()
}

fn main() {
    run(&[
        (
            "vm_fs_task_shares_memory_and_fs",
            vm_fs_task_shares_memory_and_fs,
        ),
        (
            "fork_shares_nothing_but_namespaces",
            fork_shares_nothing_but_namespaces,
        ),
        (
            "clone_thread_is_the_same_thread_group",
            clone_thread_is_the_same_thread_group,
        ),
        (
            "new_user_and_uts_namespaces_differ",
            new_user_and_uts_namespaces_differ,
        ),
        (
            "sysvsem_undo_list_is_shared_with_clone_sysvsem",
            sysvsem_undo_list_is_shared_with_clone_sysvsem,
        ),
        (
            "unprivileged_sees_unknown_with_the_reason",
            unprivileged_sees_unknown_with_the_reason,
        ),
        ("bad_and_gone_pids_are_errors", bad_and_gone_pids_are_errors),
    ]);
}
