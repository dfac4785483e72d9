//! `create`: the container set up from its bundle and left waiting at its start barrier (a
//! FIFO in the state directory that `start`, another process, writes to). Its pid file is
//! written before this returns; nothing of the program has run.
use super::cli::{CreateArgs, CreateOpts};
use super::common::{self, Ctx, Fail, Res, CONFIG_COPY, FIFO};
use super::{hooks, log};
use cleave::cgroup::{CgroupPath, CgroupSet};
use cleave::container::{self, Lock, State as Record, Status};
use cleave::sandbox::{prepare, Running};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Config values cleave's runtime layer applies itself.
const APPLIED_HERE: &[&str] = &[
    "linux.cgroupsPath",
    "process.user.umask",
    "process.user.additionalGids",
    "process.oomScoreAdj",
    "linux.sysctl",
];

/// A container created by this process.
pub struct Created {
    pub running: Running,
    pub lock: Lock,
    /// The bundle's config, as parsed.
    pub config: common::oci_spec_runtime::Spec,
}

pub fn run(ctx: &Ctx, a: CreateArgs) -> Res<i32> {
    let created = create(ctx, &a.id, &a.opts)?;
    drop(created.lock);
    // The init goes on waiting; its parent becomes our parent's subreaper or init.
    std::mem::forget(created.running);
    Ok(0)
}

fn bundle_dir(opts: &CreateOpts) -> Res<PathBuf> {
    let b = opts.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::canonicalize(&b).map_err(|e| Fail::bad(format!("--bundle {}: {e}", b.display())))
}

/// systemd's `slice:prefix:name` as the path systemd would give the scope: the slice
/// expanded into its parents as systemd nests them (`machine-web.slice` lies in
/// `machine.slice`; systemd.slice(5)), `system.slice` when empty (`user.slice` rootless),
/// `-.slice` the root. `None` when `p` is not of that form or names a slice systemd would
/// refuse (a leading, trailing or doubled `-`, or no `.slice` suffix).
fn systemd_path(p: &str, rootless: bool) -> Option<String> {
    let parts: Vec<&str> = p.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return None;
    };
    if p.contains('/') || name.is_empty() {
        return None;
    }
    let slice = match slice {
        "" if rootless => "user.slice",
        "" => "system.slice",
        s => s,
    };
    let mut path = String::new();
    if slice != "-.slice" {
        let stem = slice.strip_suffix(".slice")?;
        if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
            return None;
        }
        // a-b-c.slice: a.slice/a-b.slice/a-b-c.slice
        for (i, _) in stem.match_indices('-') {
            path.push_str(&stem[..i]);
            path.push_str(".slice/");
        }
        path.push_str(slice);
        path.push('/');
    }
    // A unit named *.slice is that slice; otherwise a scope, prefix-name.scope (name.scope
    // without a prefix), as runc's systemd driver names it.
    if name.ends_with(".slice") {
        path.push_str(name);
    } else if prefix.is_empty() {
        path.push_str(&format!("{name}.scope"));
    } else {
        path.push_str(&format!("{prefix}-{name}.scope"));
    }
    Some(path)
}

/// A bundle's config, read, parsed and lowered, refused when it asks what cleave does not
/// apply.
pub(super) struct Bundled {
    pub bundle: PathBuf,
    pub config_path: PathBuf,
    pub text: String,
    pub config: common::oci_spec_runtime::Spec,
    pub lowered: cleave_oci::Lowered,
}

pub(super) fn bundled(ctx: &Ctx, opts: &CreateOpts) -> Res<Bundled> {
    let bundle = bundle_dir(opts)?;
    let config_path = bundle.join("config.json");
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| Fail::bad(format!("{}: {e}", config_path.display())))?;
    let config = cleave_oci::parse(&text)
        .map_err(|e| Fail::bad(format!("{}: {e}", config_path.display())))?;
    let mut lowered = cleave_oci::lower(&config, &bundle)
        .map_err(|e| Fail::bad(format!("{}: {e}", config_path.display())))?;
    if let Some(p) = lowered
        .pending
        .iter()
        .find(|p| !APPLIED_HERE.contains(&p.path.as_str()))
    {
        return Err(Fail::bad(format!(
            "{}: {}: cleave does not apply this yet; remove it to run the container",
            config_path.display(),
            p.path
        )));
    }
    for n in &lowered.notes {
        log::info(&format!("{}: {}", n.path, n.what));
    }
    // No device rules in the config: runc's defaults, where they can be enforced (a v1
    // devices controller, a cgroup of the container's own).
    if let Some(rules) = &lowered.carried.default_devices {
        if !ctx.rootless && Path::new("/sys/fs/cgroup/devices/devices.allow").exists() {
            lowered.spec.limits.devices = Some(rules.clone());
        }
    }
    Ok(Bundled {
        bundle,
        config_path,
        text,
        config,
        lowered,
    })
}

pub fn create(ctx: &Ctx, id: &str, opts: &CreateOpts) -> Res<Created> {
    common::check_id(id)?;
    let Bundled {
        bundle,
        config_path,
        text,
        config,
        mut lowered,
    } = bundled(ctx, opts)?;
    let carried = lowered.carried.clone();
    let limits = std::mem::take(&mut lowered.spec.limits);
    let spec = &mut lowered.spec;
    spec.process.umask = carried.umask.or(spec.process.umask);
    if !carried.additional_gids.is_empty() {
        spec.ids.groups = carried.additional_gids.clone();
    }
    if opts.no_new_keyring {
        spec.security.new_session_keyring = false;
    }
    spec.process.preserve_fds = (3..3 + opts.preserve_fds as i32).collect();

    let mut record = Record::new(id, bundle.clone(), carried.rootfs.clone())?;
    record.annotations = carried.annotations.clone();
    record.rootless = ctx.rootless;
    let lock = container::create(&ctx.root, &record).map_err(|e| match &e {
        cleave::Error::ContainerState { source, .. }
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            Fail::failed(format!("container {id} already exists"))
        }
        _ => Fail::from(e),
    })?;
    let mut cgroup = None;
    let result = (|| {
        std::fs::write(lock.dir().join(CONFIG_COPY), &text)
            .map_err(|e| Fail::failed(format!("copy config.json into the state directory: {e}")))?;
        cgroup = make_cgroup(ctx, id, &carried, &limits, &mut record)?;
        finish(
            ctx,
            opts,
            &lock,
            &mut record,
            &lowered,
            &config,
            cgroup.as_ref(),
            &config_path,
        )
    })();
    match result {
        Ok(running) => Ok(Created {
            running,
            lock,
            config,
        }),
        Err(f) => {
            if let Some(set) = cgroup {
                let _ = set.remove();
            }
            let _ = lock.remove();
            Err(f)
        }
    }
}

pub(super) fn make_cgroup(
    ctx: &Ctx,
    id: &str,
    carried: &cleave_oci::Carried,
    limits: &cleave::cgroup::Limits,
    record: &mut Record,
) -> Res<Option<CgroupSet>> {
    let given = carried
        .cgroups_path
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let text = match given {
        Some(p) if ctx.systemd_cgroup => systemd_path(&p, ctx.rootless).unwrap_or(p),
        Some(p) => p,
        None => format!("cleave/{id}"),
    };
    let path = CgroupPath::parse(&text).map_err(|e| {
        Fail::bad(format!(
            "linux.cgroupsPath {text:?}: {}",
            cleave::error::one_line(&e.to_string())
        ))
    })?;
    // Rootless: below the caller's own cgroup2 directory when it was delegated to the user
    // (the only place an unprivileged process may make one); else nowhere, as runc.
    let parent = if ctx.rootless {
        delegated_cgroup2()
    } else {
        None
    };
    match common::layout()
        .and_then(|l| CgroupSet::create_at_in(l, &path, limits, parent.as_deref()))
    {
        Ok(set) => {
            record.cgroup_path = Some(path.to_string());
            record.cgroup_parent = parent;
            record.cgroup_dirs = set.paths();
            Ok(Some(set))
        }
        Err(cleave::Error::CgroupRequest(p @ cleave::error::CgroupProblem::DevicesWithoutV1)) => {
            Err(Fail::bad(format!("linux.resources.devices: {p}")))
        }
        Err(e) if ctx.rootless && limits.is_empty() => {
            log::debug(&format!("no cgroup for a rootless container: {e}"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The caller's own cgroup2 directory when this user may make cgroups in it and move
/// processes there (its directory and `cgroup.procs` writable: a delegated subtree).
fn delegated_cgroup2() -> Option<PathBuf> {
    let dir = cleave::cgroup::own_cgroup2_dir()?;
    let writable = |p: &Path| {
        let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: access with a NUL-terminated path.
        #[allow(unsafe_code)]
        unsafe {
            libc::access(c.as_ptr(), libc::W_OK) == 0
        }
    };
    (writable(&dir) && writable(&dir.join("cgroup.procs"))).then_some(dir)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &Ctx,
    opts: &CreateOpts,
    lock: &Lock,
    record: &mut Record,
    lowered: &cleave_oci::Lowered,
    config: &common::oci_spec_runtime::Spec,
    cgroup: Option<&CgroupSet>,
    config_path: &Path,
) -> Res<Running> {
    let _ = ctx;
    let mut spec = lowered.spec.clone();
    // The barrier: a FIFO opened read-write, so the read blocks until `start` writes (and
    // `start` can open it for writing without blocking while the init holds it).
    let fifo = lock.dir().join(FIFO);
    let c = CString::new(fifo.as_os_str().as_bytes()).unwrap_or_default();
    // SAFETY: mkfifo and open with a NUL-terminated path; the fd is owned at once.
    #[allow(unsafe_code)]
    let barrier = unsafe {
        if libc::mkfifo(c.as_ptr(), 0o600) != 0 {
            return Err(Fail::failed(format!(
                "make the start FIFO {}: {}",
                fifo.display(),
                std::io::Error::last_os_error()
            )));
        }
        let fd = libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(Fail::failed(format!(
                "open the start FIFO: {}",
                std::io::Error::last_os_error()
            )));
        }
        OwnedFd::from_raw_fd(fd)
    };
    spec.process.start_barrier = Some(barrier.as_raw_fd());
    record.start_barrier = Some(fifo);

    let mut pty = None;
    if lowered.carried.terminal {
        let Some(sock_path) = &opts.console_socket else {
            return Err(Fail::bad(
                "process.terminal is true: pass --console-socket PATH to receive the terminal",
            ));
        };
        let p = cleave::supervise::Pty::open()?;
        if let Some((h, w)) = lowered.carried.console_size {
            let ws = libc::winsize {
                ws_row: h as u16,
                ws_col: w as u16,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCSWINSZ reads one winsize.
            #[allow(unsafe_code)]
            unsafe {
                libc::ioctl(p.master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
        // The socket itself (supervise::console_socket would open a second pty and hand
        // back its slave, on which a send fails with ENOTSOCK).
        let sock = std::os::unix::net::UnixStream::connect(sock_path)
            .map_err(|e| Fail::failed(format!("--console-socket {}: {e}", sock_path.display())))?;
        cleave::supervise::send_fd(sock.as_fd(), p.master.as_fd())
            .map_err(|e| Fail::failed(format!("--console-socket {}: {e}", sock_path.display())))?;
        record.console_socket = Some(sock_path.clone());
        spec.process.terminal = Some(p.slave.as_raw_fd());
        pty = Some(p);
    } else if opts.console_socket.is_some() {
        log::debug("--console-socket without process.terminal: ignored");
    }

    // The container starts in the cgroup2 directory and moves itself into the v1 ones,
    // first thing (cheap from the child itself: see cleave::cgroup::join).
    if let Some(set) = cgroup {
        let paths = set.paths();
        if set.into_cgroup_dir().is_some() {
            spec.clone.into_cgroup = paths.first().cloned();
            spec.clone.v1_cgroups = paths[1..].to_vec();
        } else {
            spec.clone.v1_cgroups = paths;
        }
    }
    let prepared = prepare(&spec).map_err(|e| match lowered.locate(e) {
        Ok(oe) => Fail::bad(format!("{}: {oe}", config_path.display())),
        Err(e) => Fail::from(e),
    })?;
    let mut running = prepared.spawn().map_err(|e| match lowered.locate(e) {
        Ok(oe) => Fail::failed(format!("{}: {oe}", config_path.display())),
        Err(e) => Fail::from(e),
    })?;
    drop(pty);
    drop(barrier);
    let pid = running.id();
    let fail_after = |running: &mut Running, f: Fail| {
        let _ = running.child().kill();
        let _ = running.child().wait();
        f
    };
    if let Err(e) = record.set_init(pid) {
        return Err(fail_after(
            &mut running,
            Fail::failed(format!("read the init's start time: {e}")),
        ));
    }
    record.status = Status::Created;
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        record.namespaces.insert(
            ns.to_string(),
            PathBuf::from(format!("/proc/{pid}/ns/{ns}")),
        );
    }
    if let Some(adj) = lowered.carried.oom_score_adj {
        if let Err(e) = std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string()) {
            return Err(fail_after(
                &mut running,
                Fail::failed(format!("process.oomScoreAdj {adj}: {e}")),
            ));
        }
    }
    if let Err(f) = sysctl(pid, &lowered.carried.sysctl) {
        return Err(fail_after(&mut running, f));
    }
    if let Err(e) = lock.save(record) {
        return Err(fail_after(&mut running, e.into()));
    }
    if let Some(p) = &opts.pid_file {
        if let Err(f) = common::write_pid_file(p, pid) {
            return Err(fail_after(&mut running, f));
        }
    }
    let h = config.hooks().clone().unwrap_or_default();
    // A config of runtime-spec 1.0 runs its prestart hooks at start (that spec's time).
    let prestart = if hooks::prestart_at_start(config.version()) {
        None
    } else {
        h.prestart().as_ref()
    };
    let some = |v: Option<&Vec<_>>| v.is_some_and(|v| !v.is_empty());
    if !some(prestart) && !some(h.create_runtime().as_ref()) && !some(h.create_container().as_ref())
    {
        return Ok(running);
    }
    let state = common::oci_state(record, config.version());
    let hooks_ok = hooks::run("prestart", prestart, &state)
        .and_then(|_| hooks::run("createRuntime", h.create_runtime().as_ref(), &state))
        .and_then(|_| {
            hooks::run_at(
                "createContainer",
                h.create_container().as_ref(),
                &state,
                hooks::Place::ContainerPathOutside(pid),
            )
        });
    if let Err(f) = hooks_ok {
        return Err(fail_after(&mut running, f));
    }
    Ok(running)
}

/// The namespace a sysctl belongs to, by its key: net.* to the network namespace, the SysV
/// IPC and POSIX message-queue ones to the IPC namespace, the host and domain names to the
/// UTS namespace. Anything else is the host's own and is refused.
fn sysctl_namespace(key: &str) -> Option<&'static str> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if key.starts_with("net.") {
        Some("net")
    } else if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some("ipc")
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some("uts")
    } else {
        None
    }
}

/// `linux.sysctl`: each value written, from a thread that joined the init's network, IPC
/// and UTS namespaces (those are per thread), to /proc/sys. A key whose namespace the
/// container shares with this process would change the host, and is refused, as is a key
/// that is not a plain dotted name.
fn sysctl(pid: i32, values: &std::collections::BTreeMap<String, String>) -> Res<()> {
    if values.is_empty() {
        return Ok(());
    }
    let ino = |p: String| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let mut writes = Vec::new();
    for (key, value) in values {
        let bad = |why: &str| Fail::bad(format!("linux.sysctl.{key}: {why}"));
        if key
            .split('.')
            .any(|p| p.is_empty() || p == ".." || p.contains('/'))
        {
            return Err(bad(
                "not a sysctl name: write dotted names such as net.ipv4.ip_forward",
            ));
        }
        let Some(ns) = sysctl_namespace(key) else {
            return Err(bad(
                "not a namespaced sysctl: setting it would change the host for every process",
            ));
        };
        let own = ino(format!("/proc/self/ns/{ns}"))
            .map_err(|e| Fail::failed(format!("linux.sysctl: {e}")))?;
        let theirs = ino(format!("/proc/{pid}/ns/{ns}"))
            .map_err(|e| Fail::failed(format!("linux.sysctl: {e}")))?;
        if own == theirs {
            return Err(bad(&format!(
                "needs a new {ns} namespace in linux.namespaces: the container shares the host's"
            )));
        }
        writes.push((
            format!("/proc/sys/{}", key.replace('.', "/")),
            value.clone(),
            key.clone(),
        ));
    }
    let files: Vec<std::fs::File> = ["net", "ipc", "uts"]
        .iter()
        .map(|ns| std::fs::File::open(format!("/proc/{pid}/ns/{ns}")))
        .collect::<std::io::Result<_>>()
        .map_err(|e| {
            Fail::failed(format!(
                "linux.sysctl: open the container's namespaces: {e}"
            ))
        })?;
    std::thread::spawn(move || -> Result<(), String> {
        for f in &files {
            // SAFETY: setns with an open namespace fd; this thread only.
            #[allow(unsafe_code)]
            if unsafe { libc::setns(f.as_raw_fd(), 0) } != 0 {
                return Err(format!(
                    "linux.sysctl: join the container's namespaces: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        for (path, value, key) in writes {
            std::fs::write(&path, &value)
                .map_err(|e| format!("linux.sysctl.{key} = {value:?}: {e}"))?;
        }
        Ok(())
    })
    .join()
    .map_err(|_| Fail::failed("linux.sysctl: the writing thread panicked"))?
    .map_err(Fail::failed)
}

#[cfg(test)]
mod tests {
    use super::systemd_path;

    #[test]
    fn systemd_slices_nest_as_systemd_nests_them() {
        let p = |s| systemd_path(s, false);
        assert_eq!(
            p("machine.slice:libpod:abc").as_deref(),
            Some("machine.slice/libpod-abc.scope")
        );
        assert_eq!(
            p("machine-web-a.slice:cri:x").as_deref(),
            Some("machine.slice/machine-web.slice/machine-web-a.slice/cri-x.scope")
        );
        assert_eq!(p(":runc:c1").as_deref(), Some("system.slice/runc-c1.scope"));
        assert_eq!(
            systemd_path(":runc:c1", true).as_deref(),
            Some("user.slice/runc-c1.scope")
        );
        assert_eq!(p("-.slice::c1").as_deref(), Some("c1.scope"));
        assert_eq!(p("a.slice:p:b.slice").as_deref(), Some("a.slice/b.slice"));
        // Not systemd's form, or a slice name systemd refuses: used as given.
        for bad in [
            "/a/b",
            "a:b",
            "a.slice:p:",
            "web:p:c",
            "-a.slice:p:c",
            "a-.slice:p:c",
            "a--b.slice:p:c",
            "a/b.slice:p:c",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }
}
