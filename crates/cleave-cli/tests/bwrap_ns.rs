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
