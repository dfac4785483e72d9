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
    let mut who = Who::default();
    let (args, cwd, tty, no_new_privs): (Vec<OsString>, Option<PathBuf>, bool, bool) =
        match &a.process {
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
                who.ids = Some((p.user().uid(), p.user().gid()));
                if let Some(c) = p.capabilities() {
                    let set = |s: &Option<std::collections::HashSet<_>>, name: &str| {
                        caps_mask(
                            s.iter()
                                .flatten()
                                .map(|c: &common::oci_spec_runtime::Capability| c.to_string()),
                            &format!("--process {}: capabilities.{name}", file.display()),
                        )
                    };
                    who.sets = Some([
                        set(c.bounding(), "bounding")?,
                        set(c.effective(), "effective")?,
                        set(c.permitted(), "permitted")?,
                        set(c.inheritable(), "inheritable")?,
                        set(c.ambient(), "ambient")?,
                    ]);
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
                    p.no_new_privileges().unwrap_or(false) || a.no_new_privs,
                )
            }
            None => (a.command.clone(), a.cwd.clone(), a.tty, a.no_new_privs),
        };
    if let Some(u) = &a.user {
        who.ids = Some(parse_user(u)?);
    }
    who.add = caps_mask(a.caps.iter().cloned(), "--cap")?;
    env.extend(a.env.iter().cloned());
    if args.is_empty() {
        return Err(Fail::bad(
            "exec: give the program to run, after the container id, or --process FILE",
        ));
    }
    let pid_file = a
        .pid_file
        .as_deref()
        .map(common::PidFile::open)
        .transpose()?;
    let console = a.console_socket.as_deref().map(absolute);
    let mut enter = Enter::new(rec.pid);
    // The config's filters, for when the init's cannot be copied (a rootless runtime lacks
    // the CAP_SYS_ADMIN of the initial user namespace that copying needs).
    if let Some(s) = config
        .as_ref()
        .and_then(|c| c.linux().as_ref()?.seccomp().clone())
    {
        let compiled = cleave_oci::seccomp::compile(&s)
            .map_err(|e| Fail::failed(format!("linux.seccomp of the container's config: {e}")))?;
        enter.known_seccomp_filters(compiled.filters);
    }
    let mut entered = enter.join()?;
    if let Some(c) = entered.context.as_mut() {
        who.apply(c);
        // no_new_privs can be added, never taken away from what the init has.
        c.no_new_privs |= no_new_privs;
    }
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    cmd.env_clear();
    // As the container's first process: no signal blocked (see runc::main for the actions).
    cmd.signal_mask(0);
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
        // The socket itself (supervise::console_socket would open a second pty and hand
        // back its slave, on which a send fails with ENOTSOCK).
        let sock = std::os::unix::net::UnixStream::connect(sock_path)
            .map_err(|e| Fail::failed(format!("--console-socket {}: {e}", sock_path.display())))?;
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

/// Who an exec'd process is, where it differs from the container init (whose security
/// context it starts from): its ids, its five capability sets (--process), capabilities
/// added to every set (--cap, as runc adds them).
#[derive(Default)]
struct Who {
    ids: Option<(u32, u32)>,
    /// Bounding, effective, permitted, inheritable, ambient.
    sets: Option<[u64; 5]>,
    add: u64,
}

impl Who {
    fn apply(&self, c: &mut cleave::enter::Context) {
        if let Some((uid, gid)) = self.ids {
            c.uid = uid;
            c.gid = gid;
        }
        if let Some([b, e, p, i, a]) = self.sets {
            (
                c.bounding,
                c.effective,
                c.permitted,
                c.inheritable,
                c.ambient,
            ) = (b, e, p, i, a);
        }
        c.bounding |= self.add;
        c.effective |= self.add;
        c.permitted |= self.add;
        c.inheritable |= self.add;
        c.ambient |= self.add;
    }
}

/// `-u UID[:GID]` (numbers, as runc takes them; the gid is 0 when absent, as in runc).
fn parse_user(u: &str) -> Res<(u32, u32)> {
    let bad = || {
        Fail::bad(format!(
            "--user {u:?}: give UID[:GID] as numbers, e.g. 1000:1000"
        ))
    };
    let (uid, gid) = match u.split_once(':') {
        Some((a, b)) => (a, b),
        None => (u, "0"),
    };
    Ok((
        uid.parse().map_err(|_| bad())?,
        gid.parse().map_err(|_| bad())?,
    ))
}

/// Capability names (CAP_SYS_ADMIN or SYS_ADMIN) as a mask; an unknown name is refused with
/// the closest known one.
fn caps_mask(names: impl IntoIterator<Item = String>, what: &str) -> Res<u64> {
    let mut mask = 0;
    for n in names {
        let name = if n.starts_with("CAP_") {
            n.clone()
        } else {
            format!("CAP_{n}")
        };
        if name.eq_ignore_ascii_case("CAP_ALL") {
            return Err(Fail::bad(format!("{what} {n}: name one capability")));
        }
        mask |= cleave::caps::parse_cap(&name).map_err(|e| {
            Fail::bad(format!(
                "{what} {n}: {}",
                cleave::error::one_line(&e.to_string())
            ))
        })?;
    }
    Ok(mask)
}
