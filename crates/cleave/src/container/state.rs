//! The state record of one container: `<root>/<id>/state.json`, written whole or not at all
//! (a temporary file in the same directory, then rename), and
//! `<root>/<id>/lock`, an flock(2) that serializes the processes acting on one container.
//!
//! Readers need no lock: a rename replaces the file in one step, so [`load`] sees either
//! the old record or the new one, never a mix, even when a writer died half-way. A writer
//! takes the [`Lock`] first, so that a read-modify-write (`start` turning created into
//! running while `kill` turns it into stopped) is never lost.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The record's file in a container's directory.
pub const STATE_FILE: &str = "state.json";
/// The lock file in a container's directory.
pub const LOCK_FILE: &str = "lock";
/// Where a record is written before it is renamed over [`STATE_FILE`]. A writer that died
/// leaves it behind; readers ignore it and the next writer replaces it.
const TEMP_FILE: &str = ".state.json.tmp";
/// The version of the record's layout, in [`State::format`].
pub const FORMAT: u32 = 1;
/// The longest container id.
pub const MAX_ID_LEN: usize = 128;

/// Where a container is in its life (the OCI runtime specification's states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being set up: the record exists, the init may not yet.
    Creating,
    /// The init runs and waits for `start`.
    Created,
    /// The program runs.
    Running,
    /// Frozen.
    Paused,
    /// The init has exited.
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What a runtime needs to find a container again from a process of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// [`FORMAT`] when written; a record of a later format is refused, not misread.
    pub format: u32,
    /// The container id ([`validate_id`]).
    pub id: String,
    /// The status last recorded. The init may have exited since: [`State::status_now`].
    pub status: Status,
    /// The init's PID in the runtime's PID namespace; 0 before there is one.
    pub pid: i32,
    /// The init's start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot): a PID
    /// that another process reused has another start time. 0 when unknown.
    pub pid_start: u64,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// The root filesystem, as an absolute path.
    pub rootfs: PathBuf,
    /// When the container was created, RFC 3339 in UTC (`2026-05-01T12:34:56.123456789Z`).
    pub created: String,
    /// The effective uid that created it.
    pub owner: u32,
    /// The configuration's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The cgroup path the set was made at (`/machine/ctr-1`; see
    /// [`crate::cgroup::CgroupSet::create_at`]), to open it again.
    #[serde(default)]
    pub cgroup_path: Option<String>,
    /// The delegated cgroup2 parent it was made under, if any.
    #[serde(default)]
    pub cgroup_parent: Option<PathBuf>,
    /// Every directory of the container's cgroup set, for a reader that only looks.
    #[serde(default)]
    pub cgroup_dirs: Vec<PathBuf>,
    /// The container's namespaces by kind (`"net"`, `"pid"`, ...): the paths a later `exec`
    /// joins (`/proc/<pid>/ns/net`, or a bind mount that outlives the init).
    #[serde(default)]
    pub namespaces: BTreeMap<String, PathBuf>,
    /// What the init waits on until `start` (a FIFO, say), when it waits.
    #[serde(default)]
    pub start_barrier: Option<PathBuf>,
    /// The console socket the terminal's fd was sent to, if any.
    #[serde(default)]
    pub console_socket: Option<PathBuf>,
    /// Created without root (in a user namespace, with delegated cgroups or none).
    #[serde(default)]
    pub rootless: bool,
}

/// What is wrong with a container id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdError {
    /// It is empty.
    Empty,
    /// It is longer than [`MAX_ID_LEN`] bytes.
    TooLong(usize),
    /// It is `.` or `..`.
    Dots,
    /// It holds a byte other than ASCII letters, digits, `_`, `+`, `-` and `.`.
    Byte(u8),
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Empty => write!(f, "is empty"),
            IdError::TooLong(n) => write!(f, "is {n} bytes long: at most {MAX_ID_LEN}"),
            IdError::Dots => write!(f, "is a relative directory name"),
            IdError::Byte(b) => write!(
                f,
                "holds {:?}: use ASCII letters, digits, '_', '+', '-' and '.'",
                char::from(*b)
            ),
        }
    }
}

/// What was being done to a container's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateOp {
    /// Making its directory.
    Create,
    /// Taking its lock.
    Lock,
    /// Reading its record.
    Read,
    /// Writing its record.
    Write,
    /// Removing its directory.
    Remove,
    /// Listing the root directory.
    List,
}

impl fmt::Display for StateOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateOp::Create => "create",
            StateOp::Lock => "lock",
            StateOp::Read => "read",
            StateOp::Write => "write",
            StateOp::Remove => "remove",
            StateOp::List => "list",
        })
    }
}

fn err(id: &str, op: StateOp, path: &Path, source: io::Error) -> Error {
    Error::ContainerState {
        id: id.to_string(),
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a container id: 1 to [`MAX_ID_LEN`] bytes of ASCII letters, digits, `_`, `+`,
/// `-` and `.`, and not `.` or `..` (so it names one directory under the root, never a path).
pub fn validate_id(id: &str) -> Result<()> {
    let why = if id.is_empty() {
        Some(IdError::Empty)
    } else if id.len() > MAX_ID_LEN {
        Some(IdError::TooLong(id.len()))
    } else if id == "." || id == ".." {
        Some(IdError::Dots)
    } else {
        id.bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || b"_+-.".contains(b)))
            .map(IdError::Byte)
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::ContainerId {
            id: id.to_string(),
            why,
        }),
    }
}

/// The start time of process `pid` (field 22 of `/proc/<pid>/stat`, clock ticks since boot).
pub fn process_start_time(pid: i32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: count after its last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(22 - 3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc stat line"))
}

/// `t` as RFC 3339 in UTC with nanoseconds: `2026-05-01T12:34:56.123456789Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date, counting in 400-year eras from 0000-03-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        d.subsec_nanos()
    )
}

impl State {
    /// A record for a new container, [`Status::Creating`], created now by this process's
    /// effective uid, without an init yet.
    pub fn new(id: &str, bundle: PathBuf, rootfs: PathBuf) -> Result<State> {
        validate_id(id)?;
        Ok(State {
            format: FORMAT,
            id: id.to_string(),
            status: Status::Creating,
            pid: 0,
            pid_start: 0,
            bundle,
            rootfs,
            created: rfc3339(SystemTime::now()),
            owner: euid(),
            annotations: BTreeMap::new(),
            cgroup_path: None,
            cgroup_parent: None,
            cgroup_dirs: Vec::new(),
            namespaces: BTreeMap::new(),
            start_barrier: None,
            console_socket: None,
            rootless: euid() != 0,
        })
    }

    /// Records `pid` as the init, with its start time read now.
    pub fn set_init(&mut self, pid: i32) -> io::Result<()> {
        self.pid_start = process_start_time(pid)?;
        self.pid = pid;
        Ok(())
    }

    /// Whether the init still runs: its PID exists with the recorded start time (a reused
    /// PID does not count; a zombie still does until it is reaped).
    pub fn init_alive(&self) -> bool {
        self.pid > 0 && process_start_time(self.pid).is_ok_and(|s| s == self.pid_start)
    }

    /// The status now: the recorded one, or [`Status::Stopped`] once the init is gone.
    pub fn status_now(&self) -> Status {
        match self.status {
            Status::Creating if self.pid == 0 => Status::Creating,
            Status::Stopped => Status::Stopped,
            s if self.init_alive() => s,
            _ => Status::Stopped,
        }
    }
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// flock(2) on `file`; `wait`: block until granted. `Ok(false)`: held elsewhere.
fn flock(file: &File, wait: bool) -> io::Result<bool> {
    use rustix::fs::FlockOperation;
    let op = if wait {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    loop {
        match rustix::fs::flock(file, op) {
            Ok(()) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) if !wait => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The exclusive lock on one container: while it is held, no other process (or thread, with
/// its own `Lock`) holds it. Released when dropped, or by the kernel when the holder dies.
#[derive(Debug)]
pub struct Lock {
    id: String,
    dir: PathBuf,
    _file: File,
}

/// Opens and locks `<dir>/lock`. When the directory was removed (or replaced) while this
/// waited, the lock taken is not the container's: try again, or report it gone.
fn take(id: &str, dir: PathBuf, wait: bool) -> Result<Option<Lock>> {
    let path = dir.join(LOCK_FILE);
    loop {
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| err(id, StateOp::Lock, &path, e))?;
        if !flock(&file, wait).map_err(|e| err(id, StateOp::Lock, &path, e))? {
            return Ok(None);
        }
        let held = file
            .metadata()
            .map_err(|e| err(id, StateOp::Lock, &path, e))?;
        match std::fs::metadata(&path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                return Ok(Some(Lock {
                    id: id.to_string(),
                    dir,
                    _file: file,
                }))
            }
            Ok(_) => continue,
            Err(e) => return Err(err(id, StateOp::Lock, &path, e)),
        }
    }
}

/// Takes container `id`'s lock under `root`, waiting for whoever holds it. Fails with
/// `ENOENT` when there is no such container (or it was removed while this waited).
pub fn lock(root: &Path, id: &str) -> Result<Lock> {
    validate_id(id)?;
    let dir = root.join(id);
    take(id, dir.clone(), true)?.ok_or_else(|| {
        // A blocking flock returns only once held; this is never reached.
        err(
            id,
            StateOp::Lock,
            &dir,
            io::Error::from_raw_os_error(libc::EWOULDBLOCK),
        )
    })
}

/// [`lock`] without waiting: `None` while another holds it.
pub fn try_lock(root: &Path, id: &str) -> Result<Option<Lock>> {
    validate_id(id)?;
    take(id, root.join(id), false)
}

impl Lock {
    /// The container.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the record.
    pub fn load(&self) -> Result<State> {
        read(&self.id, &self.dir)
    }

    /// Replaces the record with `state` (whose id must be this lock's): written to a
    /// temporary file in the same directory, synced, renamed over the old one, and the
    /// directory synced. A crash at any point leaves the old record or the new one.
    pub fn save(&self, state: &State) -> Result<()> {
        if state.id != self.id {
            return Err(err(
                &self.id,
                StateOp::Write,
                &self.dir.join(STATE_FILE),
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the record is container {:?}'s", state.id),
                ),
            ));
        }
        let temp = self.write_temp(state)?;
        let path = self.dir.join(STATE_FILE);
        // No fsync (of the file or the directory): the rename alone keeps a reader from
        // ever seeing half a record, also when the writer dies; durability across a power
        // loss buys nothing, since the processes a record describes do not survive one
        // (and the usual root, /run, is a tmpfs). runc does not sync its state either.
        std::fs::rename(&temp, &path).map_err(|e| err(&self.id, StateOp::Write, &path, e))
    }

    /// The first half of [`Lock::save`]: the record written under its temporary name, not
    /// yet in place.
    pub(crate) fn write_temp(&self, state: &State) -> Result<PathBuf> {
        let temp = self.dir.join(TEMP_FILE);
        let werr = |e| err(&self.id, StateOp::Write, &temp, e);
        let mut text = serde_json::to_vec(&State {
            format: FORMAT,
            ..state.clone()
        })
        .map_err(|e| werr(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        text.push(b'\n');
        let mut file = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&temp)
            .map_err(werr)?;
        file.write_all(&text).map_err(werr)?;
        Ok(temp)
    }

    /// Removes the container's directory, record and lock with it. A process waiting for the
    /// lock then finds no container (`ENOENT`).
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| err(&self.id, StateOp::Remove, &self.dir, e))
    }
}

fn read(id: &str, dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read(&path).map_err(|e| err(id, StateOp::Read, &path, e))?;
    let invalid = |what: String| {
        err(
            id,
            StateOp::Read,
            &path,
            io::Error::new(io::ErrorKind::InvalidData, what),
        )
    };
    let state: State = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
    if state.format > FORMAT {
        return Err(invalid(format!(
            "record format {} is newer than this library's ({FORMAT})",
            state.format
        )));
    }
    if state.id != id {
        return Err(invalid(format!(
            "the record names container {:?}",
            state.id
        )));
    }
    Ok(state)
}

/// Makes the directory of a new container under `root` (and `root` itself, mode 0700, when
/// missing), takes its lock and writes `state` into it. Fails with `EEXIST` when the id is
/// taken. The lock is returned held, so the caller finishes setting up before anyone else
/// acts on the container.
pub fn create(root: &Path, state: &State) -> Result<Lock> {
    let id = state.id.as_str();
    validate_id(id)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| err(id, StateOp::Create, root, e))?;
    let dir = root.join(id);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| err(id, StateOp::Create, &dir, e))?;
    let undo = |e: Error| {
        let _ = std::fs::remove_dir_all(&dir);
        e
    };
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| undo(err(id, StateOp::Create, &path, e)))?;
    flock(&file, true).map_err(|e| undo(err(id, StateOp::Lock, &path, e)))?;
    let lock = Lock {
        id: id.to_string(),
        dir: dir.clone(),
        _file: file,
    };
    lock.save(state).map_err(undo)?;
    Ok(lock)
}

/// Reads container `id`'s record under `root`, without the lock (a record is replaced whole,
/// so a reader sees the old one or the new one).
pub fn load(root: &Path, id: &str) -> Result<State> {
    validate_id(id)?;
    read(id, &root.join(id))
}

/// Replaces container `id`'s record: takes the lock, saves, releases it.
pub fn save(root: &Path, state: &State) -> Result<()> {
    lock(root, &state.id)?.save(state)
}

/// Removes container `id`: takes the lock (waiting for the holder), removes its directory.
pub fn remove(root: &Path, id: &str) -> Result<()> {
    lock(root, id)?.remove()
}

/// Every container under `root`, by id. A missing root holds none; a directory without a
/// readable record (one being created or removed right now) is left out.
pub fn list(root: &Path) -> Result<Vec<State>> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err("*", StateOp::List, root, e)),
    };
    let mut all = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| err("*", StateOp::List, root, e))?;
        let Some(id) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if validate_id(&id).is_err() || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match read(&id, &entry.path()) {
            Ok(state) => all.push(state),
            Err(Error::ContainerState { source, .. })
                if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

#[cfg(test)]
mod tests;
