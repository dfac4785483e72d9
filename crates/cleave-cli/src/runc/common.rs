//! What the verbs share: the root directory, failures as runc's callers read them, a
//! container's record and its status as the live process and the cgroup tell it.
use super::cli::Global;
use super::log;
use cleave::cgroup::{CgroupPath, CgroupSet, Layout};
use cleave::container::{self, Lock, State as Record, Status};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A failure: one line, and the exit code (125 for a bad request, 1 otherwise, as runc).
#[derive(Debug)]
pub struct Fail {
    pub msg: String,
    pub code: i32,
}

impl Fail {
    /// The request is wrong (an option, an id, a config value).
    pub fn bad(msg: impl Into<String>) -> Fail {
        Fail {
            msg: msg.into(),
            code: crate::report::EXIT_BAD_REQUEST,
        }
    }

    /// Something failed while acting.
    pub fn failed(msg: impl Into<String>) -> Fail {
        Fail {
            msg: msg.into(),
            code: 1,
        }
    }

    /// Prints the line (stderr and the log); the exit code.
    pub fn report(self) -> i32 {
        log::error(&self.msg);
        self.code
    }
}

impl From<cleave::Error> for Fail {
    fn from(e: cleave::Error) -> Fail {
        Fail::failed(cleave::error::one_line(&e.to_string()))
    }
}

pub type Res<T> = Result<T, Fail>;

/// The global options the verbs act on.
#[derive(Debug)]
pub struct Ctx {
    pub root: PathBuf,
    pub rootless: bool,
    pub systemd_cgroup: bool,
}

impl Ctx {
    pub fn new(g: &Global) -> Res<Ctx> {
        let euid = rustix_euid();
        // Root in a user namespace someone else made (rootless podman runs its runtime
        // so) is no root of the host: rootless too.
        let unprivileged = euid != 0 || !cleave::host::in_initial_user_namespace();
        let rootless = match g.rootless.as_deref() {
            None | Some("auto") => unprivileged,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(Fail::bad(format!(
                    "--rootless {other:?}: give auto, true or false"
                )))
            }
        };
        let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty());
        let root = match (&g.root, xdg) {
            (Some(r), _) => r.clone(),
            (None, Some(x)) if unprivileged => Path::new(&x).join("cleave"),
            (None, None) if euid != 0 => {
                return Err(Fail::bad(
                    "without root, state lives under $XDG_RUNTIME_DIR/cleave: set XDG_RUNTIME_DIR or pass --root DIR",
                ))
            }
            (None, _) => PathBuf::from("/run/cleave"),
        };
        Ok(Ctx {
            root,
            rootless,
            systemd_cgroup: g.systemd_cgroup,
        })
    }

    /// Container `id`'s lock (waiting for whoever holds it), or "does not exist".
    pub fn lock(&self, id: &str) -> Res<Lock> {
        check_id(id)?;
        container::lock(&self.root, id).map_err(|e| missing_or(id, e))
    }

    /// Container `id`'s record, without the lock.
    pub fn load(&self, id: &str) -> Res<Record> {
        check_id(id)?;
        container::load(&self.root, id).map_err(|e| missing_or(id, e))
    }
}

pub fn rustix_euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid()
    }
}

/// Refuses an id that names no directory of its own.
pub fn check_id(id: &str) -> Res<()> {
    container::validate_id(id).map_err(|e| Fail::bad(format!("container id {id:?}: {}", inner(&e))))
}

fn inner(e: &cleave::Error) -> String {
    match e {
        cleave::Error::ContainerId { why, .. } => why.to_string(),
        other => other.to_string(),
    }
}

fn missing_or(id: &str, e: cleave::Error) -> Fail {
    if let cleave::Error::ContainerState { source, .. } = &e {
        if source.kind() == io::ErrorKind::NotFound {
            return Fail::failed(format!("container {id} does not exist"));
        }
    }
    Fail::from(e)
}

/// Whether process `pid` with start time `start` still runs (a zombie does not; a PID
/// taken by another process does not).
pub fn alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first().copied().unwrap_or("X");
    let started = fields.get(22 - 3).and_then(|s| s.parse::<u64>().ok());
    !matches!(state, "Z" | "X" | "x") && started == Some(start)
}

/// The host's cgroup layout, read from /proc/self/mountinfo once per process (a verb reads
/// it for its cgroup set and again for each status; it does not change under one verb).
pub fn layout() -> cleave::Result<&'static Layout> {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    if let Some(l) = LAYOUT.get() {
        return Ok(l);
    }
    let l = Layout::detect()?;
    Ok(LAYOUT.get_or_init(|| l))
}

/// The container's cgroup set, when it has one.
pub fn cgroup(rec: &Record) -> Option<CgroupSet> {
    let path = CgroupPath::parse(rec.cgroup_path.as_deref()?).ok()?;
    CgroupSet::open_in(layout().ok()?, &path, rec.cgroup_parent.as_deref()).ok()
}

/// The status now: stopped once the init is gone, paused while the cgroup is frozen.
pub fn status(rec: &Record) -> Status {
    status_by(rec, || {
        frozen_in_dirs(&rec.cgroup_dirs)
            .unwrap_or_else(|| cgroup(rec).is_some_and(|s| s.frozen().unwrap_or(false)))
    })
}

/// [`status`] of a container whose cgroup set the caller opened already.
pub fn status_with(rec: &Record, set: Option<&CgroupSet>) -> Status {
    status_by(rec, || set.is_some_and(|s| s.frozen().unwrap_or(false)))
}

fn status_by(rec: &Record, frozen: impl FnOnce() -> bool) -> Status {
    match rec.status {
        Status::Stopped => return Status::Stopped,
        Status::Creating if rec.pid == 0 => return Status::Creating,
        _ => {}
    }
    if !alive(rec.pid, rec.pid_start) {
        return Status::Stopped;
    }
    if rec.status == Status::Created {
        return Status::Created;
    }
    if frozen() {
        return Status::Paused;
    }
    Status::Running
}

/// Whether the cgroup whose directories the record lists is frozen, as
/// [`CgroupSet::frozen`] tells it (the cgroup2 `cgroup.events`, else a v1 `freezer.state`),
/// read straight from those directories: no mount table parsed, no set opened. `None` when
/// the record lists none (a record of an older cleave, or a container without a cgroup).
fn frozen_in_dirs(dirs: &[PathBuf]) -> Option<bool> {
    if dirs.is_empty() {
        return None;
    }
    for d in dirs {
        if let Ok(events) = std::fs::read_to_string(d.join("cgroup.events")) {
            return Some(events.lines().any(|l| l.trim() == "frozen 1"));
        }
    }
    for d in dirs {
        if let Ok(state) = std::fs::read_to_string(d.join("freezer.state")) {
            return Some(state.trim() == "FROZEN");
        }
    }
    Some(false)
}

/// runc's name for a status.
pub fn oci_status(s: Status) -> cleave_oci::Status {
    match s {
        Status::Creating | Status::Created => cleave_oci::Status::Created,
        Status::Running => cleave_oci::Status::Running,
        Status::Paused => cleave_oci::Status::Paused,
        Status::Stopped => cleave_oci::Status::Stopped,
    }
}

/// The copy of config.json kept in the container's directory.
pub const CONFIG_COPY: &str = "config.json";
/// The start barrier's FIFO in the container's directory.
pub const FIFO: &str = "start.fifo";

/// The config the container was created from (its copy in the state directory).
pub fn config(dir: &Path) -> Res<oci_spec_runtime::Spec> {
    let path = dir.join(CONFIG_COPY);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Fail::failed(format!("read {}: {e}", path.display())))?;
    cleave_oci::parse(&text).map_err(|e| Fail::failed(format!("{}: {e}", path.display())))
}

pub use cleave_oci::oci_spec::runtime as oci_spec_runtime;

/// runc's state JSON for a record.
pub fn oci_state(rec: &Record, oci_version: &str) -> cleave_oci::State {
    oci_state_as(rec, oci_version, status(rec))
}

/// runc's state JSON for a record whose status the caller knows.
pub fn oci_state_as(rec: &Record, oci_version: &str, status: Status) -> cleave_oci::State {
    cleave_oci::State {
        oci_version: oci_version.to_string(),
        id: rec.id.clone(),
        pid: if status == Status::Stopped {
            0
        } else {
            rec.pid
        },
        status: oci_status(status),
        bundle: rec.bundle.clone(),
        rootfs: rec.rootfs.clone(),
        created: rec.created.clone(),
        owner: String::new(),
        annotations: rec.annotations.clone(),
    }
}

/// The ociVersion of the container's config (the copy), or the newest cleave knows. Only
/// that field is decoded (`state`, which clients call often, needs nothing else).
pub fn oci_version(dir: &Path) -> String {
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(rename = "ociVersion")]
        oci_version: String,
    }
    std::fs::read(dir.join(CONFIG_COPY))
        .ok()
        .and_then(|t| serde_json::from_slice::<Version>(&t).ok())
        .map(|v| v.oci_version)
        .unwrap_or_else(|| cleave_oci::OCI_VERSION_MAX.to_string())
}

/// Writes `pid` to `path` whole: a temporary file beside it, renamed over it.
pub fn write_pid_file(path: &Path, pid: i32) -> Res<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Fail::failed(format!("--pid-file {}: {e}", path.display())))
}

/// A signal: a name with or without SIG (`TERM`, `SIGKILL`, `kill`) or a number.
pub fn parse_signal(text: &str) -> Res<i32> {
    if let Ok(n) = text.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Fail::bad(format!(
            "signal {text}: give a number from 1 to 64 or a name such as TERM"
        )));
    }
    let upper = text.to_ascii_uppercase();
    let with = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    cleave::flags::parse_exit_signal(&with)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            Fail::bad(format!(
                "signal {text:?}: unknown; give a name such as TERM or KILL, or a number"
            ))
        })
}

/// Sends `sig` to the container's init through a pidfd taken after checking its start time
/// (a PID reused by another process is never hit).
pub fn signal_init(rec: &Record, sig: i32) -> Res<()> {
    let child = cleave::Child::adopt(rec.pid).map_err(|_| not_running(rec))?;
    if !alive(rec.pid, rec.pid_start) {
        return Err(not_running(rec));
    }
    child.signal(sig).map_err(|_| not_running(rec))
}

pub fn not_running(rec: &Record) -> Fail {
    Fail::failed(format!("container {} is not running", rec.id))
}

/// Waits until the init is gone (the pidfd polls readable), at most `secs` seconds.
pub fn wait_gone(rec: &Record, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while alive(rec.pid, rec.pid_start) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// A pid file whose directory is opened now, so that the PID can be written later from
/// wherever this process has moved (`exec` takes the container's root before it knows the
/// PID): a temporary name in that directory, renamed over the file.
pub struct PidFile {
    dir: std::fs::File,
    name: std::ffi::CString,
    tmp: std::ffi::CString,
    shown: PathBuf,
}

impl PidFile {
    pub fn open(path: &Path) -> Res<PidFile> {
        use std::os::unix::ffi::OsStrExt;
        let bad = |why: String| Fail::failed(format!("--pid-file {}: {why}", path.display()));
        let name = path
            .file_name()
            .ok_or_else(|| bad("names no file".into()))?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = std::fs::File::open(parent).map_err(|e| bad(e.to_string()))?;
        let mut tmp = b".".to_vec();
        tmp.extend_from_slice(name.as_bytes());
        tmp.extend_from_slice(b".tmp");
        Ok(PidFile {
            dir,
            name: std::ffi::CString::new(name.as_bytes()).map_err(|e| bad(e.to_string()))?,
            tmp: std::ffi::CString::new(tmp).map_err(|e| bad(e.to_string()))?,
            shown: path.to_path_buf(),
        })
    }

    pub fn write(&self, pid: i32) -> Res<()> {
        use std::io::Write;
        use std::os::fd::{AsRawFd, FromRawFd};
        let fail =
            |e: std::io::Error| Fail::failed(format!("--pid-file {}: {e}", self.shown.display()));
        let d = self.dir.as_raw_fd();
        // SAFETY: openat and renameat with an open directory fd and NUL-terminated names;
        // the new fd is owned at once.
        #[allow(unsafe_code)]
        unsafe {
            let fd = libc::openat(
                d,
                self.tmp.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o644,
            );
            if fd < 0 {
                return Err(fail(std::io::Error::last_os_error()));
            }
            let mut f = std::fs::File::from_raw_fd(fd);
            f.write_all(pid.to_string().as_bytes()).map_err(fail)?;
            drop(f);
            if libc::renameat(d, self.tmp.as_ptr(), d, self.name.as_ptr()) != 0 {
                return Err(fail(std::io::Error::last_os_error()));
            }
        }
        Ok(())
    }
}
