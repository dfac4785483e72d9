//! `cleave spawn`: run a program in a child created with the flags you choose.
use crate::cli::{SandboxArgs, SpawnArgs};
use crate::report;
use clap::ArgMatches;
use cleave::caps::{self, Rlimit};
use cleave::cgroup::{self, Limits};
use cleave::env;
use cleave::flags::{check_set_tid, parse_flags, signal_name};
use cleave::idmap::{IdMap, IdMapping};
use cleave::mount::MountOp;
use cleave::ns::{time, uts};
use cleave::sandbox::Sandbox;
use cleave::{CloneFlags, Command, Namespace, Reaper};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Signals cleave passes on to the program.
pub(crate) const FORWARDED: [i32; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// The namespaces of `--preset sandbox` and `--preset container`.
const SANDBOX_NAMESPACES: CloneFlags = CloneFlags::NEWUSER
    .union(CloneFlags::NEWPID)
    .union(CloneFlags::NEWNS)
    .union(CloneFlags::NEWUTS)
    .union(CloneFlags::NEWIPC)
    .union(CloneFlags::NEWNET)
    .union(CloneFlags::NEWCGROUP);

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
            other => {
                return Err(format!(
                "unknown --share item `{other}`: choose from vm,files,fs,sighand,sysvsem,io,thread"
            ))
            }
        };
    }
    match super::parse_namespaces(&a.new_ns, "--new")? {
        None => flags |= CloneFlags::ALL_NAMESPACES,
        Some(list) => flags |= list.iter().fold(CloneFlags::empty(), |f, ns| f | ns.flag()),
    }
    if let Some(p) = &a.preset {
        flags |= match p.trim().to_ascii_lowercase().as_str() {
            "fork" => CloneFlags::PRESET_FORK,
            "vfork" => CloneFlags::PRESET_VFORK,
            "linuxthreads" => CloneFlags::PRESET_LINUXTHREADS,
            "nptl" => CloneFlags::PRESET_NPTL,
            "sandbox" | "container" => SANDBOX_NAMESPACES,
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
    Ok((flags, signal))
}

pub fn run(a: SpawnArgs, matches: Option<&ArgMatches>) -> i32 {
    let (flags, signal) = match collect_flags(&a) {
        Ok(f) => f,
        Err(msg) => return report::bad_request(&msg),
    };
    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    if let Some(dir) = &a.into_cgroup {
        match std::fs::File::open(dir) {
            Ok(f) => {
                if let Err(e) = cmd.into_cgroup(&f) {
                    return report::bad_request(&format!("--into-cgroup {}: {e}", dir.display()));
                }
            }
            Err(e) => {
                return report::bad_request(&format!(
                    "--into-cgroup {}: {e}; give a directory of a cgroup2 hierarchy",
                    dir.display()
                ))
            }
        }
    }
    // The library follows the program through a pidfd wherever the kernel allows it (and
    // adds nothing under --unchecked, which promises the flags untouched).
    cmd.flags(flags).unchecked(a.unchecked);
    if flags.contains(CloneFlags::THREAD) {
        // SAFETY: with --share thread the program becoming cleave's process is the
        // documented behaviour (SPAWN_HELP); cleave has no other thread doing work that
        // the exec could cut short, and nothing it holds outlives it unfinished.
        #[allow(unsafe_code)]
        unsafe {
            cmd.allow_thread_exec();
        }
    }
    if let Some(s) = signal {
        cmd.exit_signal(Some(s));
    }
    if let Err(msg) = check_values(&a, flags) {
        return report::bad_request(&msg);
    }
    if !a.set_tid.is_empty() {
        cmd.set_tid(&a.set_tid);
    }
    for &fd in &a.sandbox.preserve_fd {
        cmd.keep_fd(fd);
    }
    if a.sandbox.clearenv {
        cmd.env_clear();
    }
    for var in &a.sandbox.unsetenv {
        cmd.env_remove(var);
    }
    for pair in a.sandbox.setenv.chunks(2) {
        if let [var, value] = pair {
            cmd.env(var, value);
        }
    }
    // --json-status writes to the descriptor it was given, duplicated: a pipe or socket
    // works, and nothing is reopened by path (which could grant more than the fd had).
    let mut json = match a.sandbox.json_status.map(cleave::fd::dup_writable) {
        Some(Ok(fd)) => Some(std::fs::File::from(fd)),
        Some(Err(e)) => return report::bad_request(&e.named("--json-status")),
        None => None,
    };
    if let Some(name) = &a.sandbox.argv0 {
        cmd.arg0(name);
    }
    let mut sandbox = match sandbox_from(&a, cmd, matches) {
        Ok(s) => s,
        Err(e) => return report::error(&e),
    };
    if a.sandbox.die_with_parent {
        if let Err(msg) = die_with_parent() {
            return report::bad_request(&msg);
        }
    }
    // The first status line is written while the child waits at its start, so its
    // namespaces are there to be read however short-lived the program is.
    if let Some(out) = &json {
        let mut out = match out.try_clone() {
            Ok(f) => f,
            Err(e) => return report::bad_request(&format!("--json-status: {e}")),
        };
        sandbox.on_clone(move |pid| {
            let _ = writeln!(out, "{}", status_line(pid));
            Ok(())
        });
    }

    let forward = signals::Forwarder::block(&FORWARDED);
    sandbox.command().signal_mask(forward.original_mask());
    let mut running = match sandbox.spawn() {
        Ok(c) => c,
        Err(e) => return report::error(&e),
    };
    let child = running.child();
    if a.verbose {
        eprintln!(
            "cleave: started pid {} with {} (exit signal {})",
            child.id(),
            sandbox.command().effective_flags(),
            match child.exit_signal() {
                0 => "none".to_string(),
                s => signal_name(s),
            }
        );
    }
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
        forward.until_exit(pidfd.as_raw_fd(), !a.sandbox.new_session, |sig| {
            let _ = child.signal(sig);
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

/// Refuses, naming the option, the values of `run`'s own options that the kernel would
/// refuse only after clone: set_tid PIDs, kept descriptors, environment names.
fn check_values(a: &SpawnArgs, flags: CloneFlags) -> Result<(), String> {
    let local = if flags.contains(CloneFlags::NEWPID) {
        2
    } else {
        1
    };
    check_set_tid(&a.set_tid, local, cleave::flags::rules::pid_max())
        .map_err(|e| e.named("--set-tid"))?;
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
        if let Ok((_, inode)) = cleave::flags::nsfs_id(&pid.to_string(), ns.proc_name()) {
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

fn bad(what: String) -> cleave::Error {
    cleave::Error::InvalidArgument { what }
}

/// The mount options in command-line order.
fn mount_ops(s: &SandboxArgs, matches: Option<&ArgMatches>) -> Vec<MountOp> {
    let lists: [(&str, &Vec<PathBuf>, usize); 12] = [
        ("bind", &s.bind, 2),
        ("ro_bind", &s.ro_bind, 2),
        ("dev_bind", &s.dev_bind, 2),
        ("bind_try", &s.bind_try, 2),
        ("ro_bind_try", &s.ro_bind_try, 2),
        ("dev_bind_try", &s.dev_bind_try, 2),
        ("tmpfs", &s.tmpfs, 1),
        ("proc", &s.proc, 1),
        ("dev", &s.dev, 1),
        ("dir", &s.dir, 1),
        ("symlink", &s.symlink, 2),
        ("remount_ro", &s.remount_ro, 1),
    ];
    let mut ordered: Vec<(usize, MountOp)> = Vec::new();
    for (id, values, arity) in lists {
        let indices: Vec<usize> = matches
            .and_then(|m| m.indices_of(id))
            .map(|i| i.collect())
            .unwrap_or_else(|| (0..values.len()).map(|i| i + 1000).collect());
        for (n, chunk) in values.chunks(arity).enumerate() {
            let at = indices.get(n * arity).copied().unwrap_or(usize::MAX);
            let one = || chunk[0].clone();
            let two = || chunk.get(1).cloned().unwrap_or_default();
            // The -try forms (bubblewrap's) skip a source that does not exist.
            let (id, optional) = match id.strip_suffix("_try") {
                Some(base) => (base, true),
                None => (id, false),
            };
            if optional && std::fs::symlink_metadata(&chunk[0]).is_err() {
                continue;
            }
            let op = match id {
                "bind" => MountOp::Bind {
                    src: one(),
                    dst: two(),
                },
                "ro_bind" => MountOp::RoBind {
                    src: one(),
                    dst: two(),
                },
                "dev_bind" => MountOp::DevBind {
                    src: one(),
                    dst: two(),
                },
                "tmpfs" => MountOp::Tmpfs { dst: one() },
                "proc" => MountOp::Proc { dst: one() },
                "dev" => MountOp::Dev { dst: one() },
                "dir" => MountOp::Dir { dst: one() },
                "symlink" => MountOp::Symlink {
                    target: one(),
                    dst: two(),
                },
                _ => MountOp::RemountRo { dst: one() },
            };
            ordered.push((at, op));
        }
    }
    ordered.sort_by_key(|(at, _)| *at);
    ordered.into_iter().map(|(_, op)| op).collect()
}

/// Turns the sandbox options into a [`Sandbox`] around `cmd`.
fn sandbox_from(
    a: &SpawnArgs,
    cmd: Command,
    matches: Option<&ArgMatches>,
) -> cleave::Result<Sandbox> {
    let s = &a.sandbox;
    let preset = a.preset.as_deref().map(|p| p.trim().to_ascii_lowercase());
    let preset = preset.as_deref();
    if preset == Some("container") && s.rootfs.is_none() {
        return Err(bad(
            "--preset container needs --rootfs DIR (scripts/mkrootfs.sh DIR builds a busybox one)"
                .into(),
        ));
    }
    let mut sb = Sandbox::new(cmd);

    let picked = [
        s.map_root,
        s.map_current,
        s.map_auto,
        !s.map_user.is_empty() || !s.map_group.is_empty(),
    ];
    if picked.iter().filter(|&&p| p).count() > 1 {
        return Err(bad(
            "choose one of --map-root, --map-current, --map-auto and --map-user/--map-group".into(),
        ));
    }
    let parse_maps = |v: &[String], option: &str| {
        v.iter()
            .map(|m| {
                m.parse::<IdMap>().map_err(|e| match e {
                    cleave::Error::InvalidArgument { what } => bad(format!("{option}: {what}")),
                    other => other,
                })
            })
            .collect::<cleave::Result<Vec<_>>>()
    };
    let mapping = if s.map_current {
        IdMapping::Current
    } else if s.map_auto {
        IdMapping::Auto
    } else if !s.map_user.is_empty() || !s.map_group.is_empty() {
        IdMapping::Custom {
            users: parse_maps(&s.map_user, "--map-user")?,
            groups: parse_maps(&s.map_group, "--map-group")?,
        }
    } else {
        IdMapping::Root
    };
    sb.id_mapping(mapping);
    match s.setgroups.as_deref() {
        None => {}
        Some("allow") => {
            sb.setgroups(true);
        }
        Some("deny") => {
            sb.setgroups(false);
        }
        Some(other) => return Err(bad(format!("--setgroups {other}: choose allow or deny"))),
    }
    if let Some(u) = s.uid {
        sb.uid(u);
    }
    if let Some(g) = s.gid {
        sb.gid(g);
    }
    if let Some(h) = &s.hostname {
        uts::check_hostname(h.as_ref()).map_err(|e| bad(e.named("--hostname")))?;
        sb.hostname(h);
    }
    if let Some(d) = &s.domainname {
        uts::check_domainname(d.as_ref()).map_err(|e| bad(e.named("--domainname")))?;
        sb.domainname(d);
    }
    sb.as_pid1(s.as_pid_1).mount_proc(s.mount_proc);
    if let Some(m) = s.monotonic {
        time::check_offsets(Some(m), None).map_err(|e| bad(e.named("--monotonic")))?;
        sb.monotonic_offset(m);
    }
    if let Some(b) = s.boottime {
        time::check_offsets(None, Some(b)).map_err(|e| bad(e.named("--boottime")))?;
        sb.boottime_offset(b);
    }

    let sandbox_mode = matches!(preset, Some("sandbox") | Some("container")) || s.rootfs.is_some();
    if let Some(r) = &s.rootfs {
        sb.rootfs(r);
    }
    match preset {
        Some("sandbox") => {
            sb.mount(MountOp::RemountRo { dst: "/".into() });
            for op in standard_mounts() {
                sb.mount(op);
            }
        }
        Some("container") => {
            for op in standard_mounts() {
                sb.mount(op);
            }
        }
        _ => {}
    }
    for op in mount_ops(s, matches) {
        sb.mount(op);
    }
    sb.propagation(s.propagation.parse()?);
    if let Some(d) = &s.chdir {
        sb.chdir(d);
    }
    for r in &s.rlimit {
        sb.rlimit(r.parse::<Rlimit>()?);
    }
    let memory = match s.memory.as_deref() {
        Some(text) => {
            let bytes = cgroup::parse_size(text).map_err(|e| match e {
                cleave::Error::InvalidArgument { what } => bad(format!("--memory: {what}")),
                other => other,
            })?;
            cgroup::check_memory(bytes).map_err(|e| bad(format!("--memory {text}: {}", e.why)))?;
            Some(bytes)
        }
        None => None,
    };
    if let Some(c) = s.cpus {
        cgroup::check_cpus(c).map_err(|e| bad(e.named("--cpus")))?;
    }
    let limits = Limits {
        memory,
        cpus: s.cpus,
        cpu_weight: s.cpu_weight,
        pids: s.pids,
    };
    if let Some(w) = s.cpu_weight {
        if !(1..=10000).contains(&w) {
            return Err(bad(format!(
                "--cpu-weight {w}: give a weight from 1 to 10000 (100 is the default share)"
            )));
        }
    }
    sb.limits(limits);
    if let Some(p) = &s.cgroup_parent {
        sb.cgroup_parent(p);
    }

    // Capabilities: a sandbox starts from none, anything else from all it would get.
    if sandbox_mode || !s.cap_add.is_empty() || !s.cap_drop.is_empty() {
        let mut keep = if sandbox_mode { 0 } else { caps::ALL };
        for c in &s.cap_drop {
            keep &= !caps::parse_cap(c)?;
        }
        let mut added = 0;
        for c in &s.cap_add {
            added |= caps::parse_cap(c)?;
        }
        sb.keep_capabilities(Some(keep | added))
            .ambient_capabilities(added);
    }
    if sandbox_mode {
        sb.no_new_privs(true);
    }
    // A preset's program gets no way back to the caller's terminal: a new session, or,
    // when it must keep the terminal, a filter against TIOCSTI. Its session keyring is new.
    let preset_mode = matches!(preset, Some("sandbox") | Some("container"));
    sb.new_session(s.new_session || (preset_mode && !s.same_session))
        .block_tty_injection(sandbox_mode && !(s.new_session || (preset_mode && !s.same_session)))
        .new_session_keyring(preset_mode);
    let death = if s.die_with_parent {
        Some(libc::SIGKILL)
    } else if let Some(sig) = &s.kill_child {
        match super::parse_exit_signal(sig) {
            Ok(0) | Err(_) => {
                return Err(bad(format!(
                    "--kill-child={sig}: give a signal name such as SIGTERM or a number"
                )))
            }
            Ok(n) => Some(n),
        }
    } else {
        None
    };
    sb.parent_death_signal(death);
    Ok(sb)
}

/// /proc, a minimal /dev, a tmpfs /tmp and /sys/firmware hidden: what every sandbox preset
/// mounts.
fn standard_mounts() -> [MountOp; 4] {
    [
        MountOp::Proc {
            dst: "/proc".into(),
        },
        MountOp::Dev { dst: "/dev".into() },
        MountOp::Tmpfs { dst: "/tmp".into() },
        MountOp::Mask {
            dst: "/sys/firmware".into(),
        },
    ]
}

/// Blocking and forwarding signals with a signalfd.
#[allow(unsafe_code)]
pub(crate) mod signals {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    pub struct Forwarder {
        original: libc::sigset_t,
        fd: Option<OwnedFd>,
    }

    fn mask_bits(set: &libc::sigset_t) -> u64 {
        let mut bits = 0u64;
        for sig in 1..=64 {
            // SAFETY: `set` is an initialised sigset_t.
            if unsafe { libc::sigismember(set, sig) } == 1 {
                bits |= 1 << (sig - 1);
            }
        }
        bits
    }

    impl Forwarder {
        /// Blocks `signals` so that they queue for forwarding instead of ending cleave.
        pub fn block(signals: &[i32]) -> Forwarder {
            // SAFETY: sigset_t values are initialised by sigemptyset before use; the
            // signalfd is owned right after creation.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                let mut original: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                for &s in signals {
                    libc::sigaddset(&mut set, s);
                }
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut original);
                let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
                Forwarder {
                    original,
                    fd: (fd >= 0).then(|| OwnedFd::from_raw_fd(fd)),
                }
            }
        }

        /// The mask cleave had before blocking, for the program to start with.
        pub fn original_mask(&self) -> u64 {
            mask_bits(&self.original)
        }

        /// Forwards signals until the pidfd says the program has ended. A signal a terminal
        /// sent to the whole foreground process group (si_code SI_KERNEL) already reached a
        /// program in that group: it is passed on only when `same_group` is false.
        pub fn until_exit(&self, pidfd: i32, same_group: bool, mut send: impl FnMut(i32)) {
            let Some(sfd) = &self.fd else { return };
            loop {
                let mut fds = [
                    libc::pollfd {
                        fd: pidfd,
                        events: libc::POLLIN,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: sfd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                // SAFETY: two valid pollfds.
                let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
                if n < 0 {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                        continue;
                    }
                    return;
                }
                if fds[1].revents & libc::POLLIN != 0 {
                    // SAFETY: zeroed signalfd_siginfo is valid to read into.
                    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
                    let size = std::mem::size_of::<libc::signalfd_siginfo>();
                    // SAFETY: `info` is writable for `size` bytes.
                    let got = unsafe {
                        libc::read(
                            sfd.as_raw_fd(),
                            (&mut info as *mut libc::signalfd_siginfo).cast(),
                            size,
                        )
                    };
                    let from_terminal = info.ssi_code == libc::SI_KERNEL;
                    if got == size as isize && !(from_terminal && same_group) {
                        send(info.ssi_signo as i32);
                    }
                }
                if fds[0].revents != 0 {
                    return;
                }
            }
        }
    }
}
