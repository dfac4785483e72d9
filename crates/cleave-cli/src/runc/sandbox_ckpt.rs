//! `checkpoint --pid PID | --name NAME` and `restore` of such a checkpoint: a sandbox of
//! `cleave spawn` (not a container) saved with `criu dump` and resumed with `criu restore`.
//!
//! The sandbox's init is a clone of cleave that maps cleave's binary and libraries from
//! the mounts `cleave spawn` ran in, outside the sandbox: each is declared external at dump
//! and the restoring cleave hands CRIU its own copy (cleave::checkpoint::init; CRIU checks
//! size and build-id, so the same cleave build must restore). The init must lead a session
//! inside its PID namespace (`--new-session` or a preset), as CRIU requires.
//!
//! The sandbox keeps the host's root (`cleave spawn` without --rootfs): the mounts it copied
//! from the host are bound again from the same host paths at restore, and nothing else is
//! (a restore binds no host path an image names at another place). Cgroups are not
//! managed: the restored sandbox lands in the cgroup of the process that restores it.
//! `cleave restore` stays in front as the sandbox's supervisor, as `cleave spawn` does,
//! and returns its exit status.
use super::cli::{CheckpointArgs, RestoreArgs};
use super::common::{Ctx, Fail, Res};
use super::{criu, restore};
use crate::registry;
use cleave::checkpoint::{
    fds, init, mounts, CheckpointProblem, Criu, ExternalKind, Meta, SandboxImage,
};
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

pub fn checkpoint(ctx: &Ctx, mut a: CheckpointArgs, criu_path: Option<&Path>) -> Res<i32> {
    if a.pre_dump || a.parent_path.is_some() || a.page_server.is_some() {
        return Err(Fail::bad(
            "--pre-dump, --parent-path and --page-server are for containers: a sandbox is checkpointed whole",
        ));
    }
    let entry = match (a.pid, a.name.as_deref()) {
        (Some(pid), _) => registry::by_pid(pid),
        (None, Some(name)) => registry::by_name(name),
        (None, None) => Err("give --pid PID or --name NAME".to_string()),
    }
    .map_err(Fail::bad)?;
    let criu = criu::find(ctx, criu_path)?;
    criu::refuse_unservable(&criu, false, a.criu.lazy_pages)?;
    let (images, work) = criu::dirs(&a.criu)?;
    let pid = entry.pid;
    // SAFETY: getsid with a PID.
    #[allow(unsafe_code)]
    let sid = unsafe { libc::getsid(pid) };
    if sid != pid {
        return Err(Fail::failed(format!(
            "{}; for a sandbox of `cleave spawn`, start it with --new-session (a --preset does this), which makes cleave's init the session's leader",
            CheckpointProblem::NotSessionLeader { pid, sid }
        )));
    }
    let user_ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/user")).ok();
    if user_ns(&pid.to_string()) != user_ns("self") {
        return Err(Fail::failed(format!(
            "the sandbox of process {pid} has a user namespace of its own, which CRIU {} cannot dump here: where the program keeps capabilities cleave locks its mounts in a nested user namespace (CRIU: \"Can't dump nested user namespace\"), and otherwise CRIU opens the sandbox's namespaces from inside its user namespace, where cleave's init cannot be read (it is not dumpable, so that the program cannot trace it); checkpoint a sandbox without --new user, as root",
            criu.version().unwrap_or_default()
        )));
    }
    let describe = |what: &str, e: String| {
        Fail::failed(
            CheckpointProblem::Describe {
                pid,
                what: what.to_string(),
                why: e,
            }
            .to_string(),
        )
    };
    let inside = mounts::read(pid).map_err(|e| describe("the mounts", e.to_string()))?;
    let host = mounts::read(0).map_err(|e| describe("this process's mounts", e.to_string()))?;
    let own_root = |m: &[mounts::MountInfo]| {
        m.iter()
            .find(|x| x.mountpoint == "/")
            .map(|x| (x.dev.clone(), x.root.clone()))
    };
    if own_root(&inside) != own_root(&host) {
        return Err(Fail::failed(format!(
            "the sandbox of process {pid} has a root of its own (--rootfs or --tmpfs /): cleave checkpoints only sandboxes that keep the host's root so far; run it without --rootfs, or as an OCI container (`cleave run`, `cleave checkpoint ID`)"
        )));
    }
    let externals = mounts::externals(&inside, &host).map_err(|e| describe("the mounts", e))?;
    let descriptors = fds::stdio(pid, &inside).map_err(|e| describe("the stdio", e.to_string()))?;
    let maps = init::outside_maps(pid, &inside)
        .map_err(|e| describe("the files it maps", e.to_string()))?;
    let meta = Meta {
        externals,
        descriptors,
        cgroup2: None,
        root_layer: None,
        sandbox: Some(SandboxImage {
            maps,
            name: (!entry.name.is_empty()).then(|| entry.name.clone()),
        }),
    };
    meta.save(&images)
        .map_err(|e| Fail::failed(e.to_string()))?;

    let log = "dump.log";
    let mut args: Vec<OsString> = vec!["dump".into(), "-t".into(), pid.to_string().into()];
    criu::dir_args(&images, &work, log, &mut args);
    // The sandbox's cgroups are the caller's: not CRIU's to save or make again.
    a.criu.manage_cgroups_mode = "ignore".into();
    criu::common_args(&a.criu, &mut args)?;
    let mut keys: Vec<&str> = Vec::new();
    for e in &meta.externals {
        args.push("--external".into());
        args.push(e.dump_arg().into());
    }
    let sandbox = meta.sandbox.as_ref().map(|s| s.maps.as_slice());
    let mapped = sandbox.unwrap_or_default().iter().map(|m| m.key.as_str());
    let files = meta.descriptors.iter().filter(|d| d.external);
    for key in files.map(|d| d.key.as_str()).chain(mapped) {
        if !keys.contains(&key) {
            keys.push(key);
            args.push("--external".into());
            args.push(key.into());
        }
    }
    if a.leave_running {
        args.push("--leave-running".into());
    }
    super::log::debug(&format!("criu {args:?}"));
    criu.run(
        "dump",
        &args,
        &work.join(log),
        [Stdio::null(), Stdio::null(), Stdio::null()],
    )
    .map_err(|e| Fail::failed(e.to_string()))?;
    // Without --leave-running CRIU killed the tree: its `cleave spawn` sees the init end
    // and removes its name.
    Ok(0)
}

pub fn restore(a: RestoreArgs, meta: Meta, criu: &Criu, images: &Path, work: &Path) -> Res<i32> {
    let Some(sandbox) = meta.sandbox.clone() else {
        return Err(Fail::bad(format!(
            "{} holds a container's checkpoint: give the container id (and --bundle)",
            images.display()
        )));
    };
    if a.id.is_some() || a.bundle.is_some() {
        return Err(Fail::bad(format!(
            "{} holds a checkpoint of a `cleave spawn` sandbox: restore it without a container id or --bundle (--name NAME names it)",
            images.display()
        )));
    }
    if a.detach || a.console_socket.is_some() {
        return Err(Fail::bad(
            "--detach and --console-socket are for containers: a restored sandbox has `cleave restore` as its supervisor in front, as `cleave spawn` does (run it in the background with &)",
        ));
    }
    let name = a.name.clone().or(sandbox.name.clone());
    if let Some(n) = &name {
        registry::check_name(n).map_err(Fail::bad)?;
    }
    // The init's own files: this cleave's copies, or a refusal.
    let copies = init::own_copies(&sandbox.maps).map_err(|p| {
        Fail::failed(format!(
            "the checkpoint maps {} into the sandbox's init, which is not a file of this cleave (its binary or its libraries): a restore hands the init only cleave's own; restore with the cleave that checkpointed it",
            p.display()
        ))
    })?;
    let host =
        mounts::read(0).map_err(|e| Fail::failed(format!("read this process's mounts: {e}")))?;

    let log = "restore.log";
    let pidfile = work.join("restore.pid");
    let _ = std::fs::remove_file(&pidfile);
    let mut args: Vec<OsString> = vec!["restore".into()];
    criu::dir_args(images, work, log, &mut args);
    let mut opts = a.criu.clone();
    opts.manage_cgroups_mode = "ignore".into();
    criu::common_args(&opts, &mut args)?;
    args.push("--root".into());
    args.push("/".into());
    args.push("--restore-detached".into());
    args.push("--pidfile".into());
    args.push(pidfile.clone().into());
    for e in &meta.externals {
        // A mount copied from the host: bound again from the same host mount point, and
        // only so (an image that names another source is refused); or one of the device
        // nodes cleave binds itself (over the /proc paths it hides).
        let same = e.host == Path::new(&e.mountpoint)
            && host
                .iter()
                .any(|h| h.mountpoint == e.mountpoint && h.root == e.root);
        let device = e.kind == ExternalKind::Bind
            && restore::HOST_DEVICES.iter().any(|d| e.host == Path::new(d));
        if !same && !device {
            return Err(Fail::failed(format!(
                "the checkpoint binds {} at {} from outside: a sandbox's restore binds only the host's own mounts at their own places; checkpoint the sandbox again",
                e.host.display(),
                e.mountpoint
            )));
        }
        args.push("--external".into());
        args.push(e.restore_arg(&e.host).into());
    }
    let handed = restore::hand_stdio(&meta, &mut args, None)?;
    let mut pairs: Vec<(i32, i32)> = handed.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect();
    let base = restore::INHERIT_BASE + handed.len() as i32;
    // Copies above the targets (see restore::dup_cloexec), not where File::open put them.
    let copies = copies
        .iter()
        .map(|f| restore::dup_cloexec(f.as_raw_fd()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Fail::failed(format!("hand cleave's own files to criu: {e}")))?;
    for (i, (m, fd)) in sandbox.maps.iter().zip(&copies).enumerate() {
        let target = base + i as i32;
        args.push("--inherit-fd".into());
        args.push(format!("fd[{target}]:{}", m.key).into());
        pairs.push((fd.as_raw_fd(), target));
    }
    super::log::debug(&format!("criu {args:?}"));
    // The restored init is CRIU's child until CRIU exits: then it comes here.
    // SAFETY: prctl with an integer option.
    #[allow(unsafe_code)]
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    let mut cmd = criu.command(&args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec the closure makes only async-signal-safe calls
    // (place_fds_in_own_mounts) on data built before the fork; it allocates nothing.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || criu::place_fds_in_own_mounts(&pairs));
    }
    let status = cmd.status();
    drop(handed);
    drop(copies);
    criu.finish("restore", status, &work.join(log))
        .map_err(|e| Fail::failed(e.to_string()))?;
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| {
            Fail::failed(format!("criu restore left no PID in {}", pidfile.display()))
        })?;
    if let Some(p) = &a.pid_file {
        super::common::write_pid_file(p, pid)?;
    }
    let registered = match &name {
        Some(n) => match registry::register(n, pid) {
            Ok(r) => Some(r),
            Err(msg) => {
                // SAFETY: kill with a PID this process restored and reaps.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                restore::wait_for(pid);
                return Err(Fail::failed(msg));
            }
        },
        None => None,
    };
    let code = restore::wait_for(pid);
    drop(registered);
    Ok(code)
}
