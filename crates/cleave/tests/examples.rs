//! Runs each seed example and checks that it shows what its seed shows.
mod common;

use common::*;

fn run_example(name: &str) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .ok_or("no target dir")?
        .join("examples")
        .join(name);
    let out = std::process::Command::new(&dir)
        .output()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{name} failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(text)
}

fn has(text: &str, needle: &str) -> Result<(), String> {
    if text.contains(needle) {
        Ok(())
    } else {
        Err(format!("missing {needle:?} in:\n{text}"))
    }
}

fn thread_like_clone() -> TestResult {
    let t = run_example("thread_like_clone")?;
    for l in [
        "[Parent] shared_counter = 5 (before clone)\n[Child] shared_counter before = 5\n[Child] shared_counter after = 105\n[Parent] shared_counter = 105 (after child modified it)",
        "[Parent] shared_counter = 105 (a child without CLONE_VM",
    ] {
        has(&t, l)?;
    }
    pass()
}

fn field(t: &str, prefix: &str) -> Result<String, String> {
    t.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|s| s.trim().to_string())
        .ok_or(format!("no {prefix:?} in:\n{t}"))
}

fn clone_thread() -> TestResult {
    let t = run_example("clone_thread")?;
    let main_pid = field(&t, "[Main] PID (TGID) via getpid() =")?;
    let main_tid = field(&t, "[Main] TID via gettid() =")?;
    let returned = field(&t, "[Main] clone() returned TID =")?;
    ensure_eq!(field(&t, "[Thread] PID (TGID) via getpid() =")?, main_pid);
    ensure_eq!(field(&t, "[Thread] TID via gettid() =")?, returned);
    ensure!(returned != main_tid, "thread TID equals main's");
    pass()
}

fn clone_newuts() -> TestResult {
    let t = run_example("clone_newuts")?;
    let before = field(&t, "[Parent] hostname before =")?;
    ensure_eq!(field(&t, "[Child] hostname =")?, "'my-container-host'");
    ensure_eq!(
        field(&t, "[Parent] hostname after =")?,
        format!("{before} (unchanged)")
    );
    pass()
}

fn parent_settid() -> TestResult {
    let t = run_example("parent_settid")?;
    has(&t, "matches the word")?;
    has(&t, "TID word after the child exited = 0")?;
    pass()
}

fn clone_newns() -> TestResult {
    let t = run_example("clone_newns")?;
    has(&t, "in my mount table = true, files = [\"inside\"]")?;
    has(&t, "in my mount table = false, files = 0")?;
    pass()
}

fn shared_fs_files() -> TestResult {
    let t = run_example("shared_fs_files")?;
    let main = field(&t, "[main] pid")?;
    has(&t, &format!("parent {main} (the creator's parent)"))?;
    has(
        &t,
        "open = false (CLONE_FILES), cwd = /tmp (CLONE_FS), memory = 1 (private copy)",
    )?;
    has(&t, "[main] reaped the task")?;
    pass()
}

fn fork_vfork_nptl() -> TestResult {
    let t = run_example("fork_vfork_nptl")?;
    has(&t, "parent sees memory=1, cwd unchanged=true")?;
    has(&t, "clone returned after the child finished: true (it slept 50 ms first); parent sees memory=2")?;
    has(&t, "parent sees memory=2, fd open=false, cwd=/")?;
    has(&t, "(same thread group)")?;
    has(&t, "TID word now 0")?;
    let tp = field(&t, "  thread pointer:")?;
    let vals: Vec<&str> = tp
        .split_whitespace()
        .filter(|w| w.starts_with("0x"))
        .map(|w| w.trim_end_matches(','))
        .collect();
    ensure!(
        vals.len() == 3 && vals[1] == vals[2] && vals[0] != vals[1],
        "{tp}"
    );
    let pid_line = t
        .lines()
        .find(|l| l.contains("(same thread group)"))
        .unwrap_or("")
        .to_string();
    let nums: Vec<&str> = pid_line
        .split_whitespace()
        .filter(|w| w.chars().all(|c| c.is_ascii_digit() || c == ','))
        .collect();
    ensure!(
        nums.len() >= 2 && nums[0].trim_end_matches(',') == nums[1],
        "{pid_line}"
    );
    pass()
}

fn wait_clone_children() -> TestResult {
    let t = run_example("wait_clone_children")?;
    let want = [
        "waitpid(pid, 0)                -> ECHILD",
        "waitpid(pid, __WCLONE)         -> reaped",
        "waitpid(pid, __WALL)           -> reaped",
        "waitpid(pid, __WCLONE|WNOHANG) -> ECHILD",
        "waitpid(pid, __WNOTHREAD)      -> ECHILD",
        "waitpid(pid, 0)                -> reaped",
    ];
    for w in want {
        has(&t, w)?;
    }
    pass()
}

fn main() {
    run(&[
        ("thread_like_clone", thread_like_clone),
        ("clone_thread", clone_thread),
        ("clone_newuts", clone_newuts),
        ("parent_settid", parent_settid),
        ("clone_newns", clone_newns),
        ("shared_fs_files", shared_fs_files),
        ("fork_vfork_nptl", fork_vfork_nptl),
        ("wait_clone_children", wait_clone_children),
    ]);
}
