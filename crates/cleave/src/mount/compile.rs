//! [`Filesystem`] -> the child's steps. Every source is opened before the first change to
//! the tree (so it is the host's path as it was when the sandbox started), the rootfs is
//! opened once and checked to be the directory the parent saw, and every destination is a
//! path relative to the root fd that the child resolves with RESOLVE_IN_ROOT.
use super::model::{fail, Backing, Kind, Model, Protection};
use super::newfs::{self, CgroupContext, CgroupLayout};
use super::{Filesystem, MountOp, Propagation, RootPropagationMode, PROC_MASKED, PROC_READ_ONLY};
use crate::error::{MountProblem, Origin, Result};
use crate::plan::{text, Step, What};
use cleave_child::{Op, Slot};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Slot of the sandbox's root directory (the new root, or "/").
pub(super) const ROOT: Slot = 0;
/// Slot of the rootfs directory as opened, before its copy is mounted on it.
const ROOTFS_DIR: Slot = 1;
/// Slot of the empty device that hides masked files.
const NULL_DEVICE: Slot = 2;
/// Slot of a procfs while its paths are protected.
const PROC: Slot = 3;
/// First slot of the sources.
const FIRST_SOURCE: Slot = 4;
/// The "slot" of an optional bind whose source does not exist: the operation is skipped.
const SKIPPED: Slot = Slot::MAX - 1;

pub(super) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(super) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(super) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(super) const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub(super) const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub(super) const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub(super) const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const O_PATH: u64 = (libc::O_PATH | libc::O_CLOEXEC) as u64;
const O_PATH_DIR: u64 = (libc::O_PATH | libc::O_CLOEXEC | libc::O_DIRECTORY) as u64;

/// What compiling a [`Filesystem`] needs to know of the rest of the sandbox.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Facts {
    /// The ids (inside) that own what is made for the program (tmpfs roots, files from
    /// fds); `None` leaves them root's.
    pub owner: Option<(u32, u32)>,
    /// The sandbox has a PID namespace of its own (new or joined): a [`MountOp::Proc`] is a
    /// new procfs of it; otherwise the caller's /proc is bound (bubblewrap's way), since a
    /// procfs of the caller's PID namespace needs privilege over it.
    pub own_pid_ns: bool,
}

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

/// [`relative`], for the other compile files.
/// Whether `op` mounts a whole filesystem or a bind on its destination, hiding what was
/// there.
fn covers(op: &MountOp) -> bool {
    matches!(
        op,
        MountOp::Bind { .. }
            | MountOp::RoBind { .. }
            | MountOp::DevBind { .. }
            | MountOp::BindMount { .. }
            | MountOp::BindFd { .. }
            | MountOp::Tmpfs { .. }
            | MountOp::Proc { .. }
            | MountOp::Dev { .. }
            | MountOp::Mount { .. }
            | MountOp::Mqueue { .. }
            | MountOp::Overlay { .. }
    )
}

pub(super) fn relative_at(p: &Path) -> Vec<u8> {
    relative(p)
}

/// Whether `op` binds the caller's "/" with everything mounted below it (a recursive bind).
fn binds_callers_root(op: &MountOp) -> bool {
    match op {
        MountOp::Bind { src, .. }
        | MountOp::RoBind { src, .. }
        | MountOp::DevBind { src, .. }
        | MountOp::BindMount {
            src,
            recursive: true,
            ..
        } => std::fs::canonicalize(src).is_ok_and(|p| p == Path::new("/")),
        _ => false,
    }
}

/// Whether `op` mounts a procfs.
fn is_proc(op: &MountOp) -> bool {
    match op {
        MountOp::Proc { .. } => true,
        MountOp::Mount { fstype, .. } => fstype == "proc",
        _ => false,
    }
}

/// Whether `op` mounts the sandbox's cgroups.
fn is_cgroup(op: &MountOp) -> bool {
    matches!(op, MountOp::Mount { fstype, .. } if fstype == "cgroup")
}

/// The entry `inside` as the child names it: the root slot, its parent directory relative
/// to the root, and its name (MkdirAt, CreateFileAt, SymlinkAt).
pub(super) fn entry(inside: &Path) -> (Slot, Vec<u8>, Vec<u8>) {
    let parent = inside.parent().unwrap_or(Path::new("/"));
    let name = inside.file_name().map_or(&b"."[..], |n| n.as_bytes());
    (ROOT, relative(parent), name.to_vec())
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

pub(super) fn fs_mount(
    fstype: &str,
    opts: &[(&str, &str)],
    attrs: u64,
    at: &Path,
    keep: Option<Slot>,
    what: impl Into<What>,
) -> Step {
    Step::new(
        Op::FsMount {
            fstype: fstype.as_bytes().to_vec(),
            options: options(opts),
            attrs,
            root: ROOT,
            dst: relative(at),
            keep,
        },
        what,
    )
}

pub(super) fn bind(
    src: Slot,
    at: &Path,
    set: u64,
    clear: u64,
    recursive: bool,
    what: impl Into<What>,
) -> Step {
    Step::new(
        Op::Bind {
            src,
            root: ROOT,
            dst: relative(at),
            set,
            clear,
            recursive,
            // On "/", later lookups start from the bind, not from what it covers.
            keep: (at == Path::new("/")).then_some(ROOT),
        },
        what,
    )
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
pub(super) fn host_writable(path: &Path) -> bool {
    rustix::fs::statvfs(path)
        .is_ok_and(|st| !st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// Hands out slots for sources, in the order they are opened.
struct Sources {
    steps: Vec<Step>,
    next: Slot,
}

impl Sources {
    fn open(&mut self, path: &Path, flags: u64, slot: Option<Slot>, what: impl Into<What>) -> Slot {
        let slot = slot.unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        });
        self.steps.push(Step::new(
            Op::OpenPath {
                path: text(path),
                flags,
                slot,
            },
            what,
        ));
        slot
    }
}

impl Filesystem {
    /// Whether there is anything to do.
    pub fn is_empty(&self) -> bool {
        self.rootfs.is_none() && self.ops.is_empty() && self.chdir.is_none()
    }

    /// Checks every path before anything is mounted, then lists the child's steps, for a
    /// sandbox that may make device nodes.
    #[cfg(test)]
    pub(crate) fn compile(&self, new_mount_ns: bool) -> Result<Compiled> {
        let facts = Facts {
            own_pid_ns: true,
            ..Facts::default()
        };
        self.compile_with(new_mount_ns, true, CgroupContext::default(), facts)
    }

    /// [`Filesystem::compile`]; `mknod`: whether the sandbox may make device nodes (else
    /// each [`MountOp::Device`] binds the host's node); `cgroups`: what a cgroup mount
    /// needs to know of the sandbox's namespaces; `facts`: the rest.
    pub(crate) fn compile_with(
        &self,
        new_mount_ns: bool,
        mknod: bool,
        cgroups: CgroupContext,
        facts: Facts,
    ) -> Result<Compiled> {
        let needs_ns = self.rootfs.is_some() || !self.ops.is_empty();
        if needs_ns && !new_mount_ns {
            return Err(fail(usize::MAX, MountProblem::NeedsMountNamespace));
        }
        if !needs_ns {
            let steps = self
                .chdir
                .iter()
                .map(|dir| {
                    Step::new(
                        Op::Chdir { path: text(dir) },
                        format!("chdir {}", dir.display()),
                    )
                    .at(Origin::WorkingDirectory)
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
                let meta = std::fs::metadata(&root).map_err(|e| {
                    fail(
                        usize::MAX,
                        MountProblem::Rootfs {
                            path: root.clone(),
                            errno: e.raw_os_error().unwrap_or(libc::EIO),
                        },
                    )
                })?;
                sources.open(
                    &root,
                    O_PATH_DIR,
                    Some(ROOTFS_DIR),
                    format!("open the new root {}", root.display()),
                );
                sources.steps.push(Step::new(
                    Op::CheckIdentity {
                        slot: ROOTFS_DIR,
                        dev: meta.dev(),
                        ino: meta.ino(),
                    },
                    format!(
                        "check that the new root {} is still the directory checked",
                        root.display()
                    ),
                ));
            }
            None => {
                sources.open(Path::new("/"), O_PATH_DIR, Some(ROOT), "open /");
            }
        }
        if self
            .ops
            .iter()
            .any(|op| is_proc(op) || matches!(op, MountOp::Mask { .. }))
        {
            sources.open(
                Path::new("/dev/null"),
                O_PATH,
                Some(NULL_DEVICE),
                "open /dev/null (what hides masked files)",
            );
        }
        let mut source_slots = Vec::with_capacity(self.ops.len());
        for (i, op) in self.ops.iter().enumerate() {
            let first_step = sources.steps.len();
            let slot = match op {
                MountOp::Bind {
                    src,
                    optional: true,
                    ..
                }
                | MountOp::RoBind {
                    src,
                    optional: true,
                    ..
                }
                | MountOp::DevBind {
                    src,
                    optional: true,
                    ..
                }
                | MountOp::BindMount {
                    src,
                    optional: true,
                    ..
                } if std::fs::symlink_metadata(src).is_err() => SKIPPED,
                MountOp::Bind { src, .. }
                | MountOp::RoBind { src, .. }
                | MountOp::DevBind { src, .. }
                | MountOp::BindMount { src, .. } => {
                    // Errors name the option now, rather than the child's failure later.
                    std::fs::metadata(src).map_err(|e| {
                        fail(
                            i,
                            MountProblem::Source {
                                path: src.clone(),
                                errno: e.raw_os_error().unwrap_or(libc::EIO),
                            },
                        )
                    })?;
                    sources.open(
                        src,
                        O_PATH,
                        None,
                        format!("open the bind source {}", src.display()),
                    )
                }
                MountOp::BindFd { fd, .. } => {
                    // A mount an fd of the caller's is on belongs to the caller's mount
                    // namespace, which open_tree(2) refuses to copy from: the path it was
                    // opened by is opened again, and must still be the same object.
                    let (meta, path) = super::data::caller_fd(i, *fd)?;
                    let slot = sources.open(
                        &path,
                        O_PATH,
                        None,
                        format!("open {} (what fd {fd} is)", path.display()),
                    );
                    sources.steps.push(Step::new(
                        Op::CheckIdentity {
                            slot,
                            dev: meta.dev(),
                            ino: meta.ino(),
                        },
                        format!("check that {} is still what fd {fd} is", path.display()),
                    ));
                    slot
                }
                MountOp::Overlay { .. } => {
                    let first = sources.next;
                    for dir in super::data::overlay_sources(i, op)? {
                        sources.open(
                            &dir,
                            O_PATH_DIR,
                            None,
                            format!("open the overlay layer {}", dir.display()),
                        );
                    }
                    first
                }
                MountOp::Proc { .. } if !facts.own_pid_ns => sources.open(
                    Path::new("/proc"),
                    O_PATH_DIR,
                    None,
                    "open the caller's /proc (no PID namespace of the sandbox's own)",
                ),
                MountOp::Dev { dst } => {
                    let first = sources.next;
                    for dev in super::dev::DEVICES {
                        let host = Path::new("/dev").join(dev);
                        sources.open(
                            &host,
                            O_PATH,
                            None,
                            What::path(["open /dev/", dev, " for the /dev at "], dst, []),
                        );
                    }
                    first
                }
                MountOp::Device {
                    kind: super::DeviceKind::Fifo,
                    ..
                } => Slot::MAX,
                MountOp::Device { .. } if !mknod => match super::dev::host_source(i, op)? {
                    Some(host) => sources.open(
                        &host,
                        O_PATH,
                        None,
                        format!("open the host's device node {}", host.display()),
                    ),
                    None => Slot::MAX,
                },
                // The child's own cgroup namespace, to go back to after the mounts.
                op if is_cgroup(op) && !cgroups.new_cgroup_ns => sources.open(
                    Path::new("/proc/self/ns/cgroup"),
                    (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
                    None,
                    "open the child's cgroup namespace",
                ),
                _ => Slot::MAX,
            };
            for step in &mut sources.steps[first_step..] {
                step.origin = Some(Origin::Mount(i));
            }
            source_slots.push(slot);
        }
        let mut steps = sources.steps;
        model.next_slot = sources.next;
        model.ahead = self
            .ops
            .iter()
            .zip(&source_slots)
            .enumerate()
            .filter(|(_, (op, &slot))| slot != SKIPPED && op.dst().is_absolute())
            .map(|(i, (op, _))| (i, op.dst().to_path_buf(), covers(op)))
            .collect();

        let prop = match self.propagation {
            Propagation::Private => Some((libc::MS_PRIVATE, "private")),
            Propagation::Slave => Some((libc::MS_SLAVE, "slave")),
            Propagation::Shared => Some((libc::MS_SHARED, "shared")),
            Propagation::Unchanged => None,
        };
        if let Some((flag, name)) = prop {
            steps.push(Step::new(
                Op::Propagation {
                    flags: libc::MS_REC | flag,
                },
                format!("make / {name} (mount --make-r{name} /)"),
            ));
        }
        if self.rootfs.is_some() {
            steps.push(Step::new(
                Op::BindRoot {
                    dir: ROOTFS_DIR,
                    root: ROOT,
                },
                format!("bind the new root {} on itself", root.display()),
            ));
        }

        // Whether an op mounted a new filesystem on "/" (`--tmpfs /`): the program's root
        // then moves there, as into a new root.
        let mut replaced_root = false;
        // How many mounts the sandbox has stacked on the caller's "/" (without a rootfs).
        let mut root_stack = 0u32;
        let layout = if self.ops.iter().any(is_cgroup) {
            CgroupLayout::host()
        } else {
            CgroupLayout::default()
        };
        for (i, (op, &src_slot)) in self.ops.iter().zip(&source_slots).enumerate() {
            if src_slot == SKIPPED {
                continue;
            }
            let first_step = steps.len();
            if is_cgroup(op) {
                if !op.dst().is_absolute() {
                    return Err(fail(i, MountProblem::NotAbsolute(op.dst().to_path_buf())));
                }
                let inside = model.resolve(op.dst(), i)?;
                let ctx = (cgroups, &layout, src_slot);
                newfs::cgroup(i, op, &inside, ctx, &mut model, &mut steps)?;
            } else {
                let on_root = |m: &Model| {
                    m.mounts
                        .iter()
                        .skip(1)
                        .filter(|(p, _)| p == Path::new("/"))
                        .count()
                };
                let before = on_root(&model);
                compile_op(i, op, (src_slot, facts), &mut model, &mut steps)?;
                // Binds, overlays and new filesystems on "/" keep their fd in ROOT.
                if on_root(&model) > before {
                    replaced_root = true;
                    // What the sandbox mounted on "/" before goes first (without a rootfs,
                    // those mounts are stacked on the caller's root, which stays under the
                    // program's root after the pivot with them, a chroot in the kernel's
                    // eyes): `--tmpfs / --ro-bind / /`, bubblewrap's tmpfs root under a
                    // bind on "/".
                    if self.rootfs.is_none() && root_stack > 0 {
                        steps.insert(
                            first_step,
                            Step::new(
                                Op::UnstackRoot {
                                    root: ROOT,
                                    count: root_stack,
                                },
                                "detach what was mounted on / before",
                            ),
                        );
                    }
                    root_stack = if self.rootfs.is_none() { 1 } else { 0 };
                } else if root_stack > 0 && self.rootfs.is_none() && binds_callers_root(op) {
                    // The recursive copy of the caller's "/" brought what the sandbox had
                    // stacked on "/" with it: the sandbox's own root would show at the
                    // destination (bubblewrap's `--ro-bind / /host` over its tmpfs root
                    // shows the host's).
                    let inside = model.resolve(op.dst(), i)?;
                    steps.push(Step::new(
                        Op::UnstackAt {
                            root: ROOT,
                            dst: relative(&inside),
                            count: root_stack,
                        },
                        What::path(
                            ["detach the sandbox's own root from the copy of / at "],
                            op.dst(),
                            [],
                        ),
                    ));
                }
            }
            for step in &mut steps[first_step..] {
                step.origin = Some(Origin::Mount(i));
            }
        }

        if self.rootfs.is_some() {
            steps.push(Step::new(
                Op::PivotRoot { root: ROOT },
                format!("pivot_root into {}", root.display()),
            ));
        } else if replaced_root {
            steps.push(Step::new(
                Op::PivotRoot { root: ROOT },
                "pivot_root into the filesystem mounted on /",
            ));
        }
        if self.rootfs.is_some() || replaced_root {
            if let Some(p) = self.root_propagation {
                let (flag, name) = match p.mode {
                    RootPropagationMode::Shared => (libc::MS_SHARED, "shared"),
                    RootPropagationMode::Slave => (libc::MS_SLAVE, "slave"),
                    RootPropagationMode::Private => (libc::MS_PRIVATE, "private"),
                    RootPropagationMode::Unbindable => (libc::MS_UNBINDABLE, "unbindable"),
                };
                let (rec, r) = if p.recursive {
                    (libc::MS_REC, "r")
                } else {
                    (0, "")
                };
                steps.push(Step::new(
                    Op::Propagation { flags: flag | rec },
                    format!("make the new root {r}{name} (mount --make-{r}{name} /)"),
                ));
            }
        }
        // The mount lock's procfs, if any, stays: its op closes it (sandbox::prepare).
        steps.push(Step::new(
            Op::CloseSlots { keep: Slot::MAX },
            "close the setup's fds",
        ));
        match &self.chdir {
            Some(dir) => steps.push(
                Step::new(
                    Op::Chdir { path: text(dir) },
                    format!("chdir {}", dir.display()),
                )
                .at(Origin::WorkingDirectory),
            ),
            // The caller's working directory, looked up again now that everything is
            // mounted: a tmpfs over it, or a new root, must not leave the program in what
            // they hide.
            None => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
                steps.push(Step::new(
                    Op::ChdirOrRoot { path: text(&cwd) },
                    format!("enter the working directory {}", cwd.display()),
                ));
            }
        }
        Ok(Compiled {
            steps,
            slots: model.next_slot as usize,
        })
    }

    /// The host path of the sandbox's "/", checked.
    fn root(&self) -> Result<PathBuf> {
        let Some(r) = &self.rootfs else {
            return Ok(PathBuf::from("/"));
        };
        let rootfs = |errno| {
            fail(
                usize::MAX,
                MountProblem::Rootfs {
                    path: r.clone(),
                    errno,
                },
            )
        };
        let canon =
            std::fs::canonicalize(r).map_err(|e| rootfs(e.raw_os_error().unwrap_or(libc::EIO)))?;
        if !canon.is_dir() {
            return Err(rootfs(libc::ENOTDIR));
        }
        // pivot_root refuses a shared old root (pivot_root(2)).
        let refused = match self.propagation {
            Propagation::Shared => true,
            Propagation::Unchanged => root_is_shared(),
            _ => false,
        };
        if refused {
            return Err(fail(usize::MAX, MountProblem::SharedRoot));
        }
        Ok(canon)
    }
}

fn compile_op(
    i: usize,
    op: &MountOp,
    (src_slot, facts): (Slot, Facts),
    model: &mut Model,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let dst = op.dst();
    if !dst.is_absolute() {
        return Err(fail(i, MountProblem::NotAbsolute(dst.to_path_buf())));
    }
    let inside = model.resolve(dst, i)?;
    let shown = dst.display();
    match op {
        MountOp::Bind { src, .. } | MountOp::RoBind { src, .. } | MountOp::DevBind { src, .. } => {
            let src = newfs::bind_target(i, src, dst, &inside, model, steps)?;
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
                // Devices usable, whatever an earlier read-only remount set.
                _ => (0, clear | MOUNT_ATTR_NODEV),
            };
            steps.push(bind(
                src_slot,
                &inside,
                set,
                clear,
                true,
                format!("bind {} on {shown}", src.display()),
            ));
            model.mounted(&inside, Backing::Host(src));
        }
        MountOp::Tmpfs { mode, size, .. } => {
            model.ensure_dir(steps, &inside, i, dst)?;
            // At "/", later lookups start from the tmpfs, not from what it covers.
            let keep = (inside == Path::new("/")).then_some(ROOT);
            let mode = format!(
                "{:04o}",
                super::data::check_mode(i, dst, mode.unwrap_or(0o755))?
            );
            let mut opts = vec![("mode", mode)];
            if let Some(size) = size {
                opts.push(("size", size.to_string()));
            }
            if let Some((uid, gid)) = facts.owner {
                opts.push(("uid", uid.to_string()));
                opts.push(("gid", gid.to_string()));
            }
            let opts: Vec<(&str, &str)> = opts.iter().map(|(k, v)| (*k, v.as_str())).collect();
            steps.push(fs_mount(
                "tmpfs",
                &opts,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                &inside,
                keep,
                What::path(["mount a tmpfs on "], dst, []),
            ));
            model.mounted(&inside, Backing::Fresh);
        }
        MountOp::BindMount { .. } => newfs::bind_mount(i, op, src_slot, &inside, model, steps)?,
        MountOp::Mount { fstype, .. } if fstype != "proc" => {
            newfs::new_fs(i, op, &inside, model, steps)?
        }
        MountOp::Proc { .. } if !facts.own_pid_ns => {
            model.ensure_dir(steps, &inside, i, dst)?;
            super::data::bind_proc(steps, src_slot, &inside, NULL_DEVICE);
            model.mounted(&inside, Backing::Opaque);
        }
        MountOp::Proc { .. } | MountOp::Mount { .. } => {
            let (opts, attrs) = match op {
                MountOp::Mount {
                    source,
                    flags,
                    data,
                    ..
                } => {
                    let mut opts = newfs::parse_data(i, data)?;
                    if !source.is_empty() {
                        opts.insert(0, ("source".into(), source.clone()));
                    }
                    (opts, flags.attrs())
                }
                _ => (Vec::new(), 0),
            };
            let opts: Vec<(&str, &str)> =
                opts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            model.ensure_dir(steps, &inside, i, dst)?;
            steps.push(fs_mount(
                "proc",
                &opts,
                attrs | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                &inside,
                Some(PROC),
                What::path(["mount a procfs of the new PID namespace on "], dst, []),
            ));
            model.mounted(&inside, Backing::Opaque);
            for name in PROC_READ_ONLY {
                model.protect(inside.join(name), Protection::ReadOnly);
                steps.push(Step::new(
                    Op::ReadOnlyAt {
                        root: PROC,
                        path: name.as_bytes().to_vec(),
                    },
                    What::path(["make "], dst, ["/", name, " read-only"]),
                ));
            }
            for name in PROC_MASKED {
                model.protect(inside.join(name), Protection::Masked);
                steps.push(Step::new(
                    Op::MaskAt {
                        root: PROC,
                        path: name.as_bytes().to_vec(),
                        empty: NULL_DEVICE,
                    },
                    What::path(["hide "], dst, ["/", name]),
                ));
            }
        }
        MountOp::Dev { .. } => {
            model.ensure_dir(steps, &inside, i, dst)?;
            super::dev::minimal_dev(steps, model, &inside, src_slot, i)?;
        }
        MountOp::Dir { mode, .. } => {
            let mode = super::data::check_mode(i, dst, mode.unwrap_or(0o755))?;
            model.ensure_dir_mode(steps, &inside, mode, (i, dst))?
        }
        MountOp::BindFd { .. }
        | MountOp::File { .. }
        | MountOp::BindData { .. }
        | MountOp::Mqueue { .. }
        | MountOp::Overlay { .. }
        | MountOp::Chmod { .. } => {
            super::data::compile(i, op, (src_slot, &inside, facts.owner), model, steps)?
        }
        MountOp::Symlink {
            target: link_to, ..
        } => {
            let what = format!("symlink {shown} -> {}", link_to.display());
            model.symlink(steps, link_to, &inside, what, i, dst)?;
        }
        MountOp::RemountRo { .. } | MountOp::RemountRoTop { .. } => {
            if model.kind(&inside) == Kind::Missing {
                return Err(fail(i, MountProblem::Missing(dst.to_path_buf())));
            }
            let recursive = matches!(op, MountOp::RemountRo { .. });
            // Read-only, and no device node or setuid bit there works: a node the host
            // (or a rootfs) happens to carry must not open a device inside.
            steps.push(Step::new(
                Op::SetAttrAt {
                    root: ROOT,
                    path: relative(&inside),
                    set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID,
                    clear: 0,
                    propagation: 0,
                    recursive,
                },
                What::path(["make "], dst, [" read-only"]),
            ));
        }
        MountOp::Propagate { propagation, .. } => {
            // On any other path mount_setattr would change the mount holding it.
            if model.mount_of(&inside).0 != inside {
                return Err(fail(i, MountProblem::NotMountPoint(dst.to_path_buf())));
            }
            let (flag, name) = match propagation.mode {
                RootPropagationMode::Shared => (libc::MS_SHARED, "shared"),
                RootPropagationMode::Slave => (libc::MS_SLAVE, "slave"),
                RootPropagationMode::Private => (libc::MS_PRIVATE, "private"),
                RootPropagationMode::Unbindable => (libc::MS_UNBINDABLE, "unbindable"),
            };
            let r = if propagation.recursive { "r" } else { "" };
            steps.push(Step::new(
                Op::SetAttrAt {
                    root: ROOT,
                    path: relative(&inside),
                    set: 0,
                    clear: 0,
                    propagation: flag,
                    recursive: propagation.recursive,
                },
                What::path(["make "], dst, [" ", r, name]),
            ));
        }
        // An OCI config's maskedPaths and readonlyPaths name the same /proc paths cleave
        // protects on every procfs it mounts: the protection made with the procfs stands
        // (nothing has been mounted on, over or under the path since), and a second mount
        // stacked on it would only be one more mount for the container (and CRIU) to carry.
        MountOp::Mask { .. } if model.is_protected(&inside, Protection::Masked) => {}
        MountOp::ReadOnly { .. } if model.is_protected(&inside, Protection::ReadOnly) => {}
        MountOp::Mask { .. } => {
            model.covered(&inside);
            steps.push(Step::new(
                Op::MaskAt {
                    root: ROOT,
                    path: relative(&inside),
                    empty: NULL_DEVICE,
                },
                What::path(["hide "], dst, []),
            ))
        }
        MountOp::ReadOnly { .. } => {
            model.covered(&inside);
            steps.push(Step::new(
                Op::ReadOnlyAt {
                    root: ROOT,
                    path: relative(&inside),
                },
                What::path(["make "], dst, [" read-only"]),
            ))
        }
        MountOp::Device { .. } if src_slot == Slot::MAX => {
            super::dev::mknod_steps(i, op, &inside, model, steps)?
        }
        MountOp::Device { .. } => {
            // The host's node, bound: usable (not nodev), writable where the host's is.
            model.ensure_file(steps, &inside, 0o644, i, dst)?;
            let rdonly = if host_writable(dst) {
                MOUNT_ATTR_RDONLY
            } else {
                0
            };
            steps.push(bind(
                src_slot,
                &inside,
                0,
                rdonly | MOUNT_ATTR_NODEV,
                false,
                format!("bind the host's device node {shown} on {shown}"),
            ));
            // A symlink can send it onto a masked /proc path, or under a read-only one.
            model.covered(&inside);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
