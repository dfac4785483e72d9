//! Running a lowered bubblewrap command line: the descriptors it hands over (seccomp
//! programs, status and info fds, a block fd, lock files), then the sandbox, supervised as
//! `cleave spawn` supervises it, with bubblewrap's exit codes (1 for its own failures).
use super::lower::{self, Caller};
use super::parse::Invocation;
use crate::cmd::spawn::Labels;
use crate::report;
use cleave::sandbox::prepare;
use cleave::supervise::{Forwarder, FORWARDED};
use cleave::Namespace;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// bubblewrap's exit code for every failure of its own.
pub const EXIT_FAILED: i32 = 1;

/// Prints one line as bubblewrap would (`bwrap: ...`, with `<3>` first under
/// `--level-prefix`).
pub fn fail(level_prefix: bool, msg: &str) -> i32 {
    let prefix = if level_prefix { "<3>" } else { "" };
    eprintln!("{prefix}bwrap: {msg}");
    EXIT_FAILED
}

pub fn run(inv: Invocation, inherited: &[RawFd]) -> i32 {
    let lp = inv.level_prefix;
    if let Some(msg) = lower::unsupported(&inv) {
        return fail(lp, &msg);
    }
    // An --args fd was read and closed since.
    let inherited: Vec<RawFd> = inherited
        .iter()
        .copied()
        .filter(|&fd| cleave::fd::check_open(fd).is_ok())
        .collect();
    let (mut spec, mount_labels) = match lower::lower(&inv, Caller::this_process(), &inherited) {
        Ok(s) => s,
        Err(msg) => return fail(lp, &msg),
    };
    for (option, fd) in [
        ("--userns", inv.userns),
        ("--pidns", inv.pidns),
        ("--sync-fd", inv.sync_fd),
        ("--block-fd", inv.block_fd),
        ("--userns-block-fd", inv.userns_block_fd),
    ] {
        if let Some(fd) = fd {
            if let Err(e) = cleave::fd::check_open(fd) {
                return fail(lp, &e.named(option));
            }
        }
    }
    // Seccomp programs: each fd's whole content, a classic BPF program.
    for (option, fd) in inv
        .seccomp
        .iter()
        .map(|fd| ("--seccomp", *fd))
        .chain(inv.add_seccomp.iter().map(|fd| ("--add-seccomp-fd", *fd)))
    {
        match read_seccomp(fd) {
            Ok(program) => spec.security.seccomp_filters.push(program),
            Err(msg) => return fail(lp, &format!("{option} {fd}: {msg}")),
        }
    }
    let mut info = match inv.info_fd.map(cleave::fd::dup_writable) {
        Some(Ok(fd)) => Some(File::from(fd)),
        Some(Err(e)) => return fail(lp, &e.named("--info-fd")),
        None => None,
    };
    let mut json = match inv.json_status_fd.map(cleave::fd::dup_writable) {
        Some(Ok(fd)) => Some(File::from(fd)),
        Some(Err(e)) => return fail(lp, &e.named("--json-status-fd")),
        None => None,
    };
    // Lock files and a block fd are taken while the program waits at its start (set up,
    // not yet executed).
    let barrier = if !inv.lock_files.is_empty() || inv.block_fd.is_some() {
        match pipe() {
            Ok(p) => Some(p),
            Err(e) => return fail(lp, &format!("cannot make a pipe: {e}")),
        }
    } else {
        None
    };
    spec.process.start_barrier = barrier.as_ref().map(|(r, _)| r.as_raw_fd());

    let forward = Forwarder::block(&FORWARDED);
    spec.process.signal_mask = Some(forward.original_mask());
    let labels = Labels {
        mounts: mount_labels,
        rootfs: "the sandbox's root".into(),
        uid: inv.uid.map(|u| format!("--uid {u}")),
        gid: inv.gid.map(|g| format!("--gid {g}")),
        chdir: match &inv.chdir {
            Some(d) => format!("--chdir {}", d.display()),
            None => "the working directory".into(),
        },
        ..Labels::default()
    };
    let prepared = match prepare(&spec) {
        Ok(p) => p,
        Err(e) => {
            report::error_at(&e, &labels);
            return EXIT_FAILED;
        }
    };
    if inv.die_with_parent {
        if let Err(msg) = die_with_parent() {
            return fail(lp, &msg);
        }
    }
    // The info fd says one thing and is closed, by the hook, which owns cleave's only copy
    // (the child closes its own before it waits): a reader sees its end before the hook
    // waits on --userns-block-fd for the maps written from outside.
    if let Some(fd) = inv.info_fd {
        // SAFETY: the caller's fd, consumed by --info-fd (not passed to the program); the
        // duplicate in `info` is what is written.
        #[allow(unsafe_code)]
        unsafe {
            libc::close(fd);
        }
    }
    let owned: Vec<RawFd> = info.iter().map(|f| f.as_raw_fd()).collect();
    let json_out = json.as_ref().and_then(|f| f.try_clone().ok());
    let userns_block = inv.userns_block_fd;
    let hook: Option<Box<dyn FnMut(i32) -> cleave::Result<()>>> =
        if info.is_none() && json_out.is_none() {
            None
        } else {
            let mut info = info.take();
            let mut json_out = json_out;
            Some(Box::new(move |pid| {
                let line = status_line(pid);
                for out in info.iter_mut().chain(json_out.iter_mut()) {
                    let _ = writeln!(out, "{line}");
                }
                info.take();
                json_out.take();
                if let Some(fd) = userns_block {
                    read_one(fd);
                }
                Ok(())
            }))
        };
    let mut running = match prepared.spawn_hooked(hook, &owned) {
        Ok(r) => r,
        Err(e) => {
            report::error_at(&e, &labels);
            return EXIT_FAILED;
        }
    };
    if let Some((read_end, write_end)) = barrier {
        drop(read_end);
        let pid = running.id();
        let mut locks = Vec::new();
        for path in &inv.lock_files {
            let taken = cleave::fd::open_in_root_of(pid, path)
                .and_then(|fd| cleave::fd::read_lock(fd.as_fd()).map(|()| fd));
            match taken {
                Ok(fd) => locks.push(fd),
                Err(e) => {
                    let _ = running.child().kill();
                    let _ = running.wait();
                    return fail(
                        lp,
                        &format!("--lock-file {}: cannot lock it: {e}", path.display()),
                    );
                }
            }
        }
        if let Some(fd) = inv.block_fd {
            wait_readable(fd);
        }
        let mut go = File::from(write_end);
        let _ = go.write_all(b"x");
        drop(go);
        // Held until the sandbox ends.
        std::mem::forget(locks);
    }

    let child = running.child();
    if let Some(pidfd) = child.pidfd() {
        let same_group = !inv.new_session;
        forward.until_exit(pidfd, same_group, |sig| {
            let _ = child.signal(sig);
        });
    }
    match running.wait() {
        Ok(status) => {
            if let Some(out) = json.as_mut() {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "exit-code": status.shell_code() })
                );
            }
            status.shell_code()
        }
        Err(e) => {
            report::error(&e);
            EXIT_FAILED
        }
    }
}

/// The whole content of a seccomp fd: a `struct sock_filter` array.
fn read_seccomp(fd: RawFd) -> Result<Vec<u8>, String> {
    cleave::fd::check_open(fd).map_err(|e| e.why)?;
    let dup = cleave::fd::dup_cloexec(fd).map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    File::from(dup)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if data.is_empty() || data.len() % 8 != 0 {
        return Err(format!(
            "{} bytes is not a seccomp program (a whole number of 8-byte BPF instructions)",
            data.len()
        ));
    }
    Ok(data)
}

/// Reads one byte from `fd` (or its end), then closes it, as bubblewrap's
/// --userns-block-fd.
fn read_one(fd: RawFd) {
    let mut byte = [0u8; 1];
    loop {
        // SAFETY: a one-byte buffer, valid for the call.
        #[allow(unsafe_code)]
        let n = unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    // SAFETY: the caller's fd, consumed by --userns-block-fd.
    #[allow(unsafe_code)]
    unsafe {
        libc::close(fd);
    }
}

/// Waits until `fd` has something to read (or its end), as bubblewrap's --block-fd.
fn wait_readable(fd: RawFd) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one pollfd, valid for the call.
        #[allow(unsafe_code)]
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    #[allow(unsafe_code)]
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both were just opened and belong to nothing else.
    #[allow(unsafe_code)]
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The first status line: the child's pid and the inode of each of its namespaces.
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

/// cleave dies with its parent, and the sandbox (through its parent-death signal) with
/// cleave.
fn die_with_parent() -> Result<(), String> {
    // SAFETY: prctl and getppid on numbers.
    #[allow(unsafe_code)]
    unsafe {
        let before = libc::getppid();
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            return Err(format!(
                "--die-with-parent: prctl(PR_SET_PDEATHSIG): {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::getppid() != before || before == 1 {
            libc::raise(libc::SIGKILL);
        }
    }
    Ok(())
}

/// The descriptors this process was started with, above 2 (each passes to the program
/// unless bubblewrap's options consume it).
pub fn inherited_fds() -> Vec<RawFd> {
    let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // The directory's own descriptor was in the listing, and is closed now.
    fds.retain(|&fd| fd > 2 && cleave::fd::check_open(fd).is_ok());
    fds.sort_unstable();
    fds
}
