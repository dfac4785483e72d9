//! bubblewrap's command line (issue 12), the namespace options that set up a sandbox with
//! another process's help or inside another sandbox: --pidns FD with --unshare-pid (a new
//! PID namespace nested in the joined one) and --userns-block-fd (the maps written from
//! outside while the sandbox waits). Each is run through `cleave bwrap`, a link named
//! `bwrap` and /usr/bin/bwrap, and compared (bubblewrap's tests/test-specifying-pidns.sh
//! and demos/userns-block-fd.py do the same). Needs root and bubblewrap; with CI=true a
//! missing one is a failure, not a skip.
#[path = "support/bwrap.rs"]
mod common;
mod support;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Stdio;
use support::text;

/// ioctl_ns(2) NS_GET_PARENT: an fd of the namespace's parent.
const NS_GET_PARENT: libc::c_ulong = 0xb702;

/// The inode of the parent of the PID namespace of `pid` (ioctl_ns(2) NS_GET_PARENT).
fn parent_pid_ns(pid: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/pid")).expect("open the pid ns");
    // SAFETY: NS_GET_PARENT takes no argument; the fd it returns is owned here.
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_PARENT) };
    assert!(
        fd >= 0,
        "NS_GET_PARENT: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new fd this test owns.
    let parent = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    parent.metadata().unwrap().ino()
}

fn inode(link: &str) -> u64 {
    link.trim_start_matches("pid:[")
        .trim_end_matches(']')
        .parse()
        .unwrap_or_else(|_| panic!("not a namespace link: {link}"))
}

/// --pidns FD with --unshare-pid: the program is in a new PID namespace whose parent is the
/// joined one (NS_GET_PARENT, asked while the program waits on its stdin), three levels deep
/// from the host (NSpid), behind an init (pid 2) or as PID 1 with --as-pid-1.
#[test]
fn pidns_with_unshare_pid_nests_in_the_joined_namespace() {
    if !ready() {
        return;
    }
    let dir = scratch("pidns-nested");
    // The shell's own NSpid line (read by the shell itself: /proc/self is its own), then it
    // waits for a line on stdin.
    let probe = "while read -r k v; do [ \"$k\" = NSpid: ] && echo $v; done </proc/self/status; \
                 read -r _";
    for nobody in [false, true] {
        let target = Target::start(&dir, nobody);
        let joined = inode(&support::ns_link(target.pid, "pid"));
        let fds = format!("7</proc/{0}/ns/user 8</proc/{0}/ns/pid", target.pid);
        for as_pid_1 in [false, true] {
            let mut argv = words(&["--userns", "7", "--pidns", "8", "--unshare-pid"]);
            if as_pid_1 {
                argv.push("--as-pid-1".into());
            }
            argv.extend(words(&["--ro-bind", "/", "/", "sh", "-c", probe]));
            // bubblewrap 0.8 runs the program as PID 1 there, then never exits (its monitor
            // waits on): --as-pid-1 is compared between cleave's two names only.
            let vias: &[Via] = if as_pid_1 {
                &[Via::Verb, Via::Link]
            } else {
                &ALL
            };
            let mut seen = Vec::new();
            for &via in vias {
                let mut child = command(&dir, via, nobody, &fds, &argv)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start the sandbox");
                let mut line = String::new();
                BufReader::new(child.stdout.take().unwrap())
                    .read_line(&mut line)
                    .unwrap();
                let pids: Vec<&str> = line.split_whitespace().collect();
                let what = format!("{via:?} (nobody: {nobody}, --as-pid-1: {as_pid_1})");
                let parent = (pids.len() == 3).then(|| parent_pid_ns(pids[0]));
                let own = (pids.len() == 3).then(|| inode(&support::ns_link(pids[0], "pid")));
                let _ = child.stdin.take().unwrap().write_all(b"go\n");
                let out = child.wait_with_output().unwrap();
                assert!(out.status.success(), "{what}: {}", text(&out.stderr));
                assert_eq!(pids.len(), 3, "{what}: NSpid {line:?}");
                assert_eq!(parent, Some(joined), "{what}: the parent is the joined one");
                assert_ne!(own, Some(joined), "{what}: a namespace of its own");
                seen.push(pids[2].to_string());
            }
            let want = if as_pid_1 { "1" } else { "2" };
            assert_eq!(
                seen,
                vec![want; vias.len()],
                "nobody: {nobody}, --as-pid-1: {as_pid_1}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-int array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: two new fds this test owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// --userns-block-fd with --info-fd, bubblewrap's demos/userns-block-fd.py done by the test:
/// it reads the info to its end (the sandbox's pid), writes the new user namespace's maps
/// from outside (0 inside for the caller's uid and gid), then writes a byte to the block fd.
/// The program sees those maps and runs as uid and gid 0, and can make a user namespace of
/// its own; the same through bubblewrap. Without --unshare-user or --info-fd it is refused.
#[test]
fn userns_block_fd_waits_for_maps_written_outside() {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    if !ready() {
        return;
    }
    let dir = scratch("userns-block");
    let probe = "awk '{print $1, $3}' /proc/self/uid_map /proc/self/gid_map; id -u; id -g; \
                 unshare -U true && echo nested";
    for nobody in [false, true] {
        let outside = if nobody { 65534 } else { 0 };
        let mut seen = Vec::new();
        for via in ALL {
            let argv = words(&[
                "--unshare-user",
                "--unshare-pid",
                "--userns-block-fd",
                "21",
                "--info-fd",
                "20",
                "--ro-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "sh",
                "-c",
                probe,
            ]);
            let (info_r, info_w) = pipe();
            let (block_r, block_w) = pipe();
            let (iw, br) = (info_w.as_raw_fd(), block_r.as_raw_fd());
            let mut cmd = command(&dir, via, nobody, "", &argv);
            // SAFETY: dup2 only, between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::dup2(iw, 20) < 0 || libc::dup2(br, 21) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = cmd
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the sandbox");
            drop((info_w, block_r));
            let mut info = String::new();
            std::fs::File::from(info_r)
                .read_to_string(&mut info)
                .unwrap();
            let what = format!("{via:?} (nobody: {nobody})");
            let pid = serde_json::from_str::<serde_json::Value>(&info)
                .ok()
                .and_then(|v| v["child-pid"].as_i64())
                .unwrap_or_else(|| panic!("{what}: info {info:?}"));
            for (file, text) in [
                ("setgroups", "deny".to_string()),
                ("uid_map", format!("0 {outside} 1\n")),
                ("gid_map", format!("0 {outside} 1\n")),
            ] {
                std::fs::write(format!("/proc/{pid}/{file}"), text)
                    .unwrap_or_else(|e| panic!("{what}: write {file}: {e}"));
            }
            std::fs::File::from(block_w).write_all(b"1").unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{what}: {}", text(&out.stderr));
            seen.push(text(&out.stdout));
        }
        assert_eq!(
            seen[2], "0 1\n0 1\n0\n0\nnested\n",
            "bubblewrap (nobody: {nobody})"
        );
        assert_eq!(seen[0], seen[2], "cleave bwrap (nobody: {nobody})");
        assert_eq!(seen[1], seen[2], "the bwrap link (nobody: {nobody})");
    }
    for (extra, want) in [
        (
            &["--info-fd", "20"][..],
            "--userns-block-fd needs --unshare-user",
        ),
        (&["--unshare-user"][..], "--userns-block-fd needs --info-fd"),
    ] {
        let mut argv = words(&["--userns-block-fd", "21"]);
        argv.extend(words(extra));
        argv.extend(words(&["--ro-bind", "/", "/", "true"]));
        let out = run(&dir, Via::Verb, false, "20>/dev/null 21</dev/null", &argv);
        assert_eq!(out.status.code(), Some(1), "{argv:?}");
        assert!(
            text(&out.stderr).contains(want),
            "{argv:?}: {}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
