//! `exec`: a process in a running container's namespaces, cgroup, root and security context
//! (the container init's, as `cleave enter` gives it), described by --process or the
//! command line.
use super::cli::ExecArgs;
use super::common::{self, oci_spec_runtime::Process, Ctx, Fail, Res};
use cleave::container::Status;
use cleave::enter::Enter;
use cleave::{CloneFlags, Command};
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub fn run(ctx: &Ctx, a: ExecArgs) -> Res<i32> {
    let rec = ctx.load(&a.id)?;
    let status = common::status(&rec);
    if !matches!(status, Status::Running | Status::Created) {
        return Err(Fail::failed(format!(
            "cannot exec in container {}: it is {status}",
            a.id
        )));
    }
    // The container's own environment by default, as runc does.
    let config = common::config(&ctx.root.join(&a.id)).ok();
    let mut env: Vec<String> = config
        .as_ref()
        .and_then(|c| c.process().as_ref().and_then(|p| p.env().clone()))
        .unwrap_or_default();
    let (args, cwd, tty, uid, no_new_privs): (
        Vec<OsString>,
        Option<PathBuf>,
        bool,
        Option<u32>,
        bool,
    ) = match &a.process {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Fail::bad(format!("--process {}: {e}", file.display())))?;
            let p: Process = serde_json::from_str(&text).map_err(|e| {
                Fail::bad(format!(
                    "--process {}: not a process object: {e}",
                    file.display()
                ))
            })?;
            env = p.env().clone().unwrap_or_default();
            if p.capabilities().is_some() {
                super::log::debug("--process: capabilities are the container init's");
            }
            (
                p.args()
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                Some(p.cwd().clone()),
                p.terminal().unwrap_or(false) || a.tty,
                Some(p.user().uid()),
                p.no_new_privileges().unwrap_or(false) || a.no_new_privs,
            )
        }
        None => {
            let uid = match &a.user {
                Some(u) => Some(
                    u.split(':')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| {
                            Fail::bad(format!("--user {u:?}: give UID[:GID] as numbers"))
                        })?,
                ),
                None => None,
            };
            (a.command.clone(), a.cwd.clone(), a.tty, uid, a.no_new_privs)
        }
    };
    env.extend(a.env.iter().cloned());
    if args.is_empty() {
        return Err(Fail::bad(
            "exec: give the program to run, after the container id, or --process FILE",
        ));
    }
    if !a.caps.is_empty() {
        return Err(Fail::bad(
            "exec --cap: cleave gives an exec'd process the container init's capabilities and no more; leave --cap out",
        ));
    }
    let pid_file = a
        .pid_file
        .as_deref()
        .map(common::PidFile::open)
        .transpose()?;
    let console = a.console_socket.as_deref().map(absolute);
    let entered = Enter::new(rec.pid).join()?;
    if let (Some(want), Some(c)) = (uid, &entered.context) {
        if want != c.uid {
            return Err(Fail::bad(format!(
                "exec: uid {want} differs from the container init's ({}): cleave runs an exec'd process as the init's user",
                c.uid
            )));
        }
    }
    if no_new_privs && entered.context.as_ref().is_some_and(|c| !c.no_new_privs) {
        super::log::debug("exec: no_new_privs is the container init's");
    }
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    cmd.env_clear();
    for kv in &env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    if let Some(d) = &cwd {
        cmd.current_dir(d);
    }
    for fd in 3..3 + a.preserve_fds as i32 {
        cmd.keep_fd(fd);
    }
    if !cleave::raw::clone3_unavailable() {
        cmd.flags(CloneFlags::PIDFD);
    }
    let mut pty = None;
    if tty {
        let Some(sock_path) = &console else {
            return Err(Fail::bad(
                "exec --tty: pass --console-socket PATH to receive the terminal",
            ));
        };
        let p = cleave::supervise::Pty::open()?;
        let sock = cleave::supervise::console_socket(sock_path)?;
        cleave::supervise::send_fd(sock.as_fd(), p.master.as_fd())
            .map_err(|e| Fail::failed(format!("--console-socket {}: {e}", sock_path.display())))?;
        let dup = || {
            p.slave
                .try_clone()
                .map(cleave::Stdio::from)
                .map_err(|e| Fail::failed(format!("duplicate the terminal: {e}")))
        };
        cmd.stdin(dup()?).stdout(dup()?).stderr(dup()?);
        pty = Some(p);
    }
    entered.apply(&mut cmd)?;
    let mut child = cmd.spawn()?;
    drop(pty);
    if let Some(p) = &pid_file {
        p.write(child.id())?;
    }
    if a.detach {
        std::mem::forget(child);
        return Ok(0);
    }
    Ok(child.wait()?.shell_code())
}
