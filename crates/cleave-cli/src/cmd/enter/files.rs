//! `cleave enter --ns-file NS=FILE`: join namespaces bound on files (by `cleave spawn
//! --persist-ns`, `unshare --mount=FILE` and the like) with cleave's own privileges, as
//! `nsenter --mount=FILE` does. The program is a child that joins them (setns(2), the user
//! namespace first and the mount namespace last, which takes it to that namespace's root)
//! before it execs.
use crate::cli::EnterArgs;
use crate::report;
use cleave::sandbox::{prepare, SandboxSpec};
use cleave::supervise::{Forwarder, FORWARDED};
use cleave::Namespace;

pub fn run(a: &EnterArgs) -> i32 {
    let mut spec = SandboxSpec::default();
    for v in &a.ns_file {
        let Some((name, file)) = v.split_once('=') else {
            return report::bad_request(&format!(
                "--ns-file {v}: write NS=FILE, e.g. --ns-file mount=/run/ns/mnt"
            ));
        };
        let Some(ns) = Namespace::from_name(name) else {
            return report::bad_request(&format!(
                "--ns-file {v}: unknown namespace `{name}`: choose mount, uts, ipc, net, pid, user, cgroup or time"
            ));
        };
        if spec.namespaces.join.iter().any(|(n, _)| *n == ns) {
            return report::bad_request(&format!(
                "--ns-file {v}: the {} namespace is given twice",
                ns.name()
            ));
        }
        spec.namespaces.join.push((ns, file.into()));
    }
    let command = super::command_or_shell(a);
    spec.process.program = command[0].clone();
    spec.process.args = command[1..].to_vec();
    let forward = Forwarder::block(&FORWARDED);
    spec.process.signal_mask = Some(forward.original_mask());
    let prepared = match prepare(&spec) {
        Ok(p) => p,
        Err(cleave::Error::Invalid { origin, problem }) => {
            return report::bad_request(&format!(
                "--ns-file: {origin}: {problem}; give the file a namespace of that type is bound on (umount leaves an empty file)"
            ))
        }
        Err(e) => return report::error(&e),
    };
    let mut running = match prepared.spawn() {
        Ok(r) => r,
        Err(e) => return report::error(&e),
    };
    let child = running.child();
    if a.verbose {
        let joined: Vec<&str> = spec.namespaces.join.iter().map(|(n, _)| n.name()).collect();
        eprintln!(
            "cleave: started pid {} in the namespaces {} of the files given",
            child.id(),
            joined.join(",")
        );
    }
    if let Some(pidfd) = child.pidfd() {
        forward.until_exit(pidfd, true, |sig| {
            let _ = child.signal(sig);
        });
    }
    match running.wait() {
        Ok(status) => status.shell_code(),
        Err(e) => report::error(&e),
    }
}
