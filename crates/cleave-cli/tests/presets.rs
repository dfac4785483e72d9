//! Presets as people who know bubblewrap and docker expect them (issue 12): one namespace
//! of a preset can be kept from the caller (`--share net`), and `--preset container` looks
//! like a container from inside: its own hostname (in /etc/hostname too), a container's
//! environment, a read-only
//! /sys, / as the working directory, and the caller's terminal as /dev/console (as
//! bubblewrap's --dev and `docker run -t` give one; bubblewrap's tests/test-run.sh checks
//! its /dev the same way, from inside). These tests need root; they fail, never skip.
#![allow(unsafe_code)]
mod support;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use support::*;

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "the preset tests need root");
}

/// The busybox rootfs of scripts/mkrootfs.sh in a directory named `box1` (the container's
/// hostname comes from its name).
fn rootfs() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        require_root();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("presets/box1");
        support::mkrootfs(&dir);
        dir
    })
}

const NS_PROBE: &str = "for n in net ipc uts cgroup mnt; do readlink /proc/self/ns/$n; done; grep CapEff /proc/self/status";

/// `--preset sandbox --share NS` keeps the caller's NS and every other namespace new, and
/// -v says what was given up; the capabilities stay dropped.
#[test]
fn a_preset_shares_one_namespace_when_asked() {
    require_root();
    let names = ["net", "ipc", "uts", "cgroup", "mnt"];
    for (as_nobody, shared) in [
        (false, "net"),
        (false, "ipc"),
        (false, "uts"),
        (false, "cgroup"),
        (true, "net"),
    ] {
        let args = [
            "spawn", "-v", "--preset", "sandbox", "--share", shared, "--", "sh", "-c", NS_PROBE,
        ];
        let o = if as_nobody {
            nobody(&args)
        } else {
            cleave(&args)
        };
        assert_eq!(o.status.code(), Some(0), "{shared}: {}", text(&o.stderr));
        let out = text(&o.stdout);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 6, "{out}");
        for (name, line) in names.iter().zip(&lines) {
            let mine = ns_link("self", name);
            if *name == shared {
                assert_eq!(*line, mine, "{shared} is the caller's: {out}");
            } else {
                assert_ne!(*line, mine, "{name} is new with --share {shared}: {out}");
            }
        }
        assert!(lines[5].ends_with("0000000000000000"), "{out}");
        let e = text(&o.stderr);
        assert!(
            e.contains(&format!(
                "shares the caller's {shared} namespace (--share {shared})"
            )),
            "{e}"
        );
    }
}

/// With the caller's PID namespace the program sees the host's processes through the
/// host's /proc, protected like every /proc cleave mounts (bubblewrap binds /proc the same
/// way without a PID namespace).
#[test]
fn a_preset_with_the_callers_pids_binds_a_protected_proc() {
    require_root();
    let probe = "readlink /proc/self/ns/pid; [ -s /proc/kcore ] || echo kcore-hidden; \
                 echo 1 2>/dev/null > /proc/sys/kernel/ns_last_pid || echo sys-read-only";
    for as_nobody in [false, true] {
        let args = [
            "spawn", "-v", "--preset", "sandbox", "--share", "pid", "--", "sh", "-c", probe,
        ];
        let o = if as_nobody {
            nobody(&args)
        } else {
            cleave(&args)
        };
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                ns_link("self", "pid").as_str(),
                "kcore-hidden",
                "sys-read-only"
            ]
        );
        assert!(
            text(&o.stderr).contains("--share pid"),
            "{}",
            text(&o.stderr)
        );
    }
}

/// What a preset cannot share is refused before anything exists, naming why.
#[test]
fn a_preset_refuses_to_share_what_it_needs() {
    require_root();
    let o = cleave(&[
        "spawn", "--preset", "sandbox", "--share", "mount", "--", "true",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--share mount"),
        "{}",
        text(&o.stderr)
    );
    let o = nobody(&[
        "spawn", "--preset", "sandbox", "--share", "user", "--", "true",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("a new user namespace is what allows the others"),
        "{}",
        text(&o.stderr)
    );
    let o = cleave(&["spawn", "--new", "net", "--share", "net", "--", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
}

/// A container's program sees its own hostname (its directory's name), a container's
/// environment instead of the caller's, / as its working directory, and a read-only /sys.
#[test]
fn a_container_looks_like_one_from_inside() {
    let root = rootfs().to_str().unwrap();
    let o = Command::new(BIN)
        .args(["spawn", "--preset", "container", "--rootfs", root, "--"])
        .args([
            "sh",
            "-c",
            "env; echo cwd=$(pwd); echo uname=$(hostname); echo etc=$(cat /etc/hostname); \
                echo x 2>/dev/null >/etc/hostname || echo etc-ro; \
                grep ' /sys ' /proc/self/mountinfo; touch /sys/kernel/x 2>&1",
        ])
        .current_dir("/tmp")
        .env("CLEAVE_CALLERS_OWN", "1")
        .env("TERM", "vt100")
        .output()
        .unwrap();
    let out = text(&o.stdout);
    let var = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    assert_eq!(
        var("PATH").as_deref(),
        Some("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{out}"
    );
    assert_eq!(var("HOME").as_deref(), Some("/root"), "{out}");
    assert_eq!(var("TERM").as_deref(), Some("vt100"), "{out}");
    assert_eq!(var("HOSTNAME").as_deref(), Some("box1"), "{out}");
    assert_eq!(var("uname").as_deref(), Some("box1"), "{out}");
    assert_eq!(var("cwd").as_deref(), Some("/"), "{out}");
    // /etc/hostname shows it, read-only, and the root's own file is left as it was.
    assert_eq!(var("etc").as_deref(), Some("box1"), "{out}");
    assert!(out.contains("\netc-ro\n"), "{out}");
    let theirs = std::fs::read_to_string(rootfs().join("etc/hostname")).unwrap();
    assert_eq!(theirs, "cleave\n", "scripts/mkrootfs.sh's");
    assert_eq!(var("CLEAVE_CALLERS_OWN"), None, "{out}");
    let sys = out
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/sys"))
        .unwrap_or("");
    assert!(sys.contains(" ro,") && sys.contains("sysfs"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
}

/// A pseudo-terminal pair: (master, slave).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty writes two fds; the name, termios and winsize pointers may be null.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened and are owned here.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

/// What the master of a pty holds to be read (non-blocking).
fn drain(fd: &OwnedFd) -> String {
    // SAFETY: fcntl on an owned fd.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let mut all = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: reading into a local buffer of its own length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        all.extend_from_slice(&buf[..n as usize]);
    }
    text(&all)
}

/// With a terminal on stdin, a container's /dev/console is that terminal, and writing to
/// it reaches the caller's terminal; without one there is no /dev/console. Run as 65534,
/// whose terminal is its own (a root caller's preset maps root inside to nobody outside,
/// who cannot open root's terminal by name: its fds 0-2 still work).
#[test]
fn a_container_gets_the_callers_terminal_as_console() {
    let root = rootfs().to_str().unwrap();
    let script = "[ -c /dev/console ] || echo NONE; [ /dev/console -ef /proc/self/fd/0 ] && \
                  echo SAME && echo through-the-console > /dev/console";
    let (master, slave) = pty();
    // SAFETY: fchown of the pty's slave, owned here, to the uid the test runs cleave as.
    assert_eq!(unsafe { libc::fchown(slave.as_raw_fd(), 65534, 65534) }, 0);
    let o = Command::new("setpriv")
        .args(NOBODY)
        .arg(BIN)
        .args([
            "spawn",
            "--preset",
            "container",
            "--rootfs",
            root,
            "--",
            "sh",
            "-c",
            script,
        ])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), "SAME", "{}", text(&o.stderr));
    let seen = drain(&master);
    assert!(seen.contains("through-the-console"), "{seen:?}");
    drop(slave);
    // No terminal, no console.
    let o = cleave(&[
        "spawn",
        "--preset",
        "container",
        "--rootfs",
        root,
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(text(&o.stdout).trim(), "NONE", "{}", text(&o.stderr));
}
