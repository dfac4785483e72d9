//! The running sandboxes of `cleave spawn` that `checkpoint` can find: one small JSON file
//! per sandbox under /run/cleave/sandboxes (root) or $XDG_RUNTIME_DIR/cleave/sandboxes,
//! named after its `--name` (a sandbox without one is found by its PID alone, and costs
//! no file). It is written atomically (a
//! temporary file linked into place, which fails if the name is taken) and removed by the
//! supervisor when the sandbox ends. An entry whose process is gone (its PID reused, or
//! the supervisor killed) counts as absent and is removed when met.
use cleave::container::state::process_start_time;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One running sandbox.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Its name (`--name`).
    pub name: String,
    /// The sandbox's first process (cleave's init, or the program) in this PID namespace.
    pub pid: i32,
    /// That process's start time (field 22 of /proc/PID/stat): a reused PID is not it.
    pub start: u64,
}

impl Entry {
    /// Whether the process is still the one recorded.
    pub fn alive(&self) -> bool {
        process_start_time(self.pid).is_ok_and(|s| s == self.start)
    }
}

/// The registry's directory.
pub fn dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let root = unsafe { libc::geteuid() } == 0;
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(x) if !root && !x.is_empty() => PathBuf::from(x).join("cleave/sandboxes"),
        _ => PathBuf::from("/run/cleave/sandboxes"),
    }
}

/// A name is a file name of the registry: letters, digits, `_`, `-` and `.`, not
/// starting with `.`, at most 64 bytes.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--name {name:?}: give 1 to 64 letters, digits, '_', '-' or '.', not starting with '.'"
        ))
    }
}

fn file_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

fn load(path: &Path) -> Option<Entry> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The entry, removed while registered (dropped when the sandbox ends).
pub struct Registered {
    path: PathBuf,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Registers the sandbox whose first process is `pid` under `name`.
pub fn register(name: &str, pid: i32) -> Result<Registered, String> {
    let dir = dir();
    let start = process_start_time(pid).map_err(|e| format!("read /proc/{pid}/stat: {e}"))?;
    let entry = Entry {
        name: name.to_string(),
        pid,
        start,
    };
    make_dir(&dir)?;
    let path = file_of(&dir, name);
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), pid));
    let text = serde_json::to_string(&entry).unwrap_or_default();
    std::fs::write(&tmp, text).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    let mut linked = std::fs::hard_link(&tmp, &path);
    if linked
        .as_ref()
        .is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
        && load(&path).is_none_or(|old| !old.alive())
    {
        // A stale entry (its sandbox gone without its supervisor): replaced.
        let _ = std::fs::remove_file(&path);
        linked = std::fs::hard_link(&tmp, &path);
    }
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(Registered { path }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(format!(
            "--name {}: a sandbox of that name runs already (pid {}); choose another name",
            name,
            load(&path).map(|e| e.pid).unwrap_or_default()
        )),
        Err(e) => Err(format!("register the sandbox in {}: {e}", dir.display())),
    }
}

fn make_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("make {}: {e}", dir.display()))
}

/// The running sandbox named `name`.
pub fn by_name(name: &str) -> Result<Entry, String> {
    check_name(name)?;
    let path = file_of(&dir(), name);
    match load(&path) {
        Some(e) if e.alive() => Ok(e),
        found => {
            if found.is_some() {
                let _ = std::fs::remove_file(&path);
            }
            Err(format!(
                "no running sandbox is named {name} (in {}): start one with `cleave spawn --name {name} ...`",
                dir().display()
            ))
        }
    }
}

/// The sandbox whose first process is `pid`: a registered one, or any process that is
/// the first of a PID namespace other than this process's (cleave's init, or a program
/// run with --as-pid-1).
pub fn by_pid(pid: i32) -> Result<Entry, String> {
    let dir = dir();
    let found = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|f| {
            if f.file_name().to_string_lossy().starts_with('.') {
                return None;
            }
            load(&f.path()).filter(|e| e.pid == pid && e.alive())
        });
    if let Some(e) = found {
        return Ok(e);
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("--pid {pid}: no such process ({e})"))?;
    let first = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .is_some_and(|l| {
            let ids: Vec<&str> = l.split_whitespace().collect();
            ids.len() > 1 && ids.last() == Some(&"1")
        });
    let start = process_start_time(pid).map_err(|e| format!("--pid {pid}: {e}"))?;
    if !first {
        return Err(format!(
            "--pid {pid} is not the first process of a sandbox's PID namespace: give the PID that `cleave spawn -v` reports for a sandbox made with --new pid"
        ));
    }
    Ok(Entry {
        name: String::new(),
        pid,
        start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("web-1.a_b").is_ok());
        for bad in ["", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
