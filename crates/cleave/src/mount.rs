//! A sandbox's filesystem as an ordered list of typed operations, checked in the parent and
//! compiled into the child's setup steps. See mount_namespaces(7) and pivot_root(2).
use crate::error::{Error, Result};
use crate::plan::Step;
use cleave_child::OpKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// One filesystem operation, applied in the order given. Every DST is an absolute path inside
/// the sandbox (under the new root when there is one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountOp {
    /// Bind SRC (a host path) on DST, recursively; devices on it do not work (nodev).
    Bind {
        /// Host path.
        src: PathBuf,
        /// Path inside.
        dst: PathBuf,
    },
    /// Like [`MountOp::Bind`], read-only (recursively).
    RoBind {
        /// Host path.
        src: PathBuf,
        /// Path inside.
        dst: PathBuf,
    },
    /// Like [`MountOp::Bind`], with device nodes usable.
    DevBind {
        /// Host path.
        src: PathBuf,
        /// Path inside.
        dst: PathBuf,
    },
    /// A fresh tmpfs (mode 0755).
    Tmpfs {
        /// Path inside.
        dst: PathBuf,
    },
    /// A procfs of the sandbox's PID namespace.
    Proc {
        /// Path inside.
        dst: PathBuf,
    },
    /// A minimal /dev: null zero full random urandom tty, a private devpts with ptmx, and a
    /// tmpfs shm.
    Dev {
        /// Path inside.
        dst: PathBuf,
    },
    /// An empty directory (and its parents).
    Dir {
        /// Path inside.
        dst: PathBuf,
    },
    /// A symbolic link DST -> TARGET.
    Symlink {
        /// What the link points to (kept as given).
        target: PathBuf,
        /// Path inside.
        dst: PathBuf,
    },
    /// Makes DST and everything mounted below it read-only.
    RemountRo {
        /// Path inside.
        dst: PathBuf,
    },
}

impl MountOp {
    /// The path inside the sandbox this op acts on.
    pub fn dst(&self) -> &Path {
        match self {
            MountOp::Bind { dst, .. }
            | MountOp::RoBind { dst, .. }
            | MountOp::DevBind { dst, .. }
            | MountOp::Tmpfs { dst }
            | MountOp::Proc { dst }
            | MountOp::Dev { dst }
            | MountOp::Dir { dst }
            | MountOp::Symlink { dst, .. }
            | MountOp::RemountRo { dst } => dst,
        }
    }

    fn option(&self) -> &'static str {
        match self {
            MountOp::Bind { .. } => "--bind",
            MountOp::RoBind { .. } => "--ro-bind",
            MountOp::DevBind { .. } => "--dev-bind",
            MountOp::Tmpfs { .. } => "--tmpfs",
            MountOp::Proc { .. } => "--proc",
            MountOp::Dev { .. } => "--dev",
            MountOp::Dir { .. } => "--dir",
            MountOp::Symlink { .. } => "--symlink",
            MountOp::RemountRo { .. } => "--remount-ro",
        }
    }
}

/// Mount propagation between the sandbox and the host (mount_namespaces(7)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// No events in either direction (the default).
    #[default]
    Private,
    /// Host mounts appear inside; nothing flows out.
    Slave,
    /// Both directions (where the host's mounts are shared).
    Shared,
    /// Leave the inherited propagation alone.
    Unchanged,
}

impl std::str::FromStr for Propagation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Propagation> {
        Ok(match s {
            "private" => Propagation::Private,
            "slave" => Propagation::Slave,
            "shared" => Propagation::Shared,
            "unchanged" => Propagation::Unchanged,
            _ => {
                return Err(Error::InvalidArgument {
                    what: format!(
                        "unknown propagation `{s}`: choose private, slave, shared or unchanged"
                    ),
                })
            }
        })
    }
}

/// The filesystem part of a sandbox.
#[derive(Clone, Debug, Default)]
pub struct Filesystem {
    /// The new root (pivot_root); `None` keeps the host's root.
    pub rootfs: Option<PathBuf>,
    /// Operations, in order.
    pub ops: Vec<MountOp>,
    /// Propagation of "/" in the new mount namespace.
    pub propagation: Propagation,
    /// Working directory inside (default: "/" with a new root, else unchanged).
    pub chdir: Option<PathBuf>,
}

fn invalid(what: String) -> Error {
    Error::InvalidArgument { what }
}

/// Resolves `dst` inside `root` the way the sandbox will see it: symlinks met on the way are
/// followed relative to `root` (absolute targets start again at `root`); a `..` that would
/// climb above `root` is an error. Components that do not exist yet are kept as written.
pub fn resolve_in_root(root: &Path, dst: &Path, option: &str) -> Result<PathBuf> {
    let mut resolved = PathBuf::from("/");
    let mut links = 0;
    let escape = |why: String| {
        invalid(format!(
            "{option} {}: {why}, which leaves the new root {}; point it inside the root",
            dst.display(),
            root.display()
        ))
    };
    let owned: Vec<String> = dst
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut rest: std::collections::VecDeque<String> = owned.into();
    while let Some(part) = rest.pop_front() {
        if part == ".." {
            if !resolved.pop() {
                return Err(escape("`..` climbs above /".into()));
            }
            continue;
        }
        let next = resolved.join(&part);
        let on_host = root.join(next.strip_prefix("/").unwrap_or(&next));
        match std::fs::symlink_metadata(&on_host) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(invalid(format!(
                        "{option} {}: too many levels of symbolic links",
                        dst.display()
                    )));
                }
                let target = std::fs::read_link(&on_host)
                    .map_err(|e| invalid(format!("{option} {}: {e}", on_host.display())))?;
                let mut parts: Vec<String> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .collect();
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                // Walk a relative target from the link's directory: count its `..` against
                // the root to say clearly when it escapes.
                let mut depth = resolved.components().count() as isize - 1;
                for p in &parts {
                    if p == ".." {
                        depth -= 1;
                        if depth < 0 {
                            return Err(escape(format!(
                                "symlink {} -> {}",
                                next.display(),
                                target.display()
                            )));
                        }
                    } else {
                        depth += 1;
                    }
                }
                parts.extend(rest.drain(..));
                rest = parts.into();
            }
            _ => resolved = next,
        }
    }
    Ok(resolved)
}

/// Where each mount step acts: the resolved path under the new root (before pivot_root), or
/// the path itself on the host's root.
struct Target {
    root: PathBuf,
}

impl Target {
    fn path(&self, inside: &Path) -> PathBuf {
        if self.root == Path::new("/") {
            inside.to_path_buf()
        } else {
            self.root.join(inside.strip_prefix("/").unwrap_or(inside))
        }
    }
}

const MS_BIND: u64 = libc::MS_BIND;
const MS_REC: u64 = libc::MS_REC;
const AT_RECURSIVE: u64 = libc::AT_RECURSIVE as u64;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NODEV: u64 = 0x4;

fn bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// Where the sandbox may create files: anywhere under a new root, else only under a tmpfs
/// it mounted itself (never on the host's own filesystem).
struct Creatable {
    anywhere: bool,
    ours: Vec<PathBuf>,
}

impl Creatable {
    fn check(&self, path: &Path, opt: &str, dst: &Path) -> Result<()> {
        if self.anywhere || self.ours.iter().any(|t| path.starts_with(t)) {
            return Ok(());
        }
        Err(invalid(format!(
            "{opt} {}: {} does not exist, and without --rootfs cleave creates nothing on the host's filesystem; create it first, or put it under a --tmpfs, or use --rootfs",
            dst.display(),
            path.display()
        )))
    }
}

fn mkdir_steps(
    steps: &mut Vec<Step>,
    path: &Path,
    can: &Creatable,
    opt: &str,
    dst: &Path,
) -> Result<()> {
    // Parents that do not exist now may come from an earlier tmpfs: create each (EEXIST is
    // fine), from the top down.
    let mut missing = Vec::new();
    let mut p = path.to_path_buf();
    while !p.exists() {
        missing.push(p.clone());
        if !p.pop() {
            break;
        }
    }
    for dir in missing.iter().rev() {
        can.check(dir, opt, dst)?;
        steps.push(
            Step::new(OpKind::Mkdir, format!("mkdir {}", dir.display()))
                .arg(0, bytes(dir))
                .num(0, 0o755),
        );
    }
    Ok(())
}

fn mount_step(
    src: Option<&[u8]>,
    dst: &Path,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
    what: String,
) -> Step {
    let mut s = Step::new(OpKind::Mount, what)
        .arg(1, bytes(dst))
        .num(0, flags);
    if let Some(src) = src {
        s = s.arg(0, src);
    }
    if let Some(t) = fstype {
        s = s.arg(2, t);
    }
    if let Some(d) = data {
        s = s.arg(3, d);
    }
    s
}

fn setattr_step(dst: &Path, set: u64, what: String) -> Step {
    Step::new(OpKind::MountSetattr, what)
        .arg(0, bytes(dst))
        .num(0, AT_RECURSIVE)
        .num(1, set)
}

/// Devices a minimal /dev carries, bound from the host's.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

impl Filesystem {
    /// Whether there is anything to do.
    pub fn is_empty(&self) -> bool {
        self.rootfs.is_none() && self.ops.is_empty() && self.chdir.is_none()
    }

    /// Checks every path before anything is mounted, then lists the child's steps.
    pub(crate) fn compile(&self, new_mount_ns: bool) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let needs_ns = self.rootfs.is_some() || !self.ops.is_empty();
        if needs_ns && !new_mount_ns {
            return Err(invalid(
                "mount operations and --rootfs need a new mount namespace: add mount to --new"
                    .into(),
            ));
        }
        let root = match &self.rootfs {
            Some(r) => {
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
                canon
            }
            None => PathBuf::from("/"),
        };
        let target = Target { root: root.clone() };
        let mut can = Creatable {
            anywhere: self.rootfs.is_some(),
            ours: Vec::new(),
        };

        if new_mount_ns {
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
                    .num(0, MS_REC | flag),
                );
            }
        }
        if self.rootfs.is_some() {
            steps.push(mount_step(
                Some(bytes(&root)),
                &root,
                None,
                MS_BIND | MS_REC,
                None,
                format!("bind the new root {} on itself", root.display()),
            ));
        }

        for op in &self.ops {
            let opt = op.option();
            let dst = op.dst();
            if !dst.is_absolute() {
                return Err(invalid(format!(
                    "{opt} {}: the destination must be an absolute path inside the sandbox, e.g. /{}",
                    dst.display(),
                    dst.display()
                )));
            }
            let inside = if self.rootfs.is_some() {
                resolve_in_root(&root, dst, opt)?
            } else {
                dst.to_path_buf()
            };
            let at = target.path(&inside);
            let shown = dst.display();
            match op {
                MountOp::Bind { src, .. }
                | MountOp::RoBind { src, .. }
                | MountOp::DevBind { src, .. } => {
                    let meta = std::fs::metadata(src).map_err(|e| {
                        invalid(format!(
                            "{opt} {} {shown}: the source {}: {e}",
                            src.display(),
                            src.display()
                        ))
                    })?;
                    let src = std::fs::canonicalize(src)
                        .map_err(|e| invalid(format!("{opt} {}: {e}", src.display())))?;
                    if meta.is_dir() {
                        mkdir_steps(&mut steps, &at, &can, opt, dst)?;
                    } else {
                        if let Some(parent) = at.parent() {
                            mkdir_steps(&mut steps, parent, &can, opt, dst)?;
                        }
                        if !at.exists() {
                            can.check(&at, opt, dst)?;
                            steps.push(
                                Step::new(OpKind::CreateFile, format!("create {}", at.display()))
                                    .arg(0, bytes(&at))
                                    .num(0, 0o644),
                            );
                        }
                    }
                    steps.push(mount_step(
                        Some(bytes(&src)),
                        &at,
                        None,
                        MS_BIND | MS_REC,
                        None,
                        format!("{opt} {} {shown}", src.display()),
                    ));
                    let set = match op {
                        MountOp::RoBind { .. } => MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV,
                        MountOp::Bind { .. } => MOUNT_ATTR_NODEV,
                        _ => 0,
                    };
                    if set != 0 {
                        steps.push(setattr_step(
                            &at,
                            set,
                            format!("{opt} {shown}: set read-only/nodev"),
                        ));
                    }
                }
                MountOp::Tmpfs { .. } => {
                    mkdir_steps(&mut steps, &at, &can, opt, dst)?;
                    can.ours.push(at.clone());
                    steps.push(mount_step(
                        Some(b"tmpfs"),
                        &at,
                        Some("tmpfs"),
                        libc::MS_NOSUID | libc::MS_NODEV,
                        Some("mode=0755"),
                        format!("--tmpfs {shown}"),
                    ));
                }
                MountOp::Proc { .. } => {
                    mkdir_steps(&mut steps, &at, &can, opt, dst)?;
                    steps.push(mount_step(
                        Some(b"proc"),
                        &at,
                        Some("proc"),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        None,
                        format!("--proc {shown} (mount a procfs of the new PID namespace)"),
                    ));
                }
                MountOp::Dev { .. } => {
                    mkdir_steps(&mut steps, &at, &can, opt, dst)?;
                    can.ours.push(at.clone());
                    self.dev_steps(&mut steps, &at, &shown.to_string());
                }
                MountOp::Dir { .. } => mkdir_steps(&mut steps, &at, &can, opt, dst)?,
                MountOp::Symlink {
                    target: link_to, ..
                } => {
                    if let Some(parent) = at.parent() {
                        mkdir_steps(&mut steps, parent, &can, opt, dst)?;
                    }
                    if at.symlink_metadata().is_err() {
                        can.check(&at, opt, dst)?;
                    }
                    steps.push(
                        Step::new(
                            OpKind::Symlink,
                            format!("--symlink {} {shown}", link_to.display()),
                        )
                        .arg(0, bytes(link_to))
                        .arg(1, bytes(&at)),
                    );
                }
                MountOp::RemountRo { .. } => {
                    steps.push(setattr_step(
                        &at,
                        MOUNT_ATTR_RDONLY,
                        format!("--remount-ro {shown}"),
                    ));
                }
            }
        }

        if self.rootfs.is_some() {
            steps.push(
                Step::new(
                    OpKind::PivotRoot,
                    format!("pivot_root into {}", root.display()),
                )
                .arg(0, bytes(&root)),
            );
        }
        if let Some(dir) = &self.chdir {
            steps.push(
                Step::new(OpKind::Chdir, format!("--chdir {}", dir.display())).arg(0, bytes(dir)),
            );
        }
        Ok(steps)
    }

    fn dev_steps(&self, steps: &mut Vec<Step>, at: &Path, shown: &str) {
        steps.push(mount_step(
            Some(b"tmpfs"),
            at,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("mode=0755"),
            format!("--dev {shown}: tmpfs"),
        ));
        for dev in DEVICES {
            let node = at.join(dev);
            steps.push(
                Step::new(OpKind::CreateFile, format!("--dev {shown}: create {dev}"))
                    .arg(0, bytes(&node))
                    .num(0, 0o666),
            );
            let host = format!("/dev/{dev}");
            steps.push(mount_step(
                Some(host.as_bytes()),
                &node,
                None,
                MS_BIND,
                None,
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
            steps.push(
                Step::new(
                    OpKind::Symlink,
                    format!("--dev {shown}: link {link} -> {to}"),
                )
                .arg(0, to)
                .arg(1, bytes(&at.join(link))),
            );
        }
        let pts = at.join("pts");
        steps.push(
            Step::new(OpKind::Mkdir, format!("--dev {shown}: mkdir pts"))
                .arg(0, bytes(&pts))
                .num(0, 0o755),
        );
        steps.push(mount_step(
            Some(b"devpts"),
            &pts,
            Some("devpts"),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=620"),
            format!("--dev {shown}: devpts"),
        ));
        let shm = at.join("shm");
        steps.push(
            Step::new(OpKind::Mkdir, format!("--dev {shown}: mkdir shm"))
                .arg(0, bytes(&shm))
                .num(0, 0o1777),
        );
        steps.push(mount_step(
            Some(b"tmpfs"),
            &shm,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("mode=1777"),
            format!("--dev {shown}: shm"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let r = |p: &str| resolve_in_root(&root, Path::new(p), "--bind");
        assert_eq!(r("/lib/x").unwrap(), Path::new("/usr/lib/x"));
        assert_eq!(r("/abs/lib").unwrap(), Path::new("/usr/lib"));
        assert_eq!(r("/new/dir").unwrap(), Path::new("/new/dir"));
        let e = r("/usr/up/etc").unwrap_err().to_string();
        assert!(e.contains("leaves the new root"), "{e}");
        let e = r("/../etc").unwrap_err().to_string();
        assert!(e.contains("leaves the new root"), "{e}");
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
        let steps = fs.compile(true).unwrap();
        let kinds: Vec<OpKind> = steps.iter().map(|s| s.kind).collect();
        assert_eq!(kinds.first(), Some(&OpKind::Mount)); // propagation
        assert_eq!(kinds.last(), Some(&OpKind::PivotRoot));
        let tmp = steps.iter().position(|s| s.what == "--tmpfs /tmp").unwrap();
        let bind = steps
            .iter()
            .position(|s| s.what.starts_with("--ro-bind /etc"))
            .unwrap();
        assert!(tmp < bind);
        // The bind lands on the resolved path under the root.
        let target = steps[bind].args[1].clone().unwrap();
        assert_eq!(target, root.join("usr/lib/etc").as_os_str().as_bytes());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
