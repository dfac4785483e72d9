//! `cleave spawn`: run a program in a child created with the flags you choose.
mod mounts;
mod persist;
mod spec;

use crate::cli::SpawnArgs;
use crate::report;
use cleave::env;
use cleave::flags::{check_set_tid, parse_flags, signal_name};
use cleave::sandbox::prepare;
use cleave::supervise::{Forwarder, FORWARDED};
use cleave::{CloneFlags, Namespace, Reaper};
pub use mounts::Positions;
pub(crate) use spec::Labels;
use spec::{spec_from, Refused};
use std::io::Write;

/// Adds up --flags, --share, --new, --preset and the switches.
pub fn collect_flags(a: &SpawnArgs) -> Result<(CloneFlags, Option<i32>), String> {
    let mut flags = CloneFlags::empty();
    let mut signal = None;
    for expr in &a.flags {
        let e = parse_flags(expr).map_err(|e| e.to_string())?;
        flags |= e.flags;
        signal = e.exit_signal.or(signal);
    }
    for s in &a.share {
        flags |= match s.trim().to_ascii_lowercase().as_str() {
            "vm" => CloneFlags::VM,
            "files" => CloneFlags::FILES,
            "fs" => CloneFlags::FS,
            "sighand" => CloneFlags::SIGHAND,
            "sysvsem" => CloneFlags::SYSVSEM,
            "io" => CloneFlags::IO,
            "thread" => CloneFlags::THREAD,
            other if Namespace::from_name(other).is_some() => continue,
            other => {
                return Err(format!(
                "unknown --share item `{other}`: choose from vm,files,fs,sighand,sysvsem,io,thread or a namespace (net, ipc, uts, pid, cgroup, user, ...) to keep from a preset or --new all"
            ))
            }
        };
    }
    let shared = shared_namespaces(a);
    match super::parse_namespaces(&a.new_ns, "--new")? {
        None => flags |= CloneFlags::ALL_NAMESPACES,
        Some(list) => {
            let asked = list.iter().fold(CloneFlags::empty(), |f, ns| f | ns.flag());
            if let Some(both) = Namespace::ALL
                .iter()
                .find(|n| (asked & shared).contains(n.flag()))
            {
                return Err(format!(
                    "--new {0} and --share {0} contradict each other: a namespace is either new or the caller's",
                    both.name()
                ));
            }
            flags |= asked;
        }
    }
    if let Some(p) = &a.preset {
        flags |= match p.trim().to_ascii_lowercase().as_str() {
            "fork" => CloneFlags::PRESET_FORK,
            "vfork" => CloneFlags::PRESET_VFORK,
            "linuxthreads" => CloneFlags::PRESET_LINUXTHREADS,
            "nptl" => CloneFlags::PRESET_NPTL,
            "sandbox" | "container" => cleave::sandbox::NAMESPACES,
            other => {
                return Err(format!(
                    "unknown preset `{other}`: choose fork, vfork, linuxthreads, nptl, sandbox or container"
                ))
            }
        };
    }
    for (on, f) in [
        (a.parent, CloneFlags::PARENT),
        (a.vfork, CloneFlags::VFORK),
        (a.pidfd, CloneFlags::PIDFD),
        (a.clear_sighand, CloneFlags::CLEAR_SIGHAND),
        (a.ptrace, CloneFlags::PTRACE),
        (a.untraced, CloneFlags::UNTRACED),
    ] {
        if on {
            flags |= f;
        }
    }
    if let Some(s) = &a.exit_signal {
        signal = Some(super::parse_exit_signal(s)?);
    }
    Ok((flags.difference(shared), signal))
}

/// The namespaces named in --share: kept from a preset's or --new all's new ones.
pub fn shared_namespaces(a: &SpawnArgs) -> CloneFlags {
    a.share
        .iter()
        .filter_map(|s| Namespace::from_name(s.trim()))
        .fold(CloneFlags::empty(), |f, ns| f | ns.flag())
}

pub fn run(a: SpawnArgs, positions: Positions) -> i32 {
    // Before cleave opens anything of its own (all close-on-exec anyway).
    let inherited = if a.verbose {
        inherited_fds(&a.sandbox.preserve_fd)
    } else {
        Vec::new()
    };
    let (flags, signal) = match collect_flags(&a) {
        Ok(f) => f,
        Err(msg) => return report::bad_request(&msg),
    };
    if a.unshare_all {
        return report::bad_request(
            "--unshare-all is bubblewrap's option: here write --new all (every namespace; --share is the opposite: what the child shares with cleave)",
        );
    }
    if let Some(program) = signal_read_as_program(&a) {
        return report::bad_request(&format!(
            "--kill-child takes its signal after `=`: `{program}` was read as the program; write --kill-child={program}"
        ));
    }
    if let Err(msg) = check_values(&a, flags) {
        return report::bad_request(&msg);
    }
    if let Some(Err(msg)) = a.sandbox.name.as_deref().map(crate::registry::check_name) {
        return report::bad_request(&msg);
    }
    // --json-status writes to the descriptor it was given, duplicated: a pipe or socket
    // works, and nothing is reopened by path (which could grant more than the fd had).
    let mut json = match a.sandbox.json_status.map(cleave::fd::dup_writable) {
        Some(Ok(fd)) => Some(std::fs::File::from(fd)),
        Some(Err(e)) => return report::bad_request(&e.named("--json-status")),
        None => None,
    };
    let persist = match persist::Persist::parse(&a.sandbox.persist_ns, flags) {
        Ok(p) => p,
        Err(msg) => return report::bad_request(&msg),
    };
    let forward = Forwarder::block(&FORWARDED);
    let (mut spec, labels) = match spec_from(&a, flags, signal, &positions) {
        Ok(s) => s,
        Err(Refused::Usage(msg)) => return report::bad_request(&msg),
        Err(Refused::Library(e)) => return report::error(&e),
    };
    spec.process.signal_mask = Some(forward.original_mask());
    let mut prepared = match prepare(&spec) {
        Ok(p) => p,
        Err(e) => return report::error_at(&e, &labels),
    };
    if flags.contains(CloneFlags::THREAD) {
        // SAFETY: with --share thread the program becoming cleave's process is the
        // documented behaviour (SPAWN_HELP); cleave has no other thread doing work that
        // the exec could cut short, and nothing it holds outlives it unfinished.
        #[allow(unsafe_code)]
        unsafe {
            prepared.allow_thread_exec();
        }
    }
    if a.sandbox.die_with_parent {
        if let Err(msg) = die_with_parent() {
            return report::bad_request(&msg);
        }
    }
    // The first status line is written while the child waits at its start, so its
    // namespaces are there to be read however short-lived the program is.
    // --persist-ns binds the namespaces at the same point, before the child sets up.
    let mut status_out = match json.as_ref().map(std::fs::File::try_clone) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => return report::bad_request(&format!("--json-status: {e}")),
        None => None,
    };
    let hook: Option<Box<dyn FnMut(i32) -> cleave::Result<()>>> =
        if status_out.is_some() || !persist.is_empty() {
            let persist = persist.clone();
            Some(Box::new(move |pid| {
                if let Some(out) = status_out.as_mut() {
                    let _ = writeln!(out, "{}", status_line(pid));
                }
                persist.bind(pid)
            }))
        } else {
            None
        };

    let mut running = match prepared.spawn_with(hook) {
        Ok(c) => c,
        Err(e) => {
            persist.undo();
            return report::error_at(&e, &labels);
        }
    };
    // The story is told only under -v: built for nobody, its formatting was a cost of every
    // sandbox (issue 13). Said after the "started" line, which comes first for those who read
    // the PID from it.
    if a.verbose {
        tell_story(&a, flags, &mut running, &persist, &inherited);
    }
    let child = running.child();
    // Named: found by `cleave checkpoint --name` until it ends (the entry goes with this
    // function's return, however the sandbox ended).
    let _registered = match a.sandbox.name.as_deref() {
        Some(name) => match crate::registry::register(name, child.id()) {
            Ok(r) => Some(r),
            Err(msg) => {
                let _ = child.signal(libc::SIGKILL);
                let _ = running.wait();
                return report::bad_request(&msg);
            }
        },
        None => None,
    };
    if child.reaper() == Reaper::CallersParent {
        if a.verbose {
            eprintln!("cleave: CLONE_PARENT: cleave's parent reaps pid {}; awaiting its exit through the pidfd", child.id());
        }
        return match child.wait_exit() {
            Ok(()) => 0,
            Err(e) => report::error(&e),
        };
    }
    if let Some(pidfd) = child.pidfd() {
        let same_group = !spec.security.new_session;
        let mut pid1 = Pid1Stop::new(a.sandbox.as_pid_1 && flags.contains(CloneFlags::NEWPID));
        forward.until_exit_each(pidfd, |sig, from_terminal| {
            if !(from_terminal && same_group) {
                let _ = child.signal(sig);
            }
            if pid1.second_stop(sig) {
                let _ = child.signal(libc::SIGKILL);
            }
        });
    }
    if a.verbose && running.child().started_in_root_instead() {
        let cwd = std::env::current_dir().unwrap_or_default();
        eprintln!(
            "cleave: the working directory {} does not exist in the sandbox; the program starts in /",
            cwd.display()
        );
    }
    match running.wait() {
        Ok(status) => {
            if a.verbose {
                eprintln!("cleave: pid {} ended: {status}", running.id());
            }
            if let Some(e) = running.cleanup_error() {
                eprintln!("cleave: warning: {e}");
            }
            if let Some(out) = json.as_mut() {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "exit-code": status.shell_code() })
                );
            }
            status.shell_code()
        }
        Err(e) => report::error(&e),
    }
}

/// A program run as PID 1 of its namespace without a handler for SIGINT or SIGTERM never
/// gets them (the kernel drops such signals to an init): the first is passed on with a
/// note, a second within a few seconds becomes SIGKILL.
struct Pid1Stop {
    active: bool,
    last: Option<std::time::Instant>,
}

impl Pid1Stop {
    const WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

    fn new(active: bool) -> Pid1Stop {
        Pid1Stop { active, last: None }
    }

    /// Whether `sig` is the second stop request within the window (then SIGKILL is due).
    fn second_stop(&mut self, sig: i32) -> bool {
        if !self.active || !matches!(sig, libc::SIGINT | libc::SIGTERM) {
            return false;
        }
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Self::WINDOW)
        {
            eprintln!(
                "cleave: {} again: sending SIGKILL to PID 1",
                signal_name(sig)
            );
            return true;
        }
        self.last = Some(now);
        eprintln!(
            "cleave: {} passed on; PID 1 ignores it unless it has a handler: send it again within {} s to kill it",
            signal_name(sig),
            Self::WINDOW.as_secs()
        );
        false
    }
}

/// The program, when it is a signal name that followed `--kill-child` (whose value needs
/// `=`, as it is optional).
fn signal_read_as_program(a: &SpawnArgs) -> Option<String> {
    a.sandbox.kill_child.as_ref()?;
    let program = a.command.first()?.to_str()?;
    (program.to_ascii_uppercase().starts_with("SIG")
        && cleave::flags::signal_from_name(program).is_some())
    .then(|| program.to_string())
}

/// What `-v` says about the flags: those asked for, and each one cleave used besides,
/// with why.
/// What `-v` says once the child runs: the "started" line, then how its flags came about,
/// what it shares, the namespaces kept bound, the fds closed and the limits' cgroups.
fn tell_story(
    a: &SpawnArgs,
    flags: CloneFlags,
    running: &mut cleave::sandbox::Running,
    persist: &persist::Persist,
    inherited: &[i32],
) {
    let mut story = flag_story(flags, running);
    story.extend(shared_story(a));
    story.extend(persist.story());
    if !inherited.is_empty() {
        let list: Vec<String> = inherited.iter().map(i32::to_string).collect();
        story.push(format!(
            "fd {} from cleave's caller closed in the program: every fd above 2 is, unless kept with --preserve-fd N (unshare would pass them on)",
            list.join(", ")
        ));
    }
    if let Some(set) = running.cgroup() {
        let paths: Vec<String> = set
            .paths()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        story.push(format!(
            "limits in cgroup {} (below cleave's own cgroup where it can be)",
            paths.join(" and ")
        ));
        for note in set.notes() {
            story.push(format!("not below cleave's own cgroup: {note}"));
        }
    }
    let effective = running.flags();
    let child = running.child();
    eprintln!(
        "cleave: started pid {} with {} (exit signal {})",
        child.id(),
        effective,
        match child.exit_signal() {
            0 => "none".to_string(),
            s => signal_name(s),
        }
    );
    for line in story {
        eprintln!("cleave: {line}");
    }
}

fn flag_story(asked: CloneFlags, running: &cleave::sandbox::Running) -> Vec<String> {
    let mut lines = vec![if asked.is_empty() {
        "asked for no flags (a plain fork)".to_string()
    } else {
        format!("asked for {asked}")
    }];
    let mut explained = asked;
    for add in running.additions() {
        lines.push(format!("+{}: {}", add.flags, add.reason));
        explained |= add.flags;
    }
    let setup = running.flags() - explained;
    if !setup.is_empty() {
        lines.push(format!("+{setup}: the sandbox's set-up needs it"));
    }
    let unshared = running.unshared();
    let time = unshared & CloneFlags::NEWTIME;
    if !time.is_empty() {
        lines.push(format!(
            "+{time}: unshared by the child after clone, so that its offsets are written before anything enters it"
        ));
    }
    let after_join = unshared - CloneFlags::NEWTIME;
    if !after_join.is_empty() {
        lines.push(format!(
            "+{after_join}: unshared by the child after it joins the user namespace, so that they belong to it"
        ));
    }
    lines
}

/// The fds above 2 that cleave's caller passed to it (open without close-on-exec), which
/// the program will not get unless kept.
fn inherited_fds(kept: &[i32]) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2 && !kept.contains(&fd))
        .filter(|&fd| {
            // SAFETY: F_GETFD reads a flag of a descriptor number; a closed one (the
            // directory's own, gone by now) gives -1.
            #[allow(unsafe_code)]
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            flags >= 0 && flags & libc::FD_CLOEXEC == 0
        })
        .collect();
    fds.sort_unstable();
    fds
}

/// What `-v` says about each namespace a preset shares with the caller (--share NS), with
/// the guarantee given up (SECURITY.md says the same).
fn shared_story(a: &SpawnArgs) -> Vec<String> {
    let Some(preset) = a.preset.as_deref().map(str::trim) else {
        return Vec::new();
    };
    let shared = shared_namespaces(a) & cleave::sandbox::NAMESPACES;
    Namespace::in_flags(shared)
        .into_iter()
        .map(|ns| {
            let cost = match ns {
                Namespace::Net => "the program uses the host's network: its interfaces, listening ports and abstract unix sockets",
                Namespace::Ipc => "the program reaches the host's System V IPC objects and POSIX message queues, as their permissions allow",
                Namespace::Uts => "the program sees the host's hostname (it cannot change it)",
                Namespace::Pid => "the program sees the host's processes (the host's /proc, bound, with the same parts read-only and hidden) and may signal those running as its own uid outside",
                Namespace::Cgroup => "the program sees the host's cgroup paths",
                Namespace::User => "the program runs as the host's uid and gid, without capabilities: as root, what only root may open (files, unix sockets) is open to it, read-only mounts notwithstanding",
                _ => "",
            };
            format!("--preset {preset} shares the caller's {} namespace (--share {}): {cost}", ns.name(), ns.name())
        })
        .collect()
}

/// Refuses, naming the option, the values of `run`'s own options that the kernel would
/// refuse only after clone: set_tid PIDs, kept descriptors, environment names.
fn check_values(a: &SpawnArgs, flags: CloneFlags) -> Result<(), String> {
    if !a.set_tid.is_empty() {
        // pid_max is a /proc read: only when there is a PID to check against it.
        check_set_tid(
            &a.set_tid,
            flags.contains(CloneFlags::NEWPID),
            cleave::host::pid_max(),
        )
        .map_err(|e| e.named("--set-tid"))?;
    }
    for &fd in &a.sandbox.preserve_fd {
        cleave::fd::check_open(fd).map_err(|e| e.named("--preserve-fd"))?;
    }
    for var in &a.sandbox.unsetenv {
        env::check_name(var).map_err(|e| e.named("--unsetenv"))?;
    }
    for pair in a.sandbox.setenv.chunks(2) {
        env::check_name(&pair[0]).map_err(|e| e.named("--setenv"))?;
        if let Some(value) = pair.get(1) {
            env::check_value(value).map_err(|e| e.named("--setenv"))?;
        }
    }
    Ok(())
}

/// The first --json-status line: the child's pid and the inode of each of its namespaces.
fn status_line(pid: i32) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("child-pid".into(), pid.into());
    for ns in Namespace::ALL {
        if let Ok((_, inode)) = cleave::ns::nsfs_id(&pid.to_string(), ns.proc_name()) {
            obj.insert(format!("{}-namespace", ns.proc_name()), inode.into());
        }
    }
    serde_json::Value::Object(obj).to_string()
}

/// cleave itself dies with its parent (and the sandbox, through its parent-death signal,
/// with cleave).
#[allow(unsafe_code)]
fn die_with_parent() -> Result<(), String> {
    // SAFETY: prctl and getppid on numbers.
    unsafe {
        let before = libc::getppid();
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            return Err(format!(
                "--die-with-parent: prctl(PR_SET_PDEATHSIG): {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::getppid() != before || before == 1 {
            // The parent is already gone: honour the request now.
            libc::raise(libc::SIGKILL);
        }
    }
    Ok(())
}
