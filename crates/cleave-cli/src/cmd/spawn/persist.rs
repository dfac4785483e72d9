//! `--persist-ns NS=FILE`: a sandbox's namespace bound on a file, as util-linux's `unshare
//! --mount=FILE` does, so that it outlives the sandbox's processes until the file is
//! unmounted; `cleave enter --ns-file NS=FILE` (or nsenter) joins it later.
use cleave::{CloneFlags, Namespace};
use std::cell::RefCell;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;

/// One namespace to bind, and what was done for it.
#[derive(Debug)]
struct Target {
    ns: Namespace,
    file: PathBuf,
    /// cleave created the file (removed again if the spawn fails).
    created: bool,
    /// The namespace is bound on it (unmounted again if the spawn fails).
    bound: bool,
}

/// The namespaces to persist; shared by the spawn's after-clone hook and the caller, which
/// undoes the binds when the spawn fails.
#[derive(Clone, Debug, Default)]
pub struct Persist(Rc<RefCell<Vec<Target>>>);

impl Persist {
    /// Reads the `--persist-ns` values against the namespaces asked for (`flags`), before
    /// anything exists.
    pub fn parse(values: &[String], flags: CloneFlags) -> Result<Persist, String> {
        let mut targets = Vec::new();
        for v in values {
            let (name, file) = v.split_once('=').ok_or_else(|| {
                format!("--persist-ns {v}: write NS=FILE, e.g. --persist-ns mount=/run/ns/mnt")
            })?;
            let ns = Namespace::from_name(name).ok_or_else(|| {
                format!("--persist-ns {v}: unknown namespace `{name}`: choose mount, uts, ipc, net, pid, user or cgroup")
            })?;
            if ns == Namespace::Time {
                return Err(format!("--persist-ns {v}: a time namespace is made by the child after it starts (its offsets come first), too late to be bound from outside"));
            }
            // A new user namespace is added to the others without root; any other must be
            // asked for.
            if ns != Namespace::User && !flags.contains(ns.flag()) {
                return Err(format!(
                    "--persist-ns {v}: the {0} namespace is not new: add {0} to --new",
                    ns.name()
                ));
            }
            if file.is_empty() {
                return Err(format!("--persist-ns {v}: FILE is empty: give a path"));
            }
            if targets.iter().any(|t: &Target| t.ns == ns) {
                return Err(format!(
                    "--persist-ns {v}: the {} namespace is given twice",
                    ns.name()
                ));
            }
            targets.push(Target {
                ns,
                file: file.into(),
                created: false,
                bound: false,
            });
        }
        Ok(Persist(Rc::new(RefCell::new(targets))))
    }

    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// Binds each namespace of process `pid` (the sandbox's child, in its new namespaces)
    /// on its file. A namespace that is still cleave's own (made later by the child, or not
    /// at all) is refused rather than bound.
    pub fn bind(&self, pid: i32) -> cleave::Result<()> {
        for t in self.0.borrow_mut().iter_mut() {
            let proc_file = format!("/proc/{pid}/ns/{}", t.ns.proc_name());
            let what = |why: &str| {
                format!(
                    "bind the sandbox's {} namespace on {}{why}",
                    t.ns.name(),
                    t.file.display()
                )
            };
            let theirs = cleave::ns::nsfs_id(&pid.to_string(), t.ns.proc_name());
            let mine = cleave::ns::nsfs_id("self", t.ns.proc_name());
            if theirs.is_ok() && theirs.ok() == mine.ok() {
                return Err(cleave::Error::Prepare {
                    what: what(": the child is still in cleave's own (with limits on cgroup v1 a new cgroup namespace is made later, by the child)"),
                    source: std::io::Error::from_raw_os_error(libc::EINVAL),
                });
            }
            if !t.file.exists() {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&t.file)
                    .map_err(|source| cleave::Error::Prepare {
                        what: format!("create {} for --persist-ns", t.file.display()),
                        source,
                    })?;
                t.created = true;
            }
            let src = CString::new(proc_file).unwrap_or_default();
            let dst = CString::new(t.file.as_os_str().as_bytes()).map_err(|_| {
                cleave::Error::Prepare {
                    what: what(""),
                    source: std::io::Error::from_raw_os_error(libc::EINVAL),
                }
            })?;
            // SAFETY: mount(2) with two NUL-terminated paths and null type and data.
            #[allow(unsafe_code)]
            let r = unsafe {
                libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                )
            };
            if r != 0 {
                let source = std::io::Error::last_os_error();
                let why = match (t.ns, source.raw_os_error()) {
                    (Namespace::Mount, Some(libc::EINVAL)) => ": it is on a mount that propagates into the sandbox (shared); bind its directory D on itself and make it private first (mount --bind D D; mount --make-private D), as unshare --mount=FILE needs",
                    (_, Some(libc::EPERM)) => ": binding a namespace on a file needs root (CAP_SYS_ADMIN in cleave's mount namespace)",
                    _ => "",
                };
                return Err(cleave::Error::Prepare {
                    what: what(why),
                    source,
                });
            }
            t.bound = true;
        }
        Ok(())
    }

    /// What `-v` says: each namespace and its file.
    pub fn story(&self) -> Vec<String> {
        self.0
            .borrow()
            .iter()
            .filter(|t| t.bound)
            .map(|t| {
                format!(
                    "the {} namespace stays bound on {} until `umount {}`",
                    t.ns.name(),
                    t.file.display(),
                    t.file.display()
                )
            })
            .collect()
    }

    /// Undoes what [`Persist::bind`] did, after a failed spawn: nothing is left behind.
    pub fn undo(&self) {
        for t in self.0.borrow_mut().iter_mut() {
            if t.bound {
                if let Ok(dst) = CString::new(t.file.as_os_str().as_bytes()) {
                    // SAFETY: umount2(2) with a NUL-terminated path.
                    #[allow(unsafe_code)]
                    unsafe {
                        libc::umount2(dst.as_ptr(), libc::MNT_DETACH);
                    }
                }
                t.bound = false;
            }
            if t.created {
                let _ = std::fs::remove_file(&t.file);
                t.created = false;
            }
        }
    }
}
