//! What an OCI runtime needs from a sandbox, observed from the inside: the start barrier,
//! supplementary groups, the umask, device nodes (made, or bound from the host in a user
//! namespace) and a terminal handed over a console socket. Needs root.
mod common;

use cleave::error::{MountProblem, Origin, Problem};
use cleave::mount::{DeviceKind, MountOp};
use cleave::sandbox::{prepare, SandboxSpec};
use cleave::supervise::{console_socket, recv_fd};
use cleave::{CloneFlags, Error, ExitStatus};
use common::*;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

fn main() {
    run(&[
        (
            "start_barrier_holds_the_program",
            start_barrier_holds_the_program,
        ),
        (
            "start_barrier_in_a_sandbox_and_eof",
            start_barrier_in_a_sandbox_and_eof,
        ),
        ("supplementary_groups", supplementary_groups),
        ("umask", umask),
        ("device_nodes_made_by_root", device_nodes_made_by_root),
        (
            "device_nodes_bound_in_a_user_namespace",
            device_nodes_bound_in_a_user_namespace,
        ),
        (
            "terminal_over_a_console_socket",
            terminal_over_a_console_socket,
        ),
        (
            "file_mounts_on_proc_do_not_skip_a_later_protection",
            file_mounts_on_proc_do_not_skip_a_later_protection,
        ),
    ]);
}

fn e2s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A fresh scratch directory the program can write its observations into.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cleave-ctrops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sh(script: &str) -> SandboxSpec {
    let mut s = SandboxSpec::default();
    s.process.program = "/bin/sh".into();
    s.process.args = vec!["-c".into(), script.into()];
    s
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// The program has not run while the child waits at the barrier (spawn returned: the
/// child said it waits there); one byte lets it go.
fn start_barrier_holds_the_program() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    let dir = scratch("barrier");
    let marker = dir.join("ran");
    let (r, w) = pipe();
    let mut spec = sh(&format!("echo ran > {}", marker.display()));
    spec.process.start_barrier = Some(r.as_raw_fd());
    let mut running = prepare(&spec).map_err(e2s)?.spawn().map_err(e2s)?;
    drop(r);
    ensure!(!marker.exists(), "the program ran before the go-ahead");
    write_all(&w, b"g");
    let status = running.wait().map_err(e2s)?;
    ensure_eq!(status, ExitStatus::Exited(0));
    ensure_eq!(read(&marker), "ran\n");
    let _ = std::fs::remove_dir_all(&dir);
    pass()
}

/// Behind cleave's init in new namespaces, and with end-of-file as the go-ahead; the
/// program does not keep the barrier's fd.
fn start_barrier_in_a_sandbox_and_eof() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    let dir = scratch("barrier-ns");
    let marker = dir.join("ran");
    let (r, w) = pipe();
    let fd = r.as_raw_fd();
    let mut spec = sh(&format!(
        "echo $$ > {0}; if test -e /proc/self/fd/{fd}; then echo kept >> {0}; fi",
        marker.display()
    ));
    spec.namespaces.new = CloneFlags::NEWUSER | CloneFlags::NEWPID | CloneFlags::NEWNS;
    spec.mount_proc = true;
    spec.process.start_barrier = Some(fd);
    let mut running = prepare(&spec).map_err(e2s)?.spawn().map_err(e2s)?;
    drop(r);
    ensure!(!marker.exists(), "the program ran before the go-ahead");
    drop(w);
    let status = running.wait().map_err(e2s)?;
    ensure_eq!(status, ExitStatus::Exited(0));
    // PID 2: behind the init, and the barrier's fd closed.
    ensure_eq!(read(&marker), "2\n");
    let _ = std::fs::remove_dir_all(&dir);
    pass()
}

fn supplementary_groups() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    let dir = scratch("groups");
    let out = dir.join("id");
    // Root without a user namespace, ids changed too.
    let mut spec = sh(&format!("id -G > {}", out.display()));
    spec.ids.groups = vec![5, 100, 4000];
    spec.ids.gid = Some(7);
    spec.ids.uid = Some(0);
    let status = prepare(&spec).map_err(e2s)?.spawn().map_err(e2s)?.wait();
    ensure_eq!(status.map_err(e2s)?, ExitStatus::Exited(0));
    ensure_eq!(read(&out), "7 5 100 4000\n");
    // In a user namespace whose group map root wrote (setgroups allowed).
    let mut spec = sh(&format!("id -G > {}", out.display()));
    spec.namespaces.new = CloneFlags::NEWUSER;
    spec.ids.mapping = cleave::idmap::IdMapping::Custom {
        users: vec![cleave::idmap::IdMap::single(0, 0)],
        groups: vec![cleave::idmap::IdMap {
            inside: 0,
            outside: 0,
            count: 200,
        }],
    };
    spec.ids.groups = vec![20, 30];
    let status = prepare(&spec).map_err(e2s)?.spawn().map_err(e2s)?.wait();
    ensure_eq!(status.map_err(e2s)?, ExitStatus::Exited(0));
    ensure_eq!(read(&out), "0 20 30\n");
    // A group outside the map, and setgroups denied, are refused before anything runs.
    spec.ids.groups = vec![500];
    match prepare(&spec) {
        Err(Error::Invalid {
            origin: Origin::Groups,
            problem: Problem::NotMapped(500),
        }) => {}
        other => return Err(format!("{other:?}")),
    }
    spec.ids.groups = vec![20];
    spec.ids.setgroups = Some(false);
    match prepare(&spec) {
        Err(Error::Invalid {
            origin: Origin::Groups,
            problem: Problem::SetgroupsRefused,
        }) => {}
        other => return Err(format!("{other:?}")),
    }
    let _ = std::fs::remove_dir_all(&dir);
    pass()
}

/// A file the program creates gets the umask's mode; the program reports its umask.
fn umask() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    let dir = scratch("umask");
    let file = dir.join("made");
    let mut spec = sh(&format!(
        "umask > {0}.mask; : > {0}; mkdir {0}.d",
        file.display()
    ));
    spec.process.umask = Some(0o027);
    let status = prepare(&spec).map_err(e2s)?.spawn().map_err(e2s)?.wait();
    ensure_eq!(status.map_err(e2s)?, ExitStatus::Exited(0));
    ensure_eq!(read(&dir.join("made.mask")), "0027\n");
    let mode = |p: PathBuf| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o7777);
    ensure_eq!(mode(file.clone()).map_err(e2s)?, 0o640);
    ensure_eq!(mode(dir.join("made.d")).map_err(e2s)?, 0o750);
    spec.process.umask = Some(0o1000);
    ensure!(
        matches!(
            prepare(&spec),
            Err(Error::Invalid {
                origin: Origin::Umask,
                problem: Problem::Range(_)
            })
        ),
        "umask 1000 accepted"
    );
    let _ = std::fs::remove_dir_all(&dir);
    pass()
}

fn device(dst: &str, kind: DeviceKind, major: u32, minor: u32, mode: u32, gid: u32) -> MountOp {
    MountOp::Device {
        dst: dst.into(),
        kind,
        major,
        minor,
        mode,
        uid: 0,
        gid,
    }
}

/// Root outside a user namespace: mknod with the exact mode and owner, and the node works.
fn device_nodes_made_by_root() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    let dir = scratch("mknod");
    let out = dir.join("stat");
    let mut spec = sh(&format!(
        "stat -c '%n %F %t:%T %a %u:%g' /dev/fuse /dev/dev-null-like /dev/sda-like > {0} \
         && echo data > /dev/dev-null-like && echo wrote >> {0}",
        out.display()
    ));
    spec.namespaces.new = CloneFlags::NEWNS;
    spec.filesystem.ops = vec![
        MountOp::Dev { dst: "/dev".into() },
        device("/dev/fuse", DeviceKind::Char, 10, 229, 0o620, 5),
        device("/dev/dev-null-like", DeviceKind::Char, 1, 3, 0o666, 0),
        device("/dev/sda-like", DeviceKind::Block, 8, 0, 0o640, 6),
    ];
    let prepared = prepare(&spec).map_err(e2s)?;
    ensure!(
        prepared
            .steps()
            .any(|(_, w)| w.contains("make the character device 10:229")),
        "no mknod step"
    );
    let status = prepared.spawn().map_err(e2s)?.wait().map_err(e2s)?;
    ensure_eq!(status, ExitStatus::Exited(0));
    ensure_eq!(
        read(&out),
        "/dev/fuse character special file a:e5 620 0:5\n\
         /dev/dev-null-like character special file 1:3 666 0:0\n\
         /dev/sda-like block special file 8:0 640 0:6\n\
         wrote\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
    pass()
}

/// In a user namespace mknod is refused: the host's node at the same path is bound, and
/// it must be the device asked for.
fn device_nodes_bound_in_a_user_namespace() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    let dir = scratch("devbind");
    let out = dir.join("stat");
    let mut spec = sh(&format!(
        "stat -c '%n %F %t:%T' /dev/fuse > {0}; echo data > /dev/null && echo wrote >> {0}",
        out.display()
    ));
    spec.namespaces.new = CloneFlags::NEWUSER | CloneFlags::NEWNS | CloneFlags::NEWPID;
    spec.filesystem.ops = vec![
        MountOp::Dev { dst: "/dev".into() },
        device("/dev/fuse", DeviceKind::Char, 10, 229, 0o666, 0),
    ];
    let prepared = prepare(&spec).map_err(e2s)?;
    ensure!(
        prepared
            .steps()
            .any(|(_, w)| w == "bind the host's device node /dev/fuse on /dev/fuse"),
        "no bind step"
    );
    ensure!(
        !prepared.steps().any(|(_, w)| w.contains("make the")),
        "a mknod step in a user namespace"
    );
    let status = prepared.spawn().map_err(e2s)?.wait().map_err(e2s)?;
    ensure_eq!(status, ExitStatus::Exited(0));
    ensure_eq!(read(&out), "/dev/fuse character special file a:e5\nwrote\n");
    // The host's node must be that device.
    spec.filesystem.ops[1] = device("/dev/fuse", DeviceKind::Char, 10, 200, 0o666, 0);
    match prepare(&spec) {
        Err(Error::Invalid {
            origin: Origin::Mount(1),
            problem,
        }) if problem
            == (MountProblem::HostDevice {
                path: "/dev/fuse".into(),
                want: ("character", 10, 200),
                found: Some(("character", 10, 229)),
            })
            .into() => {}
        other => return Err(format!("{other:?}")),
    }
    let _ = std::fs::remove_dir_all(&dir);
    pass()
}

/// A pty whose master went over a unix socket: the program's stdio is the slave, and it
/// is its controlling terminal (/dev/tty opens); what it writes comes out of the master.
fn terminal_over_a_console_socket() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    let dir = scratch("console");
    let path = dir.join("console.sock");
    let listener = UnixListener::bind(&path).map_err(e2s)?;
    let slave = console_socket(&path).map_err(e2s)?;
    let (stream, _) = listener.accept().map_err(e2s)?;
    let master = recv_fd(stream.as_fd()).map_err(e2s)?;
    let mut spec = sh(
        "test -t 0 && test -t 1 && echo stdio-is-a-tty; echo via-ctty > /dev/tty; \
         ps -o tty= -p $$ >/dev/null 2>&1; echo done",
    );
    spec.namespaces.new = CloneFlags::NEWPID;
    spec.process.terminal = Some(slave.as_raw_fd());
    let status = prepare(&spec)
        .map_err(e2s)?
        .spawn()
        .map_err(e2s)?
        .wait()
        .map_err(e2s)?;
    ensure_eq!(status, ExitStatus::Exited(0));
    drop(slave);
    // Everything written before every slave fd closed, then EIO.
    let mut got = Vec::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 4096];
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    ensure_eq!(
        String::from_utf8_lossy(&got),
        "stdio-is-a-tty\r\nvia-ctty\r\ndone\r\n"
    );
    // Not a terminal: refused before anything runs.
    let (r, _w) = pipe();
    spec.process.terminal = Some(r.as_raw_fd());
    ensure!(
        matches!(
            prepare(&spec),
            Err(Error::Invalid {
                origin: Origin::Terminal,
                problem: Problem::NotATerminal(_)
            })
        ),
        "a pipe accepted as a terminal"
    );
    let _ = std::fs::remove_dir_all(&dir);
    pass()
}

/// A file bound from a caller's fd, a file of data and a host device node (sent there by a
/// symlink, as a hostile rootfs's /dev could) mounted on /proc paths cleave protected with
/// the procfs: the config's maskedPaths and readonlyPaths after them (an OCI config's order)
/// must apply again, since what they would protect is no longer the procfs's. Before, these
/// mounts were not noted in the mount model, the masks and the read-only copy were skipped
/// as "already made with the procfs", and the program read and wrote the mounted files.
/// The masked and read-only paths are runc's defaults (runc's tests/integration/mask.bats
/// checks them from inside the same way).
fn file_mounts_on_proc_do_not_skip_a_later_protection() -> TestResult {
    if !is_root() {
        return skip("needs root");
    }
    for p in [
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sys/kernel/domainname",
    ] {
        ensure!(
            std::path::Path::new(p).exists(),
            "{p} is missing on this kernel: the test needs it"
        );
    }
    let dir = scratch("procfiles");
    let out = dir.join("out");
    let host_file = dir.join("bound");
    std::fs::write(&host_file, "host-file\n").map_err(e2s)?;
    let bound = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&host_file)
        .map_err(e2s)?;
    let (data_r, data_w) = pipe();
    write_all(&data_w, b"data-file\n");
    drop(data_w);
    let mut spec = sh(&format!(
        "exec > {}; \
         echo keys=$(cat /proc/keys 2>/dev/null | wc -c); \
         echo timer_list=$(head -c 4 /proc/timer_list 2>/dev/null | wc -c); \
         (echo x > /proc/keys) 2>/dev/null; \
         if (echo x > /proc/sys/kernel/domainname) 2>/dev/null; \
         then echo domainname=written; else echo domainname=refused; fi",
        out.display()
    ));
    spec.namespaces.new = CloneFlags::NEWUSER | CloneFlags::NEWNS | CloneFlags::NEWPID;
    spec.filesystem.ops = vec![
        MountOp::Proc {
            dst: "/proc".into(),
        },
        MountOp::BindFd {
            fd: bound.as_raw_fd(),
            dst: "/proc/keys".into(),
            read_only: false,
        },
        MountOp::BindData {
            fd: data_r.as_raw_fd(),
            dst: "/proc/sys/kernel/domainname".into(),
            mode: 0o666,
            read_only: false,
        },
        MountOp::Tmpfs {
            dst: "/dev".into(),
            mode: None,
            size: None,
        },
        MountOp::Symlink {
            target: "/proc/timer_list".into(),
            dst: "/dev/zero".into(),
        },
        device("/dev/zero", DeviceKind::Char, 1, 5, 0o666, 0),
        MountOp::Mask {
            dst: "/proc/keys".into(),
        },
        MountOp::Mask {
            dst: "/proc/timer_list".into(),
        },
        MountOp::ReadOnly {
            dst: "/proc/sys".into(),
        },
    ];
    let status = prepare(&spec)
        .map_err(e2s)?
        .spawn()
        .map_err(e2s)?
        .wait()
        .map_err(e2s)?;
    ensure_eq!(status, ExitStatus::Exited(0));
    let seen = read(&out);
    // Hidden (an empty device, whose writes go nowhere: the host's file is untouched); the
    // data file under /proc/sys read-only.
    for want in ["keys=0", "timer_list=0", "domainname=refused"] {
        ensure!(seen.lines().any(|l| l == want), "no `{want}` in:\n{seen}");
    }
    ensure_eq!(read(&host_file), "host-file\n");
    let _ = std::fs::remove_dir_all(&dir);
    pass()
}
