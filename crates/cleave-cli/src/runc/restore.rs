//! `restore`: a new container from a checkpoint's images and a bundle, with `criu restore`.
//! The container gets a record of its own under this --root, a cgroup made from the
//! bundle's config (its limits), the config's bind sources for its external mounts (so a
//! copied bundle elsewhere works), its own cgroup at its cgroup mounts, and this process's
//! stdio in place of the stdio it was saved with. CRIU runs in a mount namespace of its own
//! in which the rootfs is a mount point: nothing is left mounted on the host.
use super::cli::{CreateOpts, RestoreArgs};
use super::common::{self, Ctx, Fail, Res, CONFIG_COPY};
use super::{create, criu, delete};
use cleave::checkpoint::layer::{LayerKind, RootLayer};
use cleave::checkpoint::{mounts, ExternalKind, Meta};
use cleave::container::{self, State as Record, Status};
use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Where the descriptors handed to CRIU (`--inherit-fd fd[N]`) start: fd 10 + their index.
pub(super) const INHERIT_BASE: i32 = 10;

/// `inside` (a mount point of the container) as a path of `rootfs`, if it exists and every
/// link on the way stays inside the rootfs (nothing of the container runs during a restore).
fn in_rootfs(rootfs: &Path, inside: &str) -> Option<PathBuf> {
    let root = rootfs.canonicalize().ok()?;
    let path = root
        .join(inside.trim_start_matches('/'))
        .canonicalize()
        .ok()?;
    (path.starts_with(&root) && path != root).then_some(path)
}

/// The host's device nodes cleave binds into containers itself (a masked path's /dev/null,
/// the nodes of a rootless /dev): the only bind sources a restore takes from an image.
pub(super) const HOST_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

pub fn run(ctx: &Ctx, a: RestoreArgs, criu_path: Option<&Path>) -> Res<i32> {
    // What cleave's caller left open is no business of CRIU's: at restore it clashed with
    // the descriptors cleave hands over by number (a restored connection was lost).
    let _ = cleave::fd::cloexec_from(3);
    if let Some(id) = &a.id {
        common::check_id(id)?;
    }
    let criu = criu::find(ctx, criu_path)?;
    criu::refuse_unservable(&criu, false, a.criu.lazy_pages)?;
    let (images, work) = criu::dirs(&a.criu)?;
    let meta = Meta::load(&images).map_err(|e| {
        Fail::bad(format!(
            "{e}: not an image directory of `cleave checkpoint` (--image-path)"
        ))
    })?;
    // The image directory says what it holds: a sandbox of `cleave spawn` is restored
    // as one (no id, no bundle), a container with its id.
    if meta.sandbox.is_some() || a.id.is_none() {
        return super::sandbox_ckpt::restore(a, meta, &criu, &images, &work);
    }
    let id = a.id.clone().unwrap_or_default();
    let opts = CreateOpts {
        bundle: a.bundle.clone(),
        ..CreateOpts::default()
    };
    let create::Bundled {
        bundle,
        config_path: _,
        text,
        config,
        mut lowered,
    } = create::bundled(ctx, &opts)?;
    let carried = lowered.carried.clone();
    let limits = std::mem::take(&mut lowered.spec.limits);

    // The container this checkpoint was taken from, stopped by it, is replaced.
    if let Ok(old) = ctx.load(&id) {
        if common::status(&old) == Status::Stopped {
            delete::delete(ctx.lock(&id)?, false)?;
        }
    }
    let mut record = Record::new(&id, bundle.clone(), carried.rootfs.clone())?;
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
    let result = (|| -> Res<i32> {
        std::fs::write(lock.dir().join(CONFIG_COPY), &text)
            .map_err(|e| Fail::failed(format!("copy config.json into the state directory: {e}")))?;
        cgroup = create::make_cgroup(ctx, &id, &carried, &limits, &mut record)?;
        let dirs = cgroup.as_ref().map(|s| s.paths()).unwrap_or_default();
        let binds = config_binds(&config, &bundle);
        let host = mounts::read(0)
            .map_err(|e| Fail::failed(format!("read this process's mounts: {e}")))?;

        let log = "restore.log";
        let pidfile = work.join("restore.pid");
        let _ = std::fs::remove_file(&pidfile);
        let mut args: Vec<OsString> = vec!["restore".into()];
        criu::dir_args(&images, &work, log, &mut args);
        criu::common_args(&a.criu, &mut args)?;
        // A root that was a throw-away layer (see cleave::checkpoint::layer) is made again
        // on a tmpfs at `layer_dir`, in CRIU's own mount namespace.
        let layer_dir = work.join("cleave-root");
        let layer = match &meta.root_layer {
            Some(l) => {
                std::fs::create_dir_all(&layer_dir)
                    .map_err(|e| Fail::failed(format!("make {}: {e}", layer_dir.display())))?;
                Some(LayerC::new(l, &layer_dir)?)
            }
            None => None,
        };
        args.push("--root".into());
        args.push(match &layer {
            Some(_) => layer_dir.clone().into(),
            None => carried.rootfs.clone().into(),
        });
        args.push("--restore-detached".into());
        args.push("--pidfile".into());
        args.push(pidfile.clone().into());
        for (ctl, rel) in criu::cgroup_roots(&dirs, &host) {
            args.push("--cgroup-root".into());
            args.push(format!("{ctl}:{rel}").into());
        }
        for e in &meta.externals {
            let source = match e.kind {
                // What the bundle's config binds there, one of the device nodes cleave
                // itself binds (over masked paths; a rootless /dev), or the rootfs's own
                // entry: never another host path the image names.
                ExternalKind::Bind => binds
                    .iter()
                    .find(|(dest, _)| dest == &e.mountpoint)
                    .map(|(_, src)| src.clone())
                    .or_else(|| {
                        HOST_DEVICES
                            .iter()
                            .any(|d| e.host == Path::new(d))
                            .then(|| e.host.clone())
                    })
                    // An entry of the rootfs bound back onto its throw-away layer: the same
                    // entry of this bundle's rootfs, if it stays inside it.
                    .or_else(|| in_rootfs(&carried.rootfs, &e.mountpoint))
                    .ok_or_else(|| {
                        Fail::failed(format!(
                            "the checkpoint binds {} from outside, which the bundle's config \
                             does not: add that bind to config.json (cleave does not bind host \
                             paths an image names)",
                            e.mountpoint
                        ))
                    })?,
                ExternalKind::Cgroup | ExternalKind::Cgroup2 => e
                    .hierarchy
                    .as_ref()
                    .and_then(|h| dirs.iter().find(|d| d.starts_with(h)))
                    .cloned()
                    .unwrap_or_else(|| e.host.clone()),
            };
            args.push("--external".into());
            args.push(e.restore_arg(&source).into());
        }
        // This process's stdio takes the place of the stdio the container was saved with;
        // a terminal, a new one whose master goes to --console-socket.
        let pty = new_terminal(&meta, a.console_socket.as_deref())?;
        if pty.is_some() {
            record.console_socket = a.console_socket.clone();
        }
        let handed = hand_stdio(&meta, &mut args, pty.as_ref().map(|p| p.slave.as_fd()))?;
        super::log::debug(&format!("criu {args:?}"));

        if !a.detach {
            // The restored init is CRIU's child until CRIU exits: then it comes here.
            // SAFETY: prctl with an integer option.
            #[allow(unsafe_code)]
            unsafe {
                libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            }
        }
        let rootfs = CString::new(carried.rootfs.as_os_str().as_bytes())
            .map_err(|_| Fail::bad("root.path holds a NUL byte"))?;
        let pairs: Vec<(i32, i32)> = handed.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect();
        let mut cmd = criu.command(&args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec the closure makes only async-signal-safe calls
        // (dup2, unshare, mount) on data built before the fork; it allocates nothing.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(move || {
                criu::place_fds_in_own_mounts(&pairs)?;
                if libc::mount(
                    rootfs.as_ptr(),
                    rootfs.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(l) = &layer {
                    l.make()?;
                }
                Ok(())
            });
        }
        let status = cmd.status();
        if meta.root_layer.is_some() {
            let _ = std::fs::remove_dir(&layer_dir);
        }
        drop(handed);
        criu.finish("restore", status, &work.join(log))
            .map_err(|e| Fail::failed(e.to_string()))?;
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| {
                Fail::failed(format!("criu restore left no PID in {}", pidfile.display()))
            })?;
        record
            .set_init(pid)
            .map_err(|e| Fail::failed(format!("read the restored init's start time: {e}")))?;
        record.status = Status::Running;
        for ns in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
            record.namespaces.insert(
                ns.to_string(),
                PathBuf::from(format!("/proc/{pid}/ns/{ns}")),
            );
        }
        lock.save(&record)?;
        if let Some(p) = &a.pid_file {
            common::write_pid_file(p, pid)?;
        }
        Ok(pid)
    })();
    let pid = match result {
        Ok(pid) => pid,
        Err(f) => {
            if let Some(set) = cgroup {
                let _ = set.kill();
                let _ = set.remove();
            }
            let _ = lock.remove();
            return Err(f);
        }
    };
    std::mem::forget(cgroup);
    if a.detach {
        drop(lock);
        return Ok(0);
    }
    drop(lock);
    let code = wait_for(pid);
    if let Ok(lock) = ctx.lock(&id) {
        delete::delete(lock, true)?;
    }
    Ok(code)
}

/// This process's stdio in place of the stdio the tree was saved with: each descriptor
/// handed to CRIU (`--inherit-fd`), as an fd of this process and the number it gets in
/// CRIU (from [`INHERIT_BASE`] on).
/// A terminal the tree was saved with (`tty[...]`) gets `tty` when given (the slave of a
/// new pair whose master went to the console socket), else this process's stdio.
pub(super) fn hand_stdio(
    meta: &Meta,
    args: &mut Vec<OsString>,
    tty: Option<std::os::fd::BorrowedFd<'_>>,
) -> Res<Vec<(OwnedFd, i32)>> {
    let mut handed: Vec<(OwnedFd, i32)> = Vec::new();
    for (i, d) in meta.descriptors.iter().enumerate() {
        let new_tty = tty.filter(|_| d.key.starts_with("tty["));
        let own = if let Some(t) = new_tty {
            dup_cloexec(t.as_raw_fd())
                .map_err(|e| Fail::failed(format!("hand the new terminal to criu: {e}")))?
        } else if (0..3).contains(&d.fd) {
            dup_cloexec(d.fd).map_err(|e| Fail::failed(format!("hand fd {} to criu: {e}", d.fd)))?
        } else {
            // A copy of the init's stdio held under another number gets what that stdio
            // gets; a host path the image names is never opened (see Descriptor::stdio_of).
            let Some(k) = d.stdio_of.filter(|k| (0..3).contains(k)) else {
                return Err(Fail::failed(format!(
                    "the checkpoint names an outside file{} that is not the container's \
                     stdio: cleave does not open host paths an image names; checkpoint \
                     the container again with this cleave",
                    d.host
                        .as_ref()
                        .map(|h| format!(" ({})", h.display()))
                        .unwrap_or_default()
                )));
            };
            dup_cloexec(k).map_err(|e| Fail::failed(format!("hand fd {k} to criu: {e}")))?
        };
        let target = INHERIT_BASE + i as i32;
        args.push("--inherit-fd".into());
        args.push(d.inherit_arg(target).into());
        handed.push((own, target));
    }
    Ok(handed)
}

/// For a checkpoint with a terminal: a new pair, its master sent over the console socket
/// (as `create` does), its slave to take the saved terminal's place.
fn new_terminal(meta: &Meta, socket: Option<&Path>) -> Res<Option<cleave::supervise::Pty>> {
    if !meta.descriptors.iter().any(|d| d.key.starts_with("tty[")) {
        return Ok(None);
    }
    let Some(path) = socket else {
        return Err(Fail::bad(
            "the container was checkpointed with a terminal: pass --console-socket PATH to receive its new one",
        ));
    };
    let pty = cleave::supervise::Pty::open()?;
    let sock = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| Fail::failed(format!("--console-socket {}: {e}", path.display())))?;
    cleave::supervise::send_fd(sock.as_fd(), pty.master.as_fd())
        .map_err(|e| Fail::failed(format!("--console-socket {}: {e}", path.display())))?;
    Ok(Some(pty))
}

/// Waits for the restored init (this process is its subreaper); its shell exit code.
pub(super) fn wait_for(pid: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid with a PID and a status int.
        #[allow(unsafe_code)]
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 1;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// Where the copies handed to CRIU are made: above every `--inherit-fd` target, so that
/// moving one copy onto its target (dup2, in order) never overwrites a copy not yet moved.
const HANDED_FROM: i32 = 256;

/// `fcntl(fd, F_DUPFD_CLOEXEC, HANDED_FROM)`.
pub(super) fn dup_cloexec(fd: i32) -> std::io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_DUPFD_CLOEXEC returns a new fd, owned at once.
    #[allow(unsafe_code)]
    unsafe {
        let n = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, HANDED_FROM);
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(n))
    }
}

/// The config's bind mounts: destination and source (relative ones under the bundle).
fn config_binds(config: &common::oci_spec_runtime::Spec, bundle: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for m in config.mounts().as_deref().unwrap_or(&[]) {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .any(|o| o == "bind" || o == "rbind");
        let Some(src) = m.source() else { continue };
        if bind {
            let src = if src.is_absolute() {
                src.clone()
            } else {
                bundle.join(src)
            };
            out.push((m.destination().to_string_lossy().into_owned(), src));
        }
    }
    out
}

/// A root layer to make again, as C strings made before the fork (see
/// cleave::checkpoint::layer).
struct LayerC {
    dir: CString,
    data: CString,
    entries: Vec<(LayerKind, CString, CString)>,
}

impl LayerC {
    fn new(layer: &RootLayer, dir: &Path) -> Res<LayerC> {
        let c = |b: &[u8]| {
            CString::new(b).map_err(|_| Fail::failed("a root layer entry holds a NUL byte"))
        };
        let mut entries = Vec::new();
        for (path, kind) in layer.paths(dir) {
            let target = match &kind {
                LayerKind::Link(t) => c(t.as_bytes())?,
                _ => CString::default(),
            };
            entries.push((kind, c(path.as_os_str().as_bytes())?, target));
        }
        Ok(LayerC {
            dir: c(dir.as_os_str().as_bytes())?,
            data: c(format!("mode={:04o}", layer.mode & 0o7777).as_bytes())?,
            entries,
        })
    }

    /// Mounts the tmpfs and makes the entries: between fork and exec, so only
    /// async-signal-safe calls on what `new` built.
    fn make(&self) -> std::io::Result<()> {
        let err = || Err(std::io::Error::last_os_error());
        // SAFETY: mount, mkdir, open, close and symlink on NUL-terminated strings that
        // outlive the calls.
        #[allow(unsafe_code)]
        unsafe {
            if libc::mount(
                c"tmpfs".as_ptr(),
                self.dir.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                self.data.as_ptr().cast(),
            ) != 0
            {
                return err();
            }
            for (kind, path, target) in &self.entries {
                match kind {
                    LayerKind::Dir => {
                        if libc::mkdir(path.as_ptr(), 0o755) != 0 {
                            return err();
                        }
                    }
                    LayerKind::File => {
                        let fd = libc::open(
                            path.as_ptr(),
                            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
                            0o644,
                        );
                        if fd < 0 {
                            return err();
                        }
                        libc::close(fd);
                    }
                    LayerKind::Link(_) => {
                        if libc::symlink(target.as_ptr(), path.as_ptr()) != 0 {
                            return err();
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
