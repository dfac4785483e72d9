//! A sandbox's filesystem as an ordered list of typed operations, checked in the parent and
//! compiled into the child's setup steps. See mount_namespaces(7) and pivot_root(2).
use crate::error::{Error, Result};
use crate::plan::Step;
use cleave_child::OpKind;
use std::collections::{BTreeMap, VecDeque};
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
                        "unknown propagation `{}`: choose private, slave, shared or unchanged",
                        crate::error::one_line(s)
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

/// What backs a mount point of the sandbox-to-be.
#[derive(Clone, Debug)]
enum Backing {
    /// A host directory (the root, or a bind's source): what the host shows there.
    Host(PathBuf),
    /// A fresh tmpfs: only what the sandbox creates in it.
    Fresh,
    /// A procfs or devpts: it has what it has; nothing may be created in it.
    Opaque,
}

/// What a path is, in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Missing,
    Dir,
    Other,
    Link(PathBuf),
    /// Inside a procfs or devpts: exists or not, cleave cannot tell and creates nothing.
    Unknown,
}

/// The sandbox's filesystem as it will be after the operations checked so far, as far as
/// resolving paths needs it: the mounts (later ones on top) and what the sandbox created.
/// Every destination is resolved against this model in the parent, so a symlink made by an
/// earlier `--symlink`, a directory hidden by an earlier `--tmpfs`, or a `..` cannot send a
/// mount or a mkdir somewhere the checks did not see.
struct Model {
    /// Host path of the sandbox's "/" (before pivot_root).
    root: PathBuf,
    /// Whether paths backed by the host may be created (only under a new root).
    host_writable: bool,
    mounts: Vec<(PathBuf, Backing)>,
    created: BTreeMap<PathBuf, Kind>,
}

impl Model {
    fn new(root: PathBuf, host_writable: bool) -> Model {
        Model {
            mounts: vec![(PathBuf::from("/"), Backing::Host(root.clone()))],
            root,
            host_writable,
            created: BTreeMap::new(),
        }
    }

    /// The topmost mount holding `p`, and where it is mounted.
    fn mount_of(&self, p: &Path) -> (&Path, &Backing) {
        self.mounts
            .iter()
            .rev()
            .find(|(at, _)| p.starts_with(at))
            .map(|(at, b)| (at.as_path(), b))
            .unwrap_or((Path::new("/"), &self.mounts[0].1))
    }

    fn kind(&self, p: &Path) -> Kind {
        if let Some(k) = self.created.get(p) {
            return k.clone();
        }
        let (at, backing) = self.mount_of(p);
        match backing {
            Backing::Host(host) => {
                let on_host = host.join(p.strip_prefix(at).unwrap_or(p));
                match std::fs::symlink_metadata(&on_host) {
                    Ok(m) if m.file_type().is_symlink() => {
                        Kind::Link(std::fs::read_link(&on_host).unwrap_or_default())
                    }
                    Ok(m) if m.is_dir() => Kind::Dir,
                    Ok(_) => Kind::Other,
                    Err(_) => Kind::Missing,
                }
            }
            _ if p == at => Kind::Dir,
            Backing::Fresh => Kind::Missing,
            Backing::Opaque => Kind::Unknown,
        }
    }

    fn creatable(&self, p: &Path) -> bool {
        match self.mount_of(p).1 {
            Backing::Fresh => true,
            Backing::Host(_) => self.host_writable,
            Backing::Opaque => false,
        }
    }

    fn mounted(&mut self, at: &Path, backing: Backing) {
        self.created.retain(|p, _| !p.starts_with(at));
        self.mounts.push((at.to_path_buf(), backing));
    }

    /// Where the child acts on `inside` (it runs before pivot_root).
    fn host_path(&self, inside: &Path) -> PathBuf {
        self.root.join(inside.strip_prefix("/").unwrap_or(inside))
    }

    /// Resolves `dst` the way the sandbox will see it: symlinks (the host's, or made by an
    /// earlier op) are followed inside the root, absolute targets starting again at its top;
    /// a target whose `..` would climb above a new root is an error.
    fn resolve(&self, dst: &Path, option: &str) -> Result<PathBuf> {
        if dst.components().any(|c| c == Component::ParentDir) {
            return Err(invalid(format!(
                "{option} {}: `..` is not allowed in a destination; write the path without it",
                dst.display()
            )));
        }
        let escape = |why: String| {
            invalid(format!(
                "{option} {}: {why}, which leaves the new root {}; point it inside the root",
                dst.display(),
                self.root.display()
            ))
        };
        let words = |p: &Path| -> Vec<String> {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                    Component::ParentDir => Some("..".into()),
                    _ => None,
                })
                .collect()
        };
        let mut resolved = PathBuf::from("/");
        let mut rest: VecDeque<String> = words(dst).into();
        let mut links = 0;
        while let Some(part) = rest.pop_front() {
            if part == ".." {
                // Only from a link's target. At the top of the host's own root ".." stays
                // there, as the kernel does; above a new root it would reach the host.
                if !resolved.pop() && self.host_writable {
                    return Err(escape("a symlink's `..` climbs above /".into()));
                }
                continue;
            }
            let next = resolved.join(&part);
            match self.kind(&next) {
                Kind::Link(target) => {
                    links += 1;
                    if links > 40 {
                        return Err(invalid(format!(
                            "{option} {}: too many levels of symbolic links",
                            dst.display()
                        )));
                    }
                    if target.is_absolute() {
                        resolved = PathBuf::from("/");
                    }
                    let mut parts: VecDeque<String> = words(&target).into();
                    let mut depth = resolved.components().count() as isize - 1;
                    for p in &parts {
                        depth += if p == ".." { -1 } else { 1 };
                        if depth < 0 && self.host_writable {
                            return Err(escape(format!(
                                "symlink {} -> {}",
                                next.display(),
                                target.display()
                            )));
                        }
                    }
                    parts.extend(rest.drain(..));
                    rest = parts;
                }
                _ => resolved = next,
            }
        }
        Ok(resolved)
    }

    fn refuse_create(&self, p: &Path, opt: &str, dst: &Path) -> Error {
        let why = match self.mount_of(p).1 {
            Backing::Opaque => "it would be inside a procfs or devpts".to_string(),
            _ => "without --rootfs cleave creates nothing on the host's filesystem; create it first, or put it under a --tmpfs, or use --rootfs".to_string(),
        };
        invalid(format!(
            "{opt} {}: {} does not exist, and {why}",
            dst.display(),
            p.display()
        ))
    }

    /// `inside` and its missing parents, created top-down.
    fn ensure_dir(
        &mut self,
        steps: &mut Vec<Step>,
        inside: &Path,
        opt: &str,
        dst: &Path,
    ) -> Result<()> {
        let mut missing = Vec::new();
        let mut p = inside.to_path_buf();
        loop {
            match self.kind(&p) {
                Kind::Missing => missing.push(p.clone()),
                Kind::Dir | Kind::Unknown => break,
                Kind::Other | Kind::Link(_) => {
                    return Err(invalid(format!(
                        "{opt} {}: {} is not a directory",
                        dst.display(),
                        p.display()
                    )))
                }
            }
            if !p.pop() {
                break;
            }
        }
        for dir in missing.iter().rev() {
            if !self.creatable(dir) {
                return Err(self.refuse_create(dir, opt, dst));
            }
            let at = self.host_path(dir);
            steps.push(
                Step::new(OpKind::Mkdir, format!("mkdir {}", dir.display()))
                    .arg(0, bytes(&at))
                    .num(0, 0o755),
            );
            self.created.insert(dir.clone(), Kind::Dir);
        }
        Ok(())
    }

    /// An empty file at `inside` unless something is there (a bind-mount target).
    fn ensure_file(
        &mut self,
        steps: &mut Vec<Step>,
        inside: &Path,
        mode: u64,
        opt: &str,
        dst: &Path,
    ) -> Result<()> {
        if let Some(parent) = inside.parent() {
            self.ensure_dir(steps, parent, opt, dst)?;
        }
        if self.kind(inside) != Kind::Missing {
            return Ok(());
        }
        if !self.creatable(inside) {
            return Err(self.refuse_create(inside, opt, dst));
        }
        let at = self.host_path(inside);
        steps.push(
            Step::new(OpKind::CreateFile, format!("create {}", inside.display()))
                .arg(0, bytes(&at))
                .num(0, mode),
        );
        self.created.insert(inside.to_path_buf(), Kind::Other);
        Ok(())
    }

    fn symlink(
        &mut self,
        steps: &mut Vec<Step>,
        target: &Path,
        inside: &Path,
        what: String,
        opt: &str,
        dst: &Path,
    ) -> Result<()> {
        if let Some(parent) = inside.parent() {
            self.ensure_dir(steps, parent, opt, dst)?;
        }
        match self.kind(inside) {
            Kind::Missing if self.creatable(inside) => {}
            Kind::Missing => return Err(self.refuse_create(inside, opt, dst)),
            Kind::Link(t) if t == target => return Ok(()),
            _ => {
                return Err(invalid(format!(
                    "{opt} {}: something else already exists there",
                    dst.display()
                )))
            }
        }
        let at = self.host_path(inside);
        steps.push(
            Step::new(OpKind::Symlink, what)
                .arg(0, bytes(target))
                .arg(1, bytes(&at)),
        );
        self.created
            .insert(inside.to_path_buf(), Kind::Link(target.to_path_buf()));
        Ok(())
    }
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

const MS_BIND: u64 = libc::MS_BIND;
const MS_REC: u64 = libc::MS_REC;
const AT_RECURSIVE: u64 = libc::AT_RECURSIVE as u64;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NODEV: u64 = 0x4;

fn bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
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
        if self.rootfs.is_some() {
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
        }
        let mut model = Model::new(root.clone(), self.rootfs.is_some());

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
            let inside = model.resolve(dst, opt)?;
            let at = model.host_path(&inside);
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
                        model.ensure_dir(&mut steps, &inside, opt, dst)?;
                    } else {
                        model.ensure_file(&mut steps, &inside, 0o644, opt, dst)?;
                    }
                    steps.push(mount_step(
                        Some(bytes(&src)),
                        &at,
                        None,
                        MS_BIND | MS_REC,
                        None,
                        format!("{opt} {} {shown}", src.display()),
                    ));
                    // A bind copies its source's flags, including a read-only remount made
                    // earlier in the sandbox (--preset sandbox): --bind and --dev-bind are
                    // writable where the host's source is.
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
                    steps.push(
                        setattr_step(&at, set, format!("{opt} {shown}: set its flags"))
                            .num(2, clear),
                    );
                    model.mounted(&inside, Backing::Host(src));
                }
                MountOp::Tmpfs { .. } => {
                    model.ensure_dir(&mut steps, &inside, opt, dst)?;
                    steps.push(mount_step(
                        Some(b"tmpfs"),
                        &at,
                        Some("tmpfs"),
                        libc::MS_NOSUID | libc::MS_NODEV,
                        Some("mode=0755"),
                        format!("--tmpfs {shown}"),
                    ));
                    model.mounted(&inside, Backing::Fresh);
                }
                MountOp::Proc { .. } => {
                    model.ensure_dir(&mut steps, &inside, opt, dst)?;
                    steps.push(mount_step(
                        Some(b"proc"),
                        &at,
                        Some("proc"),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        None,
                        format!("--proc {shown} (mount a procfs of the new PID namespace)"),
                    ));
                    model.mounted(&inside, Backing::Opaque);
                }
                MountOp::Dev { .. } => {
                    model.ensure_dir(&mut steps, &inside, opt, dst)?;
                    self.dev_steps(&mut steps, &mut model, &inside, &shown.to_string())?;
                }
                MountOp::Dir { .. } => model.ensure_dir(&mut steps, &inside, opt, dst)?,
                MountOp::Symlink {
                    target: link_to, ..
                } => {
                    let what = format!("--symlink {} {shown}", link_to.display());
                    model.symlink(&mut steps, link_to, &inside, what, opt, dst)?;
                }
                MountOp::RemountRo { .. } => {
                    if model.kind(&inside) == Kind::Missing {
                        return Err(invalid(format!(
                            "{opt} {shown}: no such path in the sandbox"
                        )));
                    }
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

    fn dev_steps(
        &self,
        steps: &mut Vec<Step>,
        model: &mut Model,
        inside: &Path,
        shown: &str,
    ) -> Result<()> {
        let opt = "--dev";
        let dst = Path::new(shown);
        steps.push(mount_step(
            Some(b"tmpfs"),
            &model.host_path(inside),
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("mode=0755"),
            format!("--dev {shown}: tmpfs"),
        ));
        model.mounted(inside, Backing::Fresh);
        for dev in DEVICES {
            let node = inside.join(dev);
            model.ensure_file(steps, &node, 0o666, opt, dst)?;
            let host = format!("/dev/{dev}");
            steps.push(mount_step(
                Some(host.as_bytes()),
                &model.host_path(&node),
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
            let what = format!("--dev {shown}: link {link} -> {to}");
            model.symlink(steps, Path::new(to), &inside.join(link), what, opt, dst)?;
        }
        for (dir, fstype, flags, data, backing) in [
            (
                "pts",
                "devpts",
                libc::MS_NOSUID | libc::MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=620",
                Backing::Opaque,
            ),
            (
                "shm",
                "tmpfs",
                libc::MS_NOSUID | libc::MS_NODEV,
                "mode=1777",
                Backing::Fresh,
            ),
        ] {
            let at = inside.join(dir);
            model.ensure_dir(steps, &at, opt, dst)?;
            steps.push(mount_step(
                Some(fstype.as_bytes()),
                &model.host_path(&at),
                Some(fstype),
                flags,
                Some(data),
                format!("--dev {shown}: {dir}"),
            ));
            model.mounted(&at, backing);
        }
        Ok(())
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
        let steps = fs.compile(true).unwrap();
        let mkdirs: Vec<&[u8]> = steps
            .iter()
            .filter(|s| s.kind == OpKind::Mkdir)
            .map(|s| s.args[0].as_deref().unwrap())
            .collect();
        assert_eq!(
            mkdirs,
            [
                root.join("outside").as_os_str().as_bytes(),
                root.join("outside/d").as_os_str().as_bytes()
            ]
        );
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
        let steps = fs.compile(true).unwrap();
        assert!(steps
            .iter()
            .any(|s| s.kind == OpKind::Mkdir && s.what == "mkdir /etc/ssl"));
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
