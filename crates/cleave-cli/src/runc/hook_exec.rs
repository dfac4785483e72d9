//! `hook-exec` (hidden, cleave's own): one createContainer or startContainer hook run in
//! the namespaces of a container's init, as the runtime-spec has it. `create` and `start`
//! start this as a new process of the cleave binary (see hooks.rs), so that joining the
//! namespaces moves nothing but this process: it joins them with the caller's privileges
//! (an OCI runtime's hooks run with the runtime's, not the program's), then starts the hook
//! in them (a child, so that it is inside the container's PID namespace too), with this
//! process's stdin (the state JSON) and environment (the hook's), and exits with its status.
//!
//! createContainer's path is resolved in the runtime's mount namespace: it is opened
//! before joining and run through `/proc/self/fd/N`. startContainer's path is resolved in
//! the container's.
use super::common::{Fail, Res};
use clap::Args;
use cleave::enter::{Enter, Privileges};
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct HookExecArgs {
    /// The container init's pid
    #[arg(long)]
    pub pid: i32,
    /// Resolve the hook's path before joining (createContainer)
    #[arg(long)]
    pub outside: bool,
    /// The hook's path
    pub path: PathBuf,
    /// The hook's args (args[0] first)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

pub fn run(a: HookExecArgs) -> Res<i32> {
    let held = if a.outside {
        let f = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(&a.path)
            .map_err(|e| Fail::failed(format!("open {}: {e}", a.path.display())))?;
        Some(f)
    } else {
        None
    };
    // startContainer's program comes from the container's root, which the image controls:
    // it runs with the container's privileges (the five capability sets, ids, no_new_privs
    // and filters of its init), never the runtime's. createContainer's was opened by the
    // runtime before joining and runs with the runtime's privileges.
    let privileges = if held.is_some() {
        Privileges::Caller
    } else {
        Privileges::Target
    };
    let entered = Enter::new(a.pid).privileges(privileges).join()?;
    let program = match &held {
        Some(f) => {
            proc_is_procfs()?;
            PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()))
        }
        None => a.path.clone(),
    };
    let mut cmd = cleave::Command::new(&program);
    if let Some(argv0) = a.args.first() {
        cmd.arg0(argv0);
    }
    cmd.args(a.args.iter().skip(1));
    if let Some(f) = &held {
        cmd.keep_fd(f.as_raw_fd());
    }
    entered.apply(&mut cmd)?;
    let mut child = cmd.spawn()?;
    Ok(child.wait()?.shell_code())
}

/// After joining, the hook's `/proc/self/fd/N` is looked up in the container's root, whose
/// /proc the image may fake (a config need not mount a procfs there; a link or directory at
/// /proc/self would lead to a file of the image, run with the runtime's privileges). The
/// container's /proc must be a procfs, whose `self` and `fd/N` links nothing can replace (the
/// hook's process is a child in the container's PID namespace, so the lookup can only be
/// checked from here as far as /proc itself). Before `start` nothing of the container's
/// program runs, so nothing inside changes it after.
fn proc_is_procfs() -> Res<()> {
    let mut fs = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: a NUL-terminated path and a pointer to a local statfs, read only when
    // statfs(2) filled it (returned 0).
    #[allow(unsafe_code)]
    let procfs = unsafe {
        libc::statfs(c"/proc".as_ptr(), fs.as_mut_ptr()) == 0
            && fs.assume_init().f_type == libc::PROC_SUPER_MAGIC
    };
    if procfs {
        Ok(())
    } else {
        Err(Fail::failed(
            "createContainer hook: /proc in the container is not a procfs, so the hook the \
             runtime opened cannot be run there safely; add a proc mount on /proc to config.json"
                .to_string(),
        ))
    }
}
