//! The sandbox's filesystem as the parent predicts it: every destination is resolved here
//! first, for early and precise errors. The child resolves again, through fds, and its answer
//! is the one that counts (see cleave_child::fs).
use super::compile::{bytes, entry, relative_at, ROOT};
use crate::error::{Error, MountProblem, Origin, Result};
use crate::plan::{Step, What};
use cleave_child::{Op, Slot};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Component, Path, PathBuf};

/// The error for mount operation `index` (`usize::MAX`: the filesystem as a whole).
pub(super) fn fail(index: usize, problem: MountProblem) -> Error {
    let origin = match (index, &problem) {
        (usize::MAX, MountProblem::Rootfs { .. } | MountProblem::SharedRoot) => Origin::Rootfs,
        (usize::MAX, _) => Origin::Namespaces,
        (i, _) => Origin::Mount(i),
    };
    Error::Invalid {
        origin,
        problem: problem.into(),
    }
}

/// What backs a mount point of the sandbox-to-be.
#[derive(Clone, Debug)]
pub(super) enum Backing {
    /// A host directory (the root, or a bind's source): what the host shows there.
    Host(PathBuf),
    /// A fresh tmpfs: only what the sandbox creates in it.
    Fresh,
    /// A procfs or devpts: it has what it has; nothing may be created in it.
    Opaque,
    /// An overlay of host directories, the top layer first; created in when writable.
    Layers {
        /// The layers, top first.
        layers: Vec<PathBuf>,
        /// Writes go somewhere.
        writable: bool,
    },
}

/// What a path is, in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) struct Model {
    /// Host path of the sandbox's "/" (before pivot_root).
    root: PathBuf,
    /// Whether paths backed by the host may be created (only under a new root).
    host_writable: bool,
    pub(super) mounts: Vec<(PathBuf, Backing)>,
    pub(super) created: BTreeMap<PathBuf, Kind>,
    /// Mount points backed by the new root's own directory (never written: what is
    /// created there goes on a throw-away layer first, see shadow.rs).
    pub(super) rootfs_mounts: Vec<PathBuf>,
    /// The next free slot of the fd table (after the sources').
    pub(super) next_slot: cleave_child::Slot,
    /// Each op that will run: its index, its destination, and whether it mounts a whole
    /// filesystem or bind there (what the throw-away layer plans by, see shadow.rs).
    pub(super) ahead: Vec<(usize, PathBuf, bool)>,
    /// What the host showed at each host path looked at: each is asked once (resolving a
    /// destination, then creating its parents, asks for the same paths again).
    host_kinds: RefCell<BTreeMap<PathBuf, Kind>>,
    /// Fresh mounts (their index in `mounts`) whose mount fd a slot keeps: what is made in
    /// them is named from that fd, without a lookup from the root for each entry.
    kept: Vec<(usize, Slot)>,
    /// Paths of a procfs that cleave protected when it mounted it (hidden, or made
    /// read-only), as long as no later mount covers them or lies on or under them.
    protected: BTreeMap<PathBuf, Protection>,
}

/// What cleave did to a path of a procfs it mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protection {
    Masked,
    ReadOnly,
}

impl Model {
    pub(super) fn new(root: PathBuf, host_writable: bool) -> Model {
        Model {
            mounts: vec![(PathBuf::from("/"), Backing::Host(root.clone()))],
            root,
            host_writable,
            created: BTreeMap::new(),
            rootfs_mounts: if host_writable {
                vec![PathBuf::from("/")]
            } else {
                Vec::new()
            },
            next_slot: 0,
            ahead: Vec::new(),
            host_kinds: RefCell::new(BTreeMap::new()),
            kept: Vec::new(),
            protected: BTreeMap::new(),
        }
    }

    /// Whether an op after op `index` mounts a filesystem or bind exactly on `at`.
    pub(super) fn covered_later(&self, at: &Path, index: usize) -> bool {
        self.ahead
            .iter()
            .any(|(i, dst, covers)| *i > index && *covers && dst == at)
    }

    /// Whether an op after op `index` has its destination below `at` where the rootfs has
    /// nothing (`missing`, given the path below `at`), so that something will be made in
    /// `at`'s tree.
    pub(super) fn created_below_later(
        &self,
        at: &Path,
        index: usize,
        missing: impl Fn(&Path) -> bool,
    ) -> bool {
        self.ahead
            .iter()
            .any(|(i, dst, _)| *i > index && dst != at && dst.strip_prefix(at).is_ok_and(&missing))
    }

    /// The host path of the new root, when there is one.
    pub(super) fn rootfs_dir(&self) -> Option<&Path> {
        self.host_writable.then_some(self.root.as_path())
    }

    /// The topmost mount holding `p`, and where it is mounted.
    pub(super) fn mount_of(&self, p: &Path) -> (&Path, &Backing) {
        self.mounts
            .iter()
            .rev()
            .find(|(at, _)| p.starts_with(at))
            .map(|(at, b)| (at.as_path(), b))
            .unwrap_or((Path::new("/"), &self.mounts[0].1))
    }

    pub(super) fn kind(&self, p: &Path) -> Kind {
        if let Some(k) = self.created.get(p) {
            return k.clone();
        }
        let (at, backing) = self.mount_of(p);
        let on = |host: &Path| {
            // At the mount point itself, the host path as it is: joining "" would add a
            // slash, and a file bound there would read as missing (ENOTDIR).
            let on_host = match p.strip_prefix(at).unwrap_or(p) {
                rest if rest.as_os_str().is_empty() => host.to_path_buf(),
                rest => host.join(rest),
            };
            if let Some(k) = self.host_kinds.borrow().get(&on_host) {
                return k.clone();
            }
            let k = match std::fs::symlink_metadata(&on_host) {
                Ok(m) if m.file_type().is_symlink() => {
                    Kind::Link(std::fs::read_link(&on_host).unwrap_or_default())
                }
                Ok(m) if m.is_dir() => Kind::Dir,
                Ok(_) => Kind::Other,
                Err(_) => Kind::Missing,
            };
            self.host_kinds.borrow_mut().insert(on_host, k.clone());
            k
        };
        match backing {
            Backing::Host(host) => on(host),
            _ if p == at => Kind::Dir,
            Backing::Layers { layers, .. } => layers
                .iter()
                .map(|l| on(l))
                .find(|k| *k != Kind::Missing)
                .unwrap_or(Kind::Missing),
            Backing::Fresh => Kind::Missing,
            Backing::Opaque => Kind::Unknown,
        }
    }

    /// Before something is created in directory `dir`: when the new root's own directory
    /// backs it, a throw-away layer goes over it first (shadow.rs), so that the user's
    /// directory is never written.
    pub(super) fn before_create(
        &mut self,
        steps: &mut Vec<Step>,
        dir: &Path,
        index: usize,
    ) -> Result<()> {
        let (at, backing) = self.mount_of(dir);
        if matches!(backing, Backing::Host(_)) && self.rootfs_mounts.iter().any(|m| m == at) {
            super::shadow::shadow(self, steps, dir, index)?;
        }
        Ok(())
    }

    /// The host path of `p`'s object as the model sees it, when a host directory backs it.
    pub(super) fn host_path(&self, p: &Path) -> Option<PathBuf> {
        match self.mount_of(p) {
            (at, Backing::Host(host)) => Some(host.join(p.strip_prefix(at).unwrap_or(p))),
            _ => None,
        }
    }

    pub(super) fn creatable(&self, p: &Path) -> bool {
        match self.mount_of(p).1 {
            Backing::Fresh => true,
            Backing::Host(_) => self.host_writable,
            Backing::Opaque => false,
            Backing::Layers { writable, .. } => *writable,
        }
    }

    /// Records that the sandbox will have `kind` at `p`.
    pub(super) fn created(&mut self, p: &Path, kind: Kind) {
        self.created.insert(p.to_path_buf(), kind);
    }

    pub(super) fn mounted(&mut self, at: &Path, backing: Backing) {
        self.created.retain(|p, _| !p.starts_with(at));
        self.covered(at);
        self.mounts.push((at.to_path_buf(), backing));
    }

    /// [`Model::mounted`] for a fresh mount whose mount fd `slot` keeps (Op::FsMount's
    /// `keep`).
    pub(super) fn mounted_kept(&mut self, at: &Path, backing: Backing, slot: Slot) {
        self.mounted(at, backing);
        self.kept.push((self.mounts.len() - 1, slot));
    }

    /// Where the child starts the lookup of `p` and the path from there: the kept fd of the
    /// topmost mount holding `p` when there is one (that lookup reaches the same object,
    /// and cannot leave that mount), else the root.
    pub(super) fn lookup_of(&self, p: &Path) -> (Slot, Vec<u8>) {
        let top = self
            .mounts
            .iter()
            .rposition(|(at, _)| p.starts_with(at))
            .unwrap_or(0);
        match self.kept.iter().find(|(m, _)| *m == top) {
            Some(&(_, slot)) => {
                let rest = p.strip_prefix(&self.mounts[top].0).unwrap_or(p);
                (slot, relative_at(&Path::new("/").join(rest)))
            }
            None => (ROOT, relative_at(p)),
        }
    }

    /// The entry `inside` as the child names it: where its parent's lookup starts
    /// ([`Model::lookup_of`]), the parent from there, and its name.
    pub(super) fn entry(&self, inside: &Path) -> (Slot, Vec<u8>, Vec<u8>) {
        let (_, _, name) = entry(inside);
        let (slot, parent) = self.lookup_of(inside.parent().unwrap_or(Path::new("/")));
        (slot, parent, name)
    }

    /// Notes a mount at `at` that resolving paths need not know about (a mask, a read-only
    /// copy).
    pub(super) fn covered(&mut self, at: &Path) {
        // A mount on or over a protected path covers the protection; one below it would
        // miss a later (recursive) protection of that path: either way a later mask or
        // read-only copy there is no longer the same as the one made with the procfs.
        self.protected
            .retain(|p, _| !p.starts_with(at) && !at.starts_with(p));
    }

    /// Records that `p` was protected right after its procfs was mounted.
    pub(super) fn protect(&mut self, p: PathBuf, how: Protection) {
        self.protected.insert(p, how);
    }

    /// Whether `p` (resolved) already has `how` from the procfs it is in, with nothing
    /// mounted on, over or under it since.
    pub(super) fn is_protected(&self, p: &Path, how: Protection) -> bool {
        self.protected.get(p) == Some(&how)
    }

    /// Resolves `dst` the way the sandbox will see it: symlinks (the host's, or made by an
    /// earlier op) are followed inside the root, absolute targets starting again at its top;
    /// a target whose `..` would climb above a new root is an error.
    pub(super) fn resolve(&self, dst: &Path, index: usize) -> Result<PathBuf> {
        if dst.components().any(|c| c == Component::ParentDir) {
            return Err(fail(index, MountProblem::DotDot(dst.to_path_buf())));
        }
        let escape = |via: String| {
            fail(
                index,
                MountProblem::LeavesRoot {
                    dst: dst.to_path_buf(),
                    via,
                    root: self.root.clone(),
                },
            )
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
                        return Err(fail(index, MountProblem::TooManyLinks(dst.to_path_buf())));
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

    pub(super) fn refuse_create(&self, p: &Path, index: usize, dst: &Path) -> Error {
        fail(
            index,
            MountProblem::CannotCreate {
                dst: dst.to_path_buf(),
                path: p.to_path_buf(),
                in_pseudo_fs: matches!(self.mount_of(p).1, Backing::Opaque),
            },
        )
    }

    /// `inside` and its missing parents, created top-down.
    pub(super) fn ensure_dir(
        &mut self,
        steps: &mut Vec<Step>,
        inside: &Path,
        index: usize,
        dst: &Path,
    ) -> Result<()> {
        self.ensure_dir_mode(steps, inside, 0o755, (index, dst))
    }

    /// [`Model::ensure_dir`] with `mode` for `inside` itself when it is made; missing
    /// parents get 0755 less the group and other bits `mode` clears (bubblewrap's rule).
    pub(super) fn ensure_dir_mode(
        &mut self,
        steps: &mut Vec<Step>,
        inside: &Path,
        mode: u32,
        (index, dst): (usize, &Path),
    ) -> Result<()> {
        let mut parents = 0o755;
        for class in [0o070, 0o007] {
            if mode & class == 0 {
                parents &= !class;
            }
        }
        let mut missing = Vec::new();
        let mut p = inside.to_path_buf();
        loop {
            match self.kind(&p) {
                Kind::Missing => missing.push(p.clone()),
                Kind::Dir | Kind::Unknown => break,
                Kind::Other | Kind::Link(_) => {
                    return Err(fail(
                        index,
                        MountProblem::NotADirectory {
                            dst: dst.to_path_buf(),
                            path: p.clone(),
                        },
                    ))
                }
            }
            if !p.pop() {
                break;
            }
        }
        for dir in missing.iter().rev() {
            if !self.creatable(dir) {
                return Err(self.refuse_create(dir, index, dst));
            }
            self.before_create(steps, dir.parent().unwrap_or(Path::new("/")), index)?;
            let (root, parent, name) = self.entry(dir);
            steps.push(Step::new(
                Op::MkdirAt {
                    root,
                    parent,
                    name,
                    mode: if dir == inside { mode } else { parents },
                },
                What::path(["mkdir "], dir, []),
            ));
            self.created.insert(dir.clone(), Kind::Dir);
        }
        Ok(())
    }

    /// An empty file at `inside` unless something is there (a bind-mount target).
    pub(super) fn ensure_file(
        &mut self,
        steps: &mut Vec<Step>,
        inside: &Path,
        mode: u32,
        index: usize,
        dst: &Path,
    ) -> Result<()> {
        if let Some(parent) = inside.parent() {
            self.ensure_dir(steps, parent, index, dst)?;
        }
        if self.kind(inside) != Kind::Missing {
            return Ok(());
        }
        if !self.creatable(inside) {
            return Err(self.refuse_create(inside, index, dst));
        }
        self.before_create(steps, inside.parent().unwrap_or(Path::new("/")), index)?;
        let (root, parent, name) = self.entry(inside);
        steps.push(Step::new(
            Op::CreateFileAt {
                root,
                parent,
                name,
                mode,
            },
            What::path(["create "], inside, []),
        ));
        self.created.insert(inside.to_path_buf(), Kind::Other);
        Ok(())
    }

    pub(super) fn symlink(
        &mut self,
        steps: &mut Vec<Step>,
        target: &Path,
        inside: &Path,
        what: impl Into<What>,
        index: usize,
        dst: &Path,
    ) -> Result<()> {
        if let Some(parent) = inside.parent() {
            self.ensure_dir(steps, parent, index, dst)?;
        }
        match self.kind(inside) {
            Kind::Missing if self.creatable(inside) => {}
            Kind::Missing => return Err(self.refuse_create(inside, index, dst)),
            Kind::Link(t) if t == target => return Ok(()),
            _ => return Err(fail(index, MountProblem::Occupied(dst.to_path_buf()))),
        }
        self.before_create(steps, inside.parent().unwrap_or(Path::new("/")), index)?;
        let (root, parent, name) = self.entry(inside);
        steps.push(Step::new(
            Op::SymlinkAt {
                root,
                parent,
                name,
                target: bytes(target).to_vec(),
            },
            what,
        ));
        self.created
            .insert(inside.to_path_buf(), Kind::Link(target.to_path_buf()));
        Ok(())
    }
}
