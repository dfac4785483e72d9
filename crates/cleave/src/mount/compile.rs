//! [`Filesystem`] -> the child's steps. Every source is opened before the first change to
//! the tree (so it is the host's path as it was when the sandbox started), the rootfs is
//! opened once and checked to be the directory the parent saw, and every destination is a
//! path relative to the root fd that the child resolves with RESOLVE_IN_ROOT.
use super::model::{invalid, Backing, Kind, Model};
use super::{Filesystem, MountOp, Propagation, PROC_MASKED, PROC_READ_ONLY};
use crate::error::Result;
use crate::plan::Step;
use cleave_child::fs::OPTIONAL;
use cleave_child::OpKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Slot of the sandbox's root directory (the new root, or "/").
const ROOT: u64 = 0;
/// Slot of the rootfs directory as opened, before its copy is mounted on it.
const ROOTFS_DIR: u64 = 1;
/// Slot of the empty device that hides masked files.
const NULL_DEVICE: u64 = 2;
/// Slot of a procfs while its paths are protected.
const PROC: u64 = 3;
/// First slot of the sources.
const FIRST_SOURCE: u64 = 4;

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const O_PATH: u64 = (libc::O_PATH | libc::O_CLOEXEC) as u64;
const O_PATH_DIR: u64 = (libc::O_PATH | libc::O_CLOEXEC | libc::O_DIRECTORY) as u64;

/// Devices a minimal /dev carries, bound from the host's.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The child's steps for a [`Filesystem`] and the size of the fd slot table they use.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    pub steps: Vec<Step>,
    pub slots: usize,
}

pub(super) fn bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// `p` (absolute, inside the sandbox) as the child looks it up under the root: relative,
/// and "." for the root itself.
fn relative(p: &Path) -> Vec<u8> {
    let rel = p.strip_prefix("/").unwrap_or(p);
    if rel.as_os_str().is_empty() {
        b".".to_vec()
    } else {
        bytes(rel).to_vec()
    }
}

/// A step acting on the entry `inside` under the root: its parent directory as `a`, its
/// name as `b`, the root slot as n1 (MkdirAt, CreateFileAt, SymlinkAt).
pub(super) fn at_step(kind: OpKind, inside: &Path, what: String) -> Step {
    let parent = inside.parent().unwrap_or(Path::new("/"));
    let name = inside.file_name().map_or(&b"."[..], |n| n.as_bytes());
    Step::new(kind, what)
        .arg(0, relative(parent))
        .arg(1, name)
        .num(0, ROOT)
}

/// Options of a new filesystem: NUL-terminated key, value pairs, an empty key at the end.
fn options(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (k, val) in pairs {
        v.extend_from_slice(k.as_bytes());
        v.push(0);
        v.extend_from_slice(val.as_bytes());
        v.push(0);
    }
    v.push(0);
    v
}

fn fs_mount(fstype: &str, opts: &[(&str, &str)], attrs: u64, at: &Path, what: String) -> Step {
    Step::new(OpKind::FsMount, what)
        .arg(0, fstype)
        .blob(1, options(opts))
        .arg(2, relative(at))
        .num(0, ROOT)
        .num(1, attrs)
        .num(2, u64::MAX)
}

fn bind(src_slot: u64, at: &Path, set: u64, clear: u64, recursive: bool, what: String) -> Step {
    Step::new(OpKind::Bind, what)
        .arg(0, relative(at))
        .num(0, src_slot)
        .num(1, ROOT)
        .num(2, set)
        .num(3, clear)
        .num(4, recursive as u64)
}

/// Whether this process's "/" is a shared mount (mountinfo's optional "shared:N" field).
fn root_is_shared() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/"))
        .is_some_and(|l| l.split(" - ").next().unwrap_or("").contains("shared:"))
}

/// Whether the host mounts `path` read-write (a bind of it may then be made writable again
/// after an earlier read-only remount of its source in the sandbox).
fn host_writable(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs fills a zeroed struct from a NUL-terminated path.
    #[allow(unsafe_code)]
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY == 0
    }
}

/// Hands out slots for sources, in the order they are opened.
struct Sources {
    steps: Vec<Step>,
    next: u64,
}

impl Sources {
    fn open(&mut self, path: &Path, what: String) -> u64 {
        let slot = self.next;
        self.next += 1;
        self.steps.push(
            Step::new(OpKind::OpenPath, what)
                .arg(0, bytes(path))
                .num(0, slot)
                .num(1, O_PATH),
        );
        slot
    }
}

impl Filesystem {
    /// Whether there is anything to do.
    pub fn is_empty(&self) -> bool {
        self.rootfs.is_none() && self.ops.is_empty() && self.chdir.is_none()
    }

    /// Checks every path before anything is mounted, then lists the child's steps.
    pub(crate) fn compile(&self, new_mount_ns: bool) -> Result<Compiled> {
        let needs_ns = self.rootfs.is_some() || !self.ops.is_empty();
        if needs_ns && !new_mount_ns {
            return Err(invalid(
                "mount operations and --rootfs need a new mount namespace: add mount to --new"
                    .into(),
            ));
        }
        if !needs_ns {
            let steps = self
                .chdir
                .iter()
                .map(|dir| {
                    Step::new(OpKind::Chdir, format!("--chdir {}", dir.display()))
                        .arg(0, bytes(dir))
                })
                .collect();
            return Ok(Compiled { steps, slots: 0 });
        }
        let root = self.root()?;
        let mut model = Model::new(root.clone(), self.rootfs.is_some());
        let mut sources = Sources {
            steps: Vec::new(),
            next: FIRST_SOURCE,
        };

        // Opened first, before the tree changes: the root (or "/"), the empty device for
        // masks, every bind source.
        match &self.rootfs {
            Some(_) => {
                let meta = std::fs::metadata(&root)
                    .map_err(|e| invalid(format!("--rootfs {}: {e}", root.display())))?;
                sources.steps.push(
                    Step::new(
                        OpKind::OpenPath,
                        format!("open the new root {}", root.display()),
                    )
                    .arg(0, bytes(&root))
                    .num(0, ROOTFS_DIR)
                    .num(1, O_PATH_DIR),
                );
                sources.steps.push(
                    Step::new(
                        OpKind::CheckIdentity,
                        format!(
                            "check that the new root {} is still the directory checked",
                            root.display()
                        ),
                    )
                    .num(0, ROOTFS_DIR)
                    .num(1, meta.dev())
                    .num(2, meta.ino()),
                );
            }
            None => sources.steps.push(
                Step::new(OpKind::OpenPath, "open /")
                    .arg(0, "/")
                    .num(0, ROOT)
                    .num(1, O_PATH_DIR),
            ),
        }
        if self
            .ops
            .iter()
            .any(|op| matches!(op, MountOp::Proc { .. } | MountOp::Mask { .. }))
        {
            sources.steps.push(
                Step::new(OpKind::OpenPath, "open /dev/null (what hides masked files)")
                    .arg(0, "/dev/null")
                    .num(0, NULL_DEVICE)
                    .num(1, O_PATH),
            );
        }
        let mut source_slots = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            let slot = match op {
                MountOp::Bind { src, .. }
                | MountOp::RoBind { src, .. }
                | MountOp::DevBind { src, .. } => {
                    // Errors name the option now, rather than the child's failure later.
                    std::fs::metadata(src).map_err(|e| {
                        invalid(format!(
                            "{} {} {}: the source {}: {e}",
                            op.option(),
                            src.display(),
                            op.dst().display(),
                            src.display()
                        ))
                    })?;
                    sources.open(
                        src,
                        format!("{} {}: open the source", op.option(), src.display()),
                    )
                }
                MountOp::Dev { dst } => {
                    let first = sources.next;
                    for dev in DEVICES {
                        let host = PathBuf::from(format!("/dev/{dev}"));
                        sources.open(
                            &host,
                            format!("--dev {}: open {}", dst.display(), host.display()),
                        );
                    }
                    first
                }
                _ => u64::MAX,
            };
            source_slots.push(slot);
        }
        let mut steps = sources.steps;

        let prop = match self.propagation {
            Propagation::Private => Some((libc::MS_PRIVATE, "private")),
            Propagation::Slave => Some((libc::MS_SLAVE, "slave")),
            Propagation::Shared => Some((libc::MS_SHARED, "shared")),
            Propagation::Unchanged => None,
        };
        if let Some((flag, name)) = prop {
            steps.push(
                Step::new(
                    OpKind::Mount,
                    format!("make / {name} (mount --make-r{name} /)"),
                )
                .arg(1, "/")
                .num(0, libc::MS_REC | flag),
            );
        }
        if self.rootfs.is_some() {
            steps.push(
                Step::new(
                    OpKind::BindRoot,
                    format!("bind the new root {} on itself", root.display()),
                )
                .num(0, ROOTFS_DIR)
                .num(1, ROOT),
            );
        }

        for (op, &src_slot) in self.ops.iter().zip(&source_slots) {
            self.compile_op(op, src_slot, &mut model, &mut steps)?;
        }

        if self.rootfs.is_some() {
            steps.push(
                Step::new(
                    OpKind::PivotRoot,
                    format!("pivot_root into {}", root.display()),
                )
                .num(0, ROOT),
            );
        }
        steps.push(Step::new(OpKind::CloseSlots, "close the setup's fds"));
        match &self.chdir {
            Some(dir) => steps.push(
                Step::new(OpKind::Chdir, format!("--chdir {}", dir.display())).arg(0, bytes(dir)),
            ),
            // The caller's working directory, looked up again now that everything is
            // mounted: a tmpfs over it, or a new root, must not leave the program in what
            // they hide.
            None => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
                steps.push(
                    Step::new(
                        OpKind::ChdirOrRoot,
                        format!("enter the working directory {}", cwd.display()),
                    )
                    .arg(0, bytes(&cwd)),
                );
            }
        }
        Ok(Compiled {
            steps,
            slots: sources.next as usize,
        })
    }

    /// The host path of the sandbox's "/", checked.
    fn root(&self) -> Result<PathBuf> {
        let Some(r) = &self.rootfs else {
            return Ok(PathBuf::from("/"));
        };
        let canon = std::fs::canonicalize(r).map_err(|e| {
            invalid(format!(
                "--rootfs {}: {e}; give an existing directory (scripts/mkrootfs.sh DIR builds one)",
                r.display()
            ))
        })?;
        if !canon.is_dir() {
            return Err(invalid(format!(
                "--rootfs {}: not a directory",
                r.display()
            )));
        }
        // pivot_root refuses a shared old root (pivot_root(2)).
        let refused = match self.propagation {
            Propagation::Shared => true,
            Propagation::Unchanged => root_is_shared(),
            _ => false,
        };
        if refused {
            return Err(invalid(
                "--rootfs needs the old root not to be shared (pivot_root refuses it): use --propagation private (the default) or slave".into(),
            ));
        }
        Ok(canon)
    }

    fn compile_op(
        &self,
        op: &MountOp,
        src_slot: u64,
        model: &mut Model,
        steps: &mut Vec<Step>,
    ) -> Result<()> {
        let opt = op.option();
        let dst = op.dst();
        if !dst.is_absolute() {
            return Err(invalid(format!(
                "{opt} {}: the destination must be an absolute path inside the sandbox, e.g. /{}",
                dst.display(),
                dst.display()
            )));
        }
        let inside = model.resolve(dst, opt)?;
        let shown = dst.display();
        match op {
            MountOp::Bind { src, .. }
            | MountOp::RoBind { src, .. }
            | MountOp::DevBind { src, .. } => {
                let meta = std::fs::metadata(src)
                    .map_err(|e| invalid(format!("{opt} {}: {e}", src.display())))?;
                let src = std::fs::canonicalize(src)
                    .map_err(|e| invalid(format!("{opt} {}: {e}", src.display())))?;
                match (meta.is_dir(), model.kind(&inside)) {
                    (true, Kind::Other) => {
                        return Err(invalid(format!(
                            "{opt} {} {shown}: the source is a directory and {shown} is not; bind a directory onto a directory",
                            src.display()
                        )))
                    }
                    (false, Kind::Dir) => {
                        return Err(invalid(format!(
                            "{opt} {} {shown}: the source is a file and {shown} is a directory; give the file's own path as the destination, e.g. {}",
                            src.display(),
                            inside.join(src.file_name().unwrap_or_default()).display()
                        )))
                    }
                    _ => {}
                }
                if meta.is_dir() {
                    model.ensure_dir(steps, &inside, opt, dst)?;
                } else {
                    model.ensure_file(steps, &inside, 0o644, opt, dst)?;
                }
                // A copy of the source's mount keeps its flags, including a read-only
                // remount made earlier in the sandbox (--preset sandbox): --bind and
                // --dev-bind are writable where the host's source is.
                let clear = if host_writable(&src) {
                    MOUNT_ATTR_RDONLY
                } else {
                    0
                };
                let (set, clear) = match op {
                    MountOp::RoBind { .. } => (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV, 0),
                    MountOp::Bind { .. } => (MOUNT_ATTR_NODEV, clear),
                    _ => (0, clear),
                };
                steps.push(bind(
                    src_slot,
                    &inside,
                    set,
                    clear,
                    true,
                    format!("{opt} {} {shown}", src.display()),
                ));
                model.mounted(&inside, Backing::Host(src));
            }
            MountOp::Tmpfs { .. } => {
                model.ensure_dir(steps, &inside, opt, dst)?;
                let mut step = fs_mount(
                    "tmpfs",
                    &[("mode", "0755")],
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                    &inside,
                    format!("--tmpfs {shown}"),
                );
                if inside == Path::new("/") {
                    // Later lookups start from the tmpfs, not from what it covers.
                    step = step.num(2, ROOT);
                }
                steps.push(step);
                model.mounted(&inside, Backing::Fresh);
            }
            MountOp::Proc { .. } => {
                model.ensure_dir(steps, &inside, opt, dst)?;
                steps.push(
                    fs_mount(
                        "proc",
                        &[],
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                        &inside,
                        format!("--proc {shown} (mount a procfs of the new PID namespace)"),
                    )
                    .num(2, PROC),
                );
                for name in PROC_READ_ONLY {
                    steps.push(
                        Step::new(
                            OpKind::ReadOnlyAt,
                            format!("--proc {shown}: make {name} read-only"),
                        )
                        .arg(0, name)
                        .num(0, PROC)
                        .num(2, OPTIONAL),
                    );
                }
                for name in PROC_MASKED {
                    steps.push(
                        Step::new(OpKind::MaskAt, format!("--proc {shown}: hide {name}"))
                            .arg(0, name)
                            .num(0, PROC)
                            .num(1, NULL_DEVICE)
                            .num(2, OPTIONAL),
                    );
                }
                model.mounted(&inside, Backing::Opaque);
            }
            MountOp::Dev { .. } => {
                model.ensure_dir(steps, &inside, opt, dst)?;
                dev_steps(steps, model, &inside, src_slot, &shown.to_string())?;
            }
            MountOp::Dir { .. } => model.ensure_dir(steps, &inside, opt, dst)?,
            MountOp::Symlink {
                target: link_to, ..
            } => {
                let what = format!("--symlink {} {shown}", link_to.display());
                model.symlink(steps, link_to, &inside, what, opt, dst)?;
            }
            MountOp::RemountRo { .. } => {
                if model.kind(&inside) == Kind::Missing {
                    return Err(invalid(format!(
                        "{opt} {shown}: no such path in the sandbox"
                    )));
                }
                steps.push(
                    Step::new(OpKind::SetAttrAt, format!("--remount-ro {shown}"))
                        .arg(0, relative(&inside))
                        .num(0, ROOT)
                        .num(1, MOUNT_ATTR_RDONLY)
                        .num(3, 1),
                );
            }
            MountOp::Mask { .. } | MountOp::ReadOnly { .. } => {
                let (kind, verb) = match op {
                    MountOp::Mask { .. } => (OpKind::MaskAt, "hide"),
                    _ => (OpKind::ReadOnlyAt, "make read-only"),
                };
                steps.push(
                    Step::new(kind, format!("{verb} {shown}"))
                        .arg(0, relative(&inside))
                        .num(0, ROOT)
                        .num(1, NULL_DEVICE)
                        .num(2, OPTIONAL),
                );
            }
        }
        Ok(())
    }
}

/// A minimal /dev at `inside`: a tmpfs, the host's devices bound from the sources opened
/// at `first_source`, the usual links, a private devpts and a tmpfs shm.
fn dev_steps(
    steps: &mut Vec<Step>,
    model: &mut Model,
    inside: &Path,
    first_source: u64,
    shown: &str,
) -> Result<()> {
    let opt = "--dev";
    let dst = Path::new(shown);
    steps.push(fs_mount(
        "tmpfs",
        &[("mode", "0755")],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
        inside,
        format!("--dev {shown}: tmpfs"),
    ));
    model.mounted(inside, Backing::Fresh);
    for (slot, dev) in (first_source..).zip(DEVICES) {
        let node = inside.join(dev);
        model.ensure_file(steps, &node, 0o666, opt, dst)?;
        let host = format!("/dev/{dev}");
        // An earlier read-only remount of "/" (--preset sandbox) reached the host's /dev
        // too: the device stays writable where the host's is.
        let clear = if host_writable(Path::new(&host)) {
            MOUNT_ATTR_RDONLY
        } else {
            0
        };
        steps.push(bind(
            slot,
            &node,
            0,
            clear,
            false,
            format!("--dev {shown}: bind {host}"),
        ));
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let what = format!("--dev {shown}: link {link} -> {to}");
        model.symlink(steps, Path::new(to), &inside.join(link), what, opt, dst)?;
    }
    let pts = inside.join("pts");
    model.ensure_dir(steps, &pts, opt, dst)?;
    steps.push(fs_mount(
        "devpts",
        &[("newinstance", ""), ("ptmxmode", "0666"), ("mode", "620")],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
        &pts,
        format!("--dev {shown}: pts"),
    ));
    model.mounted(&pts, Backing::Opaque);
    let shm = inside.join("shm");
    model.ensure_dir(steps, &shm, opt, dst)?;
    steps.push(fs_mount(
        "tmpfs",
        &[("mode", "1777")],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        &shm,
        format!("--dev {shown}: shm"),
    ));
    model.mounted(&shm, Backing::Fresh);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mount::model::Model;

    fn tree(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("cleave-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("/usr", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("usr/up")).unwrap();
        root
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let root = tree("resolve");
        let model = Model::new(root.clone(), true);
        let r = |p: &str| model.resolve(Path::new(p), "--bind");
        assert_eq!(r("/lib/x").unwrap(), Path::new("/usr/lib/x"));
        assert_eq!(r("/abs/lib").unwrap(), Path::new("/usr/lib"));
        assert_eq!(r("/new/dir").unwrap(), Path::new("/new/dir"));
        let e = r("/usr/up/etc").unwrap_err().to_string();
        assert!(e.contains("leaves the new root"), "{e}");
        let e = r("/../etc").unwrap_err().to_string();
        assert!(e.contains("`..` is not allowed"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn links_and_tmpfs_made_by_earlier_ops_count() {
        // A symlink made by an op cannot send a later mkdir to the host...
        let fs = Filesystem {
            ops: vec![
                MountOp::Tmpfs { dst: "/mnt".into() },
                MountOp::Symlink {
                    target: "/tmp".into(),
                    dst: "/mnt/l".into(),
                },
                MountOp::Dir {
                    dst: "/mnt/l/escaped".into(),
                },
            ],
            ..Default::default()
        };
        let e = fs.compile(true).unwrap_err().to_string();
        assert!(
            e.contains("/tmp/escaped") && e.contains("creates nothing on the host"),
            "{e}"
        );
        // ...and under a new root it lands inside the root.
        let root = tree("links");
        let fs = Filesystem {
            rootfs: Some(root.clone()),
            ops: vec![
                MountOp::Symlink {
                    target: "/outside".into(),
                    dst: "/y".into(),
                },
                MountOp::Dir { dst: "/y/d".into() },
            ],
            ..Default::default()
        };
        let steps = fs.compile(true).unwrap().steps;
        // Each mkdir names its parent relative to the root fd, and the new name.
        let mkdirs: Vec<(&[u8], &[u8])> = steps
            .iter()
            .filter(|s| s.kind == OpKind::MkdirAt)
            .map(|s| (s.args[0].as_deref().unwrap(), s.args[1].as_deref().unwrap()))
            .collect();
        assert_eq!(
            mkdirs,
            [(&b"."[..], &b"outside"[..]), (&b"outside"[..], &b"d"[..])]
        );
        assert!(steps
            .iter()
            .all(|s| s.n[0] == ROOT || s.kind != OpKind::MkdirAt));
        // A path that exists on the host but sits under an earlier tmpfs is created there.
        let fs = Filesystem {
            ops: vec![
                MountOp::Tmpfs { dst: "/etc".into() },
                MountOp::RoBind {
                    src: "/usr/share".into(),
                    dst: "/etc/ssl".into(),
                },
            ],
            ..Default::default()
        };
        let steps = fs.compile(true).unwrap().steps;
        assert!(steps
            .iter()
            .any(|s| s.kind == OpKind::MkdirAt && s.what == "mkdir /etc/ssl"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn bad_paths_fail_before_any_step() {
        let fs = Filesystem {
            ops: vec![MountOp::Tmpfs { dst: "tmp".into() }],
            ..Default::default()
        };
        let e = fs.compile(true).unwrap_err().to_string();
        assert!(e.contains("absolute path"), "{e}");
        let fs = Filesystem {
            ops: vec![MountOp::Bind {
                src: "/no/such/src".into(),
                dst: "/x".into(),
            }],
            ..Default::default()
        };
        let e = fs.compile(true).unwrap_err().to_string();
        assert!(e.contains("/no/such/src"), "{e}");
        let fs = Filesystem {
            rootfs: Some("/no/such/root".into()),
            ..Default::default()
        };
        let e = fs.compile(true).unwrap_err().to_string();
        assert!(e.contains("--rootfs /no/such/root"), "{e}");
        let fs = Filesystem {
            ops: vec![MountOp::Tmpfs { dst: "/tmp".into() }],
            ..Default::default()
        };
        assert!(fs.compile(false).is_err());
    }

    #[test]
    fn ops_compile_in_order_and_end_with_pivot_root() {
        let root = tree("compile");
        let fs = Filesystem {
            rootfs: Some(root.clone()),
            ops: vec![
                MountOp::Tmpfs { dst: "/tmp".into() },
                MountOp::RoBind {
                    src: "/etc".into(),
                    dst: "/lib/etc".into(),
                },
            ],
            ..Default::default()
        };
        let Compiled { steps, slots } = fs.compile(true).unwrap();
        let kinds: Vec<OpKind> = steps.iter().map(|s| s.kind).collect();
        // The root and the source are opened before anything changes, the root checked.
        assert_eq!(
            kinds[..4],
            [
                OpKind::OpenPath,
                OpKind::CheckIdentity,
                OpKind::OpenPath,
                OpKind::Mount // propagation
            ]
        );
        assert_eq!(steps[2].args[0].as_deref(), Some(&b"/etc"[..]));
        assert_eq!(slots as u64, FIRST_SOURCE + 1);
        let pivot = kinds.iter().position(|k| *k == OpKind::PivotRoot).unwrap();
        assert_eq!(
            kinds[pivot..],
            [OpKind::PivotRoot, OpKind::CloseSlots, OpKind::ChdirOrRoot]
        );
        let tmp = steps.iter().position(|s| s.what == "--tmpfs /tmp").unwrap();
        let bind = steps.iter().position(|s| s.kind == OpKind::Bind).unwrap();
        assert!(tmp < bind);
        // The bind lands on the resolved path, relative to the root fd.
        assert_eq!(steps[bind].args[0].as_deref(), Some(&b"usr/lib/etc"[..]));
        assert_eq!(steps[bind].n[..2], [FIRST_SOURCE, ROOT]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
