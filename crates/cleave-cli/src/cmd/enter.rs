//! `cleave enter`: run a program inside a running process's namespaces, cgroups and root.
use crate::cli::EnterArgs;
use crate::report;
use cleave::enter::{Enter, Privileges};
use cleave::supervise::{Forwarder, FORWARDED};
use cleave::{CloneFlags, Command, Namespace};

mod files;

/// The program, or without one a shell, as nsenter runs ($SHELL when the root now seen
/// has it, else /bin/sh).
fn command_or_shell(a: &EnterArgs) -> Vec<std::ffi::OsString> {
    if !a.command.is_empty() {
        return a.command.clone();
    }
    let shell = std::env::var_os("SHELL")
        .filter(|s| std::path::Path::new(s).is_absolute() && std::path::Path::new(s).exists())
        .unwrap_or_else(|| "/bin/sh".into());
    if a.verbose {
        eprintln!(
            "cleave: no program given: running {}",
            shell.to_string_lossy()
        );
    }
    vec![shell]
}

pub fn run(a: EnterArgs) -> i32 {
    let Some(target) = a.target else {
        return files::run(&a);
    };
    // An empty --ns means all, as `all` does.
    let ns = match super::parse_namespaces(&a.ns, "--ns") {
        Ok(n) => n.filter(|l| !l.is_empty()),
        Err(msg) => return report::bad_request(&msg),
    };
    let mut enter = Enter::new(target);
    enter.cgroup(!a.no_cgroup).root(!a.no_root);
    if a.keep_privileges {
        enter.privileges(Privileges::Caller);
    }
    if let Some(list) = &ns {
        enter.namespaces(list);
    }
    let entered = match enter.join() {
        Ok(e) => e,
        Err(e) => {
            let code = report::error(&e);
            if matches!(e, cleave::Error::EnterContext { .. }) {
                eprintln!("  to enter with cleave's own privileges instead, as nsenter does, pass --keep-privileges");
            }
            return code;
        }
    };
    if a.verbose {
        let names = |l: &[Namespace]| {
            if l.is_empty() {
                "none".to_string()
            } else {
                l.iter().map(|n| n.name()).collect::<Vec<_>>().join(",")
            }
        };
        if entered.target != target {
            eprintln!(
                "cleave: pid {} is cleave (the supervisor or the init of a sandbox): entering its program, pid {}",
                target, entered.target
            );
        }
        eprintln!(
            "cleave: joined namespaces {} of pid {} ({:?}); already shared: {}",
            names(&entered.joined),
            entered.target,
            entered.method,
            names(&entered.already)
        );
        if let Some(p) = &entered.cgroup2_path {
            eprintln!("cleave: program starts in cgroup2 {}", p.display());
        }
        for p in &entered.cgroup_v1 {
            eprintln!("cleave: moved into {}", p.display());
        }
        if entered.chrooted {
            eprintln!("cleave: took the root of pid {}", entered.target);
        }
        match &entered.context {
            Some(c) => eprintln!(
                "cleave: program takes the context of pid {}: uid {} gid {} groups {:?}, capabilities bounding {:#x} permitted {:#x} effective {:#x} inheritable {:#x} ambient {:#x}{}{}",
                entered.target,
                c.uid,
                c.gid,
                c.groups,
                c.bounding,
                c.permitted,
                c.effective,
                c.inheritable,
                c.ambient,
                if c.no_new_privs { ", no_new_privs" } else { "" },
                match c.seccomp_filters.len() {
                    0 => String::new(),
                    n => format!(", {n} seccomp filter(s)"),
                }
            ),
            None => eprintln!("cleave: program keeps cleave's own privileges"),
        }
    }

    let command = command_or_shell(&a);
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    if !cleave::raw::clone3_unavailable() {
        cmd.flags(CloneFlags::PIDFD);
    }
    if let Err(e) = entered.apply(&mut cmd) {
        return report::error(&e);
    }
    let forward = Forwarder::block(&FORWARDED);
    cmd.signal_mask(forward.original_mask());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return report::error(&e),
    };
    if a.verbose {
        eprintln!("cleave: started pid {}", child.id());
    }
    if let Some(pidfd) = child.pidfd() {
        forward.until_exit(pidfd, true, |sig| {
            let _ = child.signal(sig);
        });
    }
    match child.wait() {
        Ok(status) => status.shell_code(),
        Err(e) => report::error(&e),
    }
}
