//! The attacker inside the sandbox, for tests/escape.rs: `escape_probe ATTACK [ARG...]` tries
//! one way out and prints one line, `closed: <why>` when every attempt failed or
//! `OPEN: <what worked>` when one succeeded. It is run as the sandboxed program (so it has
//! the program's namespaces, identity and capabilities) and, for `race-exchange`, on the host
//! as the unprivileged owner of a hostile rootfs.
//!
//! Two modes are not attacks from inside but pieces of one: `fake-drop-filter` installs a
//! seccomp filter that fakes the calls that give up privileges, prints `ready:` and sleeps,
//! for a test that then enters it with `cleave enter`; `connect PATH` connects to a unix
//! socket (`closed:` names the error).
//!
//! Attempts never change anything outside when they can avoid it: a write that could reach
//! the host writes back the value just read, a device or file opened for writing is closed
//! unwritten, and a ptrace attach is detached at once.
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(attack) = args.first() else {
        eprintln!("usage: escape_probe ATTACK [ARG...]");
        std::process::exit(2);
    };
    let rest = &args[1..];
    let verdict = match attack.as_str() {
        "proc-sys-write" => proc_sys_write(),
        "proc-readonly" => proc_readonly(),
        "proc-masked" => proc_masked(),
        "ptrace-others" => ptrace_others(),
        "others-fds" => others_fds(),
        "others-root" => others_root(),
        "fds" => fds(rest),
        "exe-write" => exe_write(),
        "sys-write" => sys_write(),
        "cgroup-write" => cgroup_write(),
        "remount-rw" => remount_rw(rest),
        "umount" => umount(rest),
        "mknod" => mknod(),
        "setuid" => setuid(),
        "abstract" => abstract_socket(&rest[0]),
        "tiocsti" => tiocsti(),
        "tiocsetd" => tiocsetd(),
        "keyring" => keyring(&rest[0], &rest[1]),
        "devices" => devices(),
        "race-exchange" => race_exchange(&rest[0], &rest[1]),
        "fake-drop-filter" => fake_drop_filter(),
        "connect" => connect(&rest[0]),
        other => {
            eprintln!("escape_probe: unknown attack `{other}`");
            std::process::exit(2);
        }
    };
    match verdict {
        Ok(why) => println!("closed: {why}"),
        Err(what) => println!("OPEN: {what}"),
    }
}

/// Ok(reason) when the door held, Err(what happened) when it did not.
type Verdict = Result<String, String>;

fn cstr(p: impl AsRef<Path>) -> CString {
    CString::new(p.as_ref().as_os_str().as_bytes()).expect("path without NUL")
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// open(2) with raw flags; the fd or the error.
fn open(path: impl AsRef<Path>, flags: i32) -> std::io::Result<i32> {
    let p = cstr(path);
    // SAFETY: a NUL-terminated path and plain flags; the mode is ignored without O_CREAT.
    let fd = unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd)
    }
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this probe opened.
    unsafe { libc::close(fd) };
}

/// Every PID visible in /proc other than this process.
fn other_pids() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids: Vec<i32> = fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.retain(|&p| p != me);
    pids.sort();
    pids
}

fn verdict(open: Vec<String>, tried: usize, what: &str) -> Verdict {
    if open.is_empty() {
        Ok(format!("{what} ({tried}) refused"))
    } else {
        Err(open.join("; "))
    }
}

/// Door 1: the host-wide sysctl that runs a program as host root, and the sysrq trigger.
fn proc_sys_write() -> Verdict {
    let mut open_doors = Vec::new();
    let path = "/proc/sys/kernel/core_pattern";
    let before = fs::read(path).unwrap_or_default();
    match open(path, libc::O_WRONLY) {
        Err(e) => {
            let _ = e;
        }
        Ok(fd) => {
            // Write back what is there: a success proves the door without moving the host.
            // SAFETY: a buffer of `before.len()` bytes on an fd we own.
            let n = unsafe { libc::write(fd, before.as_ptr().cast(), before.len()) };
            close(fd);
            if n >= 0 {
                open_doors.push(format!("{path} written ({n} bytes)"));
            } else {
                open_doors.push(format!("{path} opened for writing (write: {})", errno()));
            }
        }
    }
    if let Ok(fd) = open("/proc/sysrq-trigger", libc::O_WRONLY) {
        close(fd);
        open_doors.push("/proc/sysrq-trigger opened for writing".into());
    }
    verdict(open_doors, 2, "writes to core_pattern and sysrq-trigger")
}

/// Door 1: the procfs paths runc makes read-only must be on read-only mounts.
fn proc_readonly() -> Verdict {
    let mut open_doors = Vec::new();
    let mut tried = 0;
    for p in [
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/irq",
        "/proc/bus",
        "/proc/fs",
    ] {
        if !Path::new(p).exists() {
            continue;
        }
        tried += 1;
        let c = cstr(p);
        // SAFETY: statvfs into a zeroed struct of the right type.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a valid out pointer.
        let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
        if r == 0 && st.f_flag & libc::ST_RDONLY == 0 {
            open_doors.push(format!("{p} is on a writable mount"));
        }
    }
    verdict(open_doors, tried, "procfs paths on writable mounts")
}

/// Door 1: masked paths read empty (or cannot be read at all).
fn proc_masked() -> Verdict {
    let mut open_doors = Vec::new();
    let mut seen = Vec::new();
    for p in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
        "/proc/scsi",
        "/proc/acpi",
        "/sys/firmware",
    ] {
        let path = Path::new(p);
        if path.is_dir() {
            if let Ok(d) = fs::read_dir(path) {
                seen.push(p);
                let n = d.count();
                if n > 0 {
                    open_doors.push(format!("{p} lists {n} entries"));
                }
            }
        } else if let Ok(fd) = open(path, libc::O_RDONLY) {
            seen.push(p);
            let mut buf = [0u8; 256];
            // SAFETY: reading into a local buffer of its own length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            close(fd);
            if n > 0 {
                open_doors.push(format!("{p} reads {n}+ bytes"));
            }
        }
    }
    verdict(
        open_doors,
        seen.len(),
        &format!("data from the masked paths present {seen:?}"),
    )
}

/// One writable byte's address in PID, from its maps (None when the maps are unreadable).
fn some_address(pid: i32) -> Option<usize> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines()
        .find(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|p| p.starts_with("rw"))
        })
        .and_then(|l| usize::from_str_radix(l.split('-').next()?, 16).ok())
}

/// Door 2: /proc/PID/mem for writing, process_vm_writev and PTRACE_ATTACH against every
/// other process this program can see (the sandbox's init first).
fn ptrace_others() -> Verdict {
    let pids = other_pids();
    let mut open_doors = Vec::new();
    for &pid in &pids {
        if let Ok(fd) = open(format!("/proc/{pid}/mem"), libc::O_RDWR) {
            close(fd);
            open_doors.push(format!("/proc/{pid}/mem opened read-write"));
        }
        // Read one byte and write the same byte back: a success is write access.
        let addr = some_address(pid).unwrap_or(1);
        let mut byte = [0u8; 1];
        let local = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: 1,
        };
        // SAFETY: one local iovec over `byte`, one remote iovec; the kernel checks access.
        let r = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        // SAFETY: as above, writing back the byte just read.
        let w = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
        let werr = errno();
        if w == 1 {
            open_doors.push(format!("process_vm_writev into pid {pid} (read {r})"));
        } else if werr.raw_os_error() == Some(libc::EFAULT) {
            // Past the permission check: only the address was wrong.
            open_doors.push(format!("process_vm_writev into pid {pid} allowed (EFAULT)"));
        }
        // SAFETY: PTRACE_ATTACH on a pid; the null pointers are unused by this request.
        let a = unsafe {
            libc::ptrace(
                libc::PTRACE_ATTACH,
                pid,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        if a == 0 {
            let mut status = 0;
            // SAFETY: waiting for the attach stop of the tracee, then detaching it.
            unsafe {
                libc::waitpid(pid, &mut status, libc::__WALL);
                libc::ptrace(
                    libc::PTRACE_DETACH,
                    pid,
                    std::ptr::null_mut::<libc::c_void>(),
                    std::ptr::null_mut::<libc::c_void>(),
                );
            }
            open_doors.push(format!("PTRACE_ATTACH to pid {pid}"));
        }
    }
    verdict(
        open_doors,
        pids.len(),
        &format!("mem, process_vm_writev and PTRACE_ATTACH on pids {pids:?}"),
    )
}

/// Descriptors held by the other processes (the init) must not be reachable through
/// /proc/PID/fd: a directory or file of the host's held there is a way out.
fn others_fds() -> Verdict {
    let pids = other_pids();
    let mut open_doors = Vec::new();
    for &pid in &pids {
        let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for e in dir.flatten() {
            let name = e.file_name();
            let Ok(n) = name.to_string_lossy().parse::<i32>() else {
                continue;
            };
            if n <= 2 {
                continue;
            }
            let target = fs::read_link(e.path()).unwrap_or_default();
            if let Ok(fd) = open(e.path(), libc::O_RDONLY) {
                close(fd);
                open_doors.push(format!("pid {pid} fd {n} ({}) opened", target.display()));
            }
        }
    }
    verdict(
        open_doors,
        pids.len(),
        "processes' descriptors above 2: reopening",
    )
}

/// Another process's root or cwd outside this sandbox's root is a way out: walking up from
/// it with ".." ends at a directory other than our "/" only when it lies outside our tree.
fn others_root() -> Verdict {
    use std::os::unix::fs::MetadataExt;
    let pids = other_pids();
    let id = |p: &str| fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let mine = id("/");
    let mut open_doors = Vec::new();
    for &pid in &pids {
        for link in ["root", "cwd"] {
            let top = format!("/proc/{pid}/{link}/{}", "../".repeat(64));
            if let Some(found) = id(&top) {
                if Some(found) != mine {
                    let entries = fs::read_dir(&top).map(|d| d.count()).unwrap_or(0);
                    open_doors.push(format!(
                        "/proc/{pid}/{link} leads to another root ({entries} entries listed there)"
                    ));
                }
            }
        }
    }
    verdict(open_doors, pids.len(), "processes' root and cwd: leaving")
}

/// Only 0-2 and the fds named as arguments may be open in the program.
fn fds(allowed: &[String]) -> Verdict {
    let allowed: Vec<i32> = [0, 1, 2]
        .into_iter()
        .chain(allowed.iter().map(|a| a.parse().expect("fd number")))
        .collect();
    // Listing opens a descriptor of its own: leave out the one that points at the list.
    let here = format!("/proc/{}/fd", std::process::id());
    let mut open_fds = Vec::new();
    for e in fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .flatten()
    {
        let Ok(n) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let target = fs::read_link(e.path()).unwrap_or_default();
        if target.as_os_str() == here.as_str() {
            continue;
        }
        open_fds.push((n, target));
    }
    open_fds.sort();
    let extra: Vec<String> = open_fds
        .iter()
        .filter(|(n, _)| !allowed.contains(n))
        .map(|(n, t)| format!("fd {n} -> {}", t.display()))
        .collect();
    let list: Vec<i32> = open_fds.iter().map(|(n, _)| *n).collect();
    if extra.is_empty() {
        Ok(format!("fds {list:?}"))
    } else {
        Err(format!("leaked: {}", extra.join(", ")))
    }
}

/// /proc/self/exe and every other process's exe (the init's is cleave's own binary on the
/// host) must not open for writing, directly or by reopening an O_PATH descriptor.
fn exe_write() -> Verdict {
    let mut open_doors = Vec::new();
    let mut targets = vec!["/proc/self/exe".to_string()];
    targets.extend(other_pids().iter().map(|p| format!("/proc/{p}/exe")));
    for t in &targets {
        if let Ok(fd) = open(t, libc::O_WRONLY) {
            close(fd);
            open_doors.push(format!("{t} opened for writing"));
        }
        if let Ok(pfd) = open(t, libc::O_PATH) {
            if let Ok(fd) = open(format!("/proc/self/fd/{pfd}"), libc::O_WRONLY) {
                close(fd);
                open_doors.push(format!("{t} reopened for writing through O_PATH"));
            }
            close(pfd);
        }
    }
    verdict(open_doors, targets.len(), "opening executables for writing")
}

/// Writable sysfs files that reach the host's kernel (opened, never written).
fn sys_write() -> Verdict {
    let mut open_doors = Vec::new();
    let candidates = [
        "/sys/kernel/uevent_helper",
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "/sys/power/state",
        "/sys/kernel/profiling",
        "/sys/class/net/lo/mtu",
        "/sys/module/printk/parameters/time",
    ];
    let mut tried = 0;
    for p in candidates {
        if !Path::new(p).exists() {
            continue;
        }
        tried += 1;
        if let Ok(fd) = open(p, libc::O_WRONLY) {
            close(fd);
            open_doors.push(format!("{p} opened for writing"));
        }
    }
    // A directory made in /sys counts only where /sys is a sysfs (a rootfs's own empty /sys
    // is the rootfs's business).
    let dir = Path::new("/sys/cleave-escape-probe");
    if is_fs("/sys", 0x6265_6572) && fs::create_dir(dir).is_ok() {
        let _ = fs::remove_dir(dir);
        open_doors.push("mkdir in /sys".into());
    }
    verdict(open_doors, tried, "opening sysfs files for writing")
}

/// Whether PATH is on a filesystem with this statfs magic.
fn is_fs(path: &str, magic: i64) -> bool {
    let c = cstr(path);
    // SAFETY: statfs into a zeroed struct of the right type.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid out pointer.
    unsafe { libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == magic }
}

/// Cgroup files (release_agent, cgroup.procs, limits) and new cgroups under /sys/fs/cgroup.
fn cgroup_write() -> Verdict {
    let mut open_doors = Vec::new();
    let mut dirs = vec![Path::new("/sys/fs/cgroup").to_path_buf()];
    if let Ok(d) = fs::read_dir("/sys/fs/cgroup") {
        dirs.extend(
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !p.is_symlink()),
        );
    }
    let mut tried = 0;
    for dir in &dirs {
        for f in [
            "release_agent",
            "notify_on_release",
            "cgroup.procs",
            "cgroup.subtree_control",
            "memory.max",
            "pids.max",
            "memory.limit_in_bytes",
        ] {
            let p = dir.join(f);
            if !p.exists() {
                continue;
            }
            tried += 1;
            if let Ok(fd) = open(&p, libc::O_WRONLY) {
                close(fd);
                open_doors.push(format!("{} opened for writing", p.display()));
            }
        }
        let new = dir.join("cleave-escape-probe");
        if fs::create_dir(&new).is_ok() {
            let _ = fs::remove_dir(&new);
            open_doors.push(format!("created cgroup {}", new.display()));
        }
    }
    verdict(open_doors, tried, "opening cgroup files for writing")
}

/// Makes each read-only PATH writable again (remount, bind remount, mount_setattr) and
/// then tries to create PATH/cleave-escape-probe (left there for the test to find).
fn remount_rw(paths: &[String]) -> Verdict {
    let mut open_doors = Vec::new();
    for p in paths {
        let c = cstr(p);
        for (flags, how) in [
            (libc::MS_REMOUNT | libc::MS_BIND, "mount -o remount,bind,rw"),
            (libc::MS_REMOUNT, "mount -o remount,rw"),
        ] {
            // SAFETY: mount(2) with a NUL-terminated target and null source/type/data.
            let r = unsafe {
                libc::mount(
                    std::ptr::null(),
                    c.as_ptr(),
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                )
            };
            if r == 0 {
                open_doors.push(format!("{how} {p}"));
            }
        }
        // mount_setattr(2): clear MOUNT_ATTR_RDONLY (struct mount_attr: set, clr, propagation,
        // userns_fd).
        let attr: [u64; 4] = [0, 1, 0, 0];
        // SAFETY: the syscall reads `attr` (32 bytes, its declared size) and the path.
        let r = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                c.as_ptr(),
                0,
                attr.as_ptr(),
                std::mem::size_of_val(&attr),
            )
        };
        if r == 0 {
            open_doors.push(format!("mount_setattr cleared rdonly on {p}"));
        }
        let marker = Path::new(p).join("cleave-escape-probe");
        if fs::write(&marker, b"x").is_ok() {
            open_doors.push(format!("wrote {}", marker.display()));
        }
    }
    verdict(open_doors, paths.len(), "making read-only mounts writable")
}

/// umount2(MNT_DETACH) of each PATH must fail.
fn umount(paths: &[String]) -> Verdict {
    let mut open_doors = Vec::new();
    for p in paths {
        let c = cstr(p);
        // SAFETY: umount2 with a NUL-terminated path.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
            open_doors.push(format!("unmounted {p}"));
        }
    }
    verdict(open_doors, paths.len(), "unmounting")
}

/// mknod of /dev/null's numbers, then opening the node for writing.
fn mknod() -> Verdict {
    let mut open_doors = Vec::new();
    let mut notes = Vec::new();
    for dir in ["/tmp", "/dev", "/dev/shm"] {
        let node = format!("{dir}/cleave-escape-mknod");
        let c = cstr(&node);
        // SAFETY: mknod with a NUL-terminated path, S_IFCHR|0666 and device 1:3.
        let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        if r != 0 {
            notes.push(format!("{dir}: {}", errno()));
            continue;
        }
        match open(&node, libc::O_WRONLY) {
            Ok(fd) => {
                // SAFETY: writing one byte from a static buffer.
                let n = unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
                close(fd);
                open_doors.push(format!("mknod {node} c 1 3 and wrote {n} byte(s)"));
            }
            Err(e) => notes.push(format!("{dir}: node made but unusable ({e})")),
        }
        let _ = fs::remove_file(&node);
    }
    if open_doors.is_empty() {
        Ok(format!("no usable device node: {}", notes.join("; ")))
    } else {
        Err(open_doors.join("; "))
    }
}

/// Run from a setuid-root copy: the effective uid must stay the real one.
fn setuid() -> Verdict {
    // SAFETY: getuid/geteuid have no preconditions.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    if euid != uid {
        Err(format!("a setuid binary raised euid from {uid} to {euid}"))
    } else {
        Ok(format!("uid {uid} euid {euid}"))
    }
}

/// Connects to the abstract unix socket NAME.
fn abstract_socket(name: &str) -> Verdict {
    use std::os::linux::net::SocketAddrExt;
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    match std::os::unix::net::UnixStream::connect_addr(&addr) {
        Ok(_) => Err(format!("connected to @{name}")),
        Err(e) => Ok(format!("@{name}: {e}")),
    }
}

/// Pushes characters into the terminal's input queue through stdin and /dev/tty.
fn tiocsti() -> Verdict {
    let mut open_doors = Vec::new();
    let mut notes = Vec::new();
    let tty = open("/dev/tty", libc::O_RDWR);
    let mut fds = vec![(0, "stdin")];
    if let Ok(fd) = tty {
        fds.push((fd, "/dev/tty"));
    } else if let Err(e) = &tty {
        notes.push(format!("/dev/tty: {e}"));
    }
    // A preset binds the caller's terminal on /dev/console: opened afresh (without
    // O_NOCTTY, as a session leader would to take it as its controlling terminal).
    let console = open("/dev/console", libc::O_RDWR);
    match &console {
        Ok(fd) => fds.push((*fd, "/dev/console")),
        Err(e) => notes.push(format!("/dev/console: {e}")),
    }
    for (fd, name) in fds {
        for ch in b"#STI#" {
            // SAFETY: TIOCSTI reads one byte through the pointer.
            let r = unsafe { libc::ioctl(fd, libc::TIOCSTI, ch as *const u8) };
            if r != 0 {
                notes.push(format!("{name}: {}", errno()));
                break;
            }
            if *ch == b'#' && open_doors.iter().all(|d: &String| !d.contains(name)) {
                open_doors.push(format!("TIOCSTI through {name}"));
            }
        }
    }
    for fd in [tty, console].into_iter().flatten() {
        close(fd);
    }
    if open_doors.is_empty() {
        Ok(notes.join("; "))
    } else {
        Err(open_doors.join("; "))
    }
}

/// Changes the line discipline of the terminal on stdin and on /dev/console (a preset binds
/// the caller's there) to N_NULL, which drops all input: the caller's terminal would be dead
/// after the sandbox. Put back at once when it worked. Where N_NULL is not in the kernel
/// (its module not loaded, autoload off) the current discipline is asked for again, which
/// changes nothing but passes the same checks.
fn tiocsetd() -> Verdict {
    const N_NULL: libc::c_int = 27;
    let mut open_doors = Vec::new();
    let mut notes = Vec::new();
    let mut fds = vec![(0, "stdin")];
    let console = open("/dev/console", libc::O_RDWR | libc::O_NOCTTY);
    match &console {
        Ok(fd) => fds.push((*fd, "/dev/console")),
        Err(e) => notes.push(format!("/dev/console: {e}")),
    }
    for (fd, name) in fds {
        let mut was: libc::c_int = -1;
        // SAFETY: TIOCGETD writes one int.
        if unsafe { libc::ioctl(fd, libc::TIOCGETD, &mut was) } != 0 {
            notes.push(format!("{name}: not a terminal ({})", errno()));
            continue;
        }
        let set = |disc: libc::c_int| {
            // SAFETY: TIOCSETD reads one int.
            if unsafe { libc::ioctl(fd, libc::TIOCSETD, &disc) } == 0 {
                Ok(())
            } else {
                Err(errno())
            }
        };
        match set(N_NULL) {
            Ok(()) => {
                let _ = set(was);
                open_doors.push(format!("TIOCSETD {N_NULL} (N_NULL) through {name}"));
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => notes.push(format!("{name}: {e}")),
            Err(e) => match set(was) {
                Ok(()) => open_doors.push(format!("TIOCSETD {was} through {name} (N_NULL: {e})")),
                Err(e) => notes.push(format!("{name}: {e}")),
            },
        }
    }
    if let Ok(fd) = console {
        close(fd);
    }
    if open_doors.is_empty() {
        Ok(notes.join("; "))
    } else {
        Err(open_doors.join("; "))
    }
}

/// The caller's session keyring (its id is CALLER_ID) and its key DESC must not be found.
fn keyring(caller_id: &str, desc: &str) -> Verdict {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEYCTL_SEARCH: libc::c_long = 10;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    let mut open_doors = Vec::new();
    // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, special id, create=0) takes integers only.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        )
    };
    if id.to_string() == caller_id {
        open_doors.push(format!("the session keyring is the caller's ({id})"));
    }
    let ty = CString::new("user").unwrap();
    let d = CString::new(desc).unwrap();
    // SAFETY: keyctl(KEYCTL_SEARCH, keyring, type, description, dest=0) with C strings.
    let found = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SEARCH,
            KEY_SPEC_SESSION_KEYRING,
            ty.as_ptr(),
            d.as_ptr(),
            0,
        )
    };
    if found > 0 {
        open_doors.push(format!("keyctl_search found the caller's key {desc}"));
    }
    // SAFETY: request_key(type, description, callout=NULL, dest=0) with C strings.
    let req = unsafe {
        libc::syscall(
            libc::SYS_request_key,
            ty.as_ptr(),
            d.as_ptr(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    };
    if req > 0 {
        open_doors.push(format!("request_key found the caller's key {desc}"));
    }
    if open_doors.is_empty() {
        Ok(format!("session keyring {id}, key not found"))
    } else {
        Err(open_doors.join("; "))
    }
}

/// Door 4: the preset's devices are the host's real ones.
fn devices() -> Verdict {
    use std::os::unix::fs::FileTypeExt;
    let mut wrong = Vec::new();
    for d in ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/tty"] {
        match fs::metadata(d) {
            Ok(m) if m.file_type().is_char_device() => {}
            Ok(_) => wrong.push(format!("{d} is not a character device")),
            Err(e) => wrong.push(format!("{d}: {e}")),
        }
    }
    let mut buf = [0u8; 16];
    match open("/dev/urandom", libc::O_RDONLY) {
        Ok(fd) => {
            // SAFETY: reading into a local buffer of its own length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            close(fd);
            if n != 16 {
                wrong.push(format!("/dev/urandom read {n} bytes"));
            }
        }
        Err(e) => wrong.push(format!("/dev/urandom: {e}")),
    }
    if wrong.is_empty() {
        Ok("real devices".into())
    } else {
        Err(wrong.join("; "))
    }
}

/// On the host, as the rootfs's owner: swap A and B with RENAME_EXCHANGE until killed.
fn race_exchange(a: &str, b: &str) -> Verdict {
    let (ca, cb) = (cstr(a), cstr(b));
    loop {
        // SAFETY: renameat2 with two NUL-terminated paths relative to the cwd.
        unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
    }
}

/// Connects to the unix socket at PATH (on the host: a socket only root may connect to).
fn connect(path: &str) -> Verdict {
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(format!("connected to {path}")),
        Err(e) => Ok(format!("{path}: {e}")),
    }
}

/// Keeps only CAP_SYS_ADMIN (bounding, permitted, effective; nothing inheritable or
/// ambient), then installs, without no_new_privs, a filter that makes setresuid,
/// setresgid, setgroups, capset and prctl return 0 without doing anything. A `cleave enter`
/// that installed it before giving up its own privileges would keep them. Prints
/// `ready: ...` and sleeps for a minute (the test kills it sooner).
fn fake_drop_filter() -> Verdict {
    const SYS_ADMIN: u32 = 21;
    for cap in (0..64u32).filter(|&c| c != SYS_ADMIN) {
        // SAFETY: prctl(PR_CAPBSET_READ, cap) takes integers only.
        let held = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
        if held != 1 {
            continue;
        }
        // SAFETY: prctl(PR_CAPBSET_DROP, cap) takes integers only.
        let dropped = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if dropped != 0 {
            setup_failed(&format!("PR_CAPBSET_DROP {cap}: {}", errno()));
        }
    }
    // SAFETY: prctl(PR_CAP_AMBIENT, CLEAR_ALL) takes integers only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // struct __user_cap_header_struct { version, pid } and two data words
    // { effective, permitted, inheritable } (version 3: 64 bits in two halves).
    let header: [u32; 2] = [0x2008_0522, 0];
    let data: [u32; 6] = [1 << SYS_ADMIN, 1 << SYS_ADMIN, 0, 0, 0, 0];
    // SAFETY: capset reads the header and two data structs, both of the right size.
    if unsafe { libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) } != 0 {
        setup_failed(&format!("capset: {}", errno()));
    }
    // A BPF program: on this architecture, the five calls return errno 0 (success).
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xc000_00b7;
    let faked = [
        libc::SYS_setresuid,
        libc::SYS_setresgid,
        libc::SYS_setgroups,
        libc::SYS_capset,
        libc::SYS_prctl,
    ];
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let n = faked.len() as u8;
    let mut prog = vec![
        stmt(load, 4), // seccomp_data.arch
        jeq(ARCH, 0, n + 1),
        stmt(load, 0), // seccomp_data.nr
    ];
    for (i, nr) in faked.iter().enumerate() {
        // Match: jump over the remaining tests and the allow to the fake success.
        prog.push(jeq(*nr as u32, n - i as u8, 0));
    }
    prog.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    prog.push(stmt(ret, libc::SECCOMP_RET_ERRNO));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: seccomp(SET_MODE_FILTER, 0, prog) reads the program, which outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        setup_failed(&format!("seccomp: {}", errno()));
    }
    println!("ready: the filter is installed, pid {}", std::process::id());
    std::thread::sleep(std::time::Duration::from_secs(60));
    Ok("slept".into())
}

/// A mode that prepares a test could not: says why on stderr and exits 1 (no verdict).
fn setup_failed(why: &str) -> ! {
    eprintln!("escape_probe: setup failed: {why}");
    std::process::exit(1)
}
