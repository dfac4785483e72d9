//! `cleave spawn`: run a program in a child created with the flags you choose.
use crate::cli::SpawnArgs;
use crate::report;
use cleave::flags::{parse_flags, signal_name};
use cleave::{CloneFlags, Command, Namespace, Reaper};
use std::os::fd::AsRawFd;

/// Signals cleave passes on to the program.
pub(crate) const FORWARDED: [i32; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

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
    for n in &a.new_ns {
        if n.trim().eq_ignore_ascii_case("all") {
            flags |= CloneFlags::ALL_NAMESPACES;
            continue;
        }
        let ns = Namespace::from_name(n).ok_or_else(|| {
            format!("unknown --new item `{n}`: choose from mount,uts,ipc,net,pid,user,cgroup,time, or all")
        })?;
        flags |= ns.flag();
    }
    if let Some(p) = &a.preset {
        flags |= match p.trim().to_ascii_lowercase().as_str() {
            "fork" => CloneFlags::PRESET_FORK,
            "vfork" => CloneFlags::PRESET_VFORK,
            "linuxthreads" => CloneFlags::PRESET_LINUXTHREADS,
            "nptl" => CloneFlags::PRESET_NPTL,
            other => {
                return Err(format!(
                    "unknown preset `{other}`: choose fork, vfork, linuxthreads or nptl"
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

pub fn run(a: SpawnArgs) -> i32 {
    let (mut flags, signal) = match collect_flags(&a) {
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
        flags |= CloneFlags::INTO_CGROUP;
    }
    // Follow the program through a pidfd: exact waiting and signalling with any exit signal,
    // and the only way to await a CLONE_PARENT child. Legacy clone() cannot combine it with
    // CLONE_PARENT_SETTID, and --unchecked promises the flags untouched.
    let legacy = cleave::raw::clone3_unavailable();
    let pidfd_impossible = legacy && flags.contains(CloneFlags::PARENT_SETTID);
    if !a.unchecked && !pidfd_impossible {
        flags |= CloneFlags::PIDFD;
    }
    cmd.flags(flags).unchecked(a.unchecked);
    if let Some(s) = signal {
        cmd.exit_signal(Some(s));
    }
    if !a.set_tid.is_empty() {
        cmd.set_tid(&a.set_tid);
    }
    if let Some(h) = &a.hostname {
        cmd.hostname(h);
    }
    if let Some(d) = &a.domainname {
        cmd.domainname(d);
    }
    if let Some(d) = &a.chdir {
        cmd.current_dir(d);
    }

    let forward = signals::Forwarder::block(&FORWARDED);
    cmd.signal_mask(forward.original_mask());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return report::error(&e),
    };
    if a.verbose {
        eprintln!(
            "cleave: started pid {} with {} (exit signal {})",
            child.id(),
            cmd.effective_flags(),
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
        forward.until_exit(pidfd.as_raw_fd(), |sig| {
            let _ = child.signal(sig);
        });
    }
    match child.wait() {
        Ok(status) => {
            if a.verbose {
                eprintln!("cleave: pid {} ended: {status}", child.id());
            }
            status.shell_code()
        }
        Err(e) => report::error(&e),
    }
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

        /// Forwards signals until the pidfd says the program has ended.
        pub fn until_exit(&self, pidfd: i32, mut send: impl FnMut(i32)) {
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
                    if got == size as isize {
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
