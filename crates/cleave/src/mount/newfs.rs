//! [`MountOp::Mount`] and [`MountOp::BindMount`] compiled: a new filesystem of any type with
//! its own options and per-mount flags, a bind with exactly the flags asked, and the
//! sandbox's own cgroups at /sys/fs/cgroup.
use super::compile::{
    bind, fs_mount, host_writable, relative_at, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, ROOT,
};
use super::model::{fail, Backing, Kind, Model};
use super::{MountOp, Propagation};
use crate::error::{MountProblem, Result};
use crate::plan::Step;
use cleave_child::{Op, Slot};
use std::path::{Path, PathBuf};

/// The `MOUNT_ATTR_*` bits of access times.
pub(super) const MOUNT_ATTR_ATIME: u64 = 0x70;

/// What compiling a [`MountOp::Mount`] of type `cgroup` needs to know about the sandbox.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CgroupContext {
    /// The sandbox has a new cgroup namespace (its root is the sandbox's cgroup).
    pub new_cgroup_ns: bool,
    /// The child may go back to its cgroup namespace after one made for the mounts (not
    /// from a user namespace other than the initial one: setns back would be refused).
    pub may_return: bool,
}

/// mount(8)'s comma-separated `data` as fsconfig(2) key, value pairs (an empty value is a
/// flag). An empty item is refused.
pub(super) fn parse_data(i: usize, data: &str) -> Result<Vec<(String, String)>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    data.split(',')
        .map(|item| {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            if k.is_empty() {
                return Err(fail(i, MountProblem::BadOption(data.to_string())));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The checks and the target of a bind of `src` on `inside`: a directory onto a directory,
/// anything else onto a file, made when missing. Returns the canonical source.
pub(super) fn bind_target(
    i: usize,
    src: &Path,
    dst: &Path,
    inside: &Path,
    model: &mut Model,
    steps: &mut Vec<Step>,
) -> Result<PathBuf> {
    let source = |e: std::io::Error| {
        fail(
            i,
            MountProblem::Source {
                path: src.to_path_buf(),
                errno: e.raw_os_error().unwrap_or(libc::EIO),
            },
        )
    };
    let meta = std::fs::metadata(src).map_err(source)?;
    let src = std::fs::canonicalize(src).map_err(source)?;
    match (meta.is_dir(), model.kind(inside)) {
        (true, Kind::Other) => {
            return Err(fail(
                i,
                MountProblem::DirectoryOntoFile {
                    src: src.clone(),
                    dst: dst.to_path_buf(),
                },
            ))
        }
        (false, Kind::Dir) => {
            return Err(fail(
                i,
                MountProblem::FileOntoDirectory {
                    src: src.clone(),
                    dst: dst.to_path_buf(),
                    suggestion: inside.join(src.file_name().unwrap_or_default()),
                },
            ))
        }
        _ => {}
    }
    if meta.is_dir() {
        model.ensure_dir(steps, inside, i, dst)?;
    } else {
        model.ensure_file(steps, inside, 0o644, i, dst)?;
    }
    Ok(src)
}

/// [`MountOp::BindMount`]: the flags asked set; read-only cleared where the host's source
/// is writable and `ro` was not asked (an earlier read-only remount in the sandbox must not
/// leak into it); the others stay as the source has them.
pub(super) fn bind_mount(
    i: usize,
    op: &MountOp,
    src_slot: Slot,
    inside: &Path,
    model: &mut Model,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let MountOp::BindMount {
        src,
        dst,
        recursive,
        flags,
        propagation,
        ..
    } = op
    else {
        return Ok(());
    };
    let src = bind_target(i, src, dst, inside, model, steps)?;
    let mut set = flags.attrs();
    let mut clear = 0;
    if !flags.read_only && host_writable(&src) {
        clear |= MOUNT_ATTR_RDONLY;
    }
    if set & MOUNT_ATTR_ATIME != 0 {
        clear |= MOUNT_ATTR_ATIME;
    } else {
        // Relatime (0) is what the source has unless it says otherwise: left alone.
        set &= !MOUNT_ATTR_ATIME;
    }
    let kind = if *recursive { "rbind" } else { "bind" };
    steps.push(bind(
        src_slot,
        inside,
        set,
        clear,
        *recursive,
        format!("{kind} {} on {}", src.display(), dst.display()),
    ));
    if let Some(p) = propagation {
        let (flag, name) = match p {
            Propagation::Private => (libc::MS_PRIVATE, "private"),
            Propagation::Slave => (libc::MS_SLAVE, "slave"),
            Propagation::Shared => (libc::MS_SHARED, "shared"),
            Propagation::Unchanged => (0, ""),
        };
        if flag != 0 {
            steps.push(Step::new(
                Op::SetAttrAt {
                    root: ROOT,
                    path: relative_at(inside),
                    set: 0,
                    clear: 0,
                    propagation: flag,
                    recursive: *recursive,
                },
                format!("make {} {name}", dst.display()),
            ));
        }
    }
    model.mounted(inside, Backing::Host(src));
    Ok(())
}

/// [`MountOp::Mount`] of any type but `proc` and `cgroup`.
pub(super) fn new_fs(
    i: usize,
    op: &MountOp,
    inside: &Path,
    model: &mut Model,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let MountOp::Mount {
        source,
        fstype,
        dst,
        flags,
        data,
    } = op
    else {
        return Ok(());
    };
    let mut opts = parse_data(i, data)?;
    if !source.is_empty() {
        opts.insert(0, ("source".into(), source.clone()));
    }
    model.ensure_dir(steps, inside, i, dst)?;
    let pairs: Vec<(&str, &str)> = opts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // At "/", later lookups start from the new filesystem, not from what it covers.
    let keep = (inside == Path::new("/")).then_some(ROOT);
    steps.push(fs_mount(
        fstype,
        &pairs,
        flags.attrs(),
        inside,
        keep,
        format!("mount a {fstype} on {}", dst.display()),
    ));
    let backing = if fstype == "tmpfs" {
        Backing::Fresh
    } else {
        Backing::Opaque
    };
    model.mounted(inside, backing);
    Ok(())
}

/// One cgroup hierarchy the host mounts under /sys/fs/cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// Its directory's name under /sys/fs/cgroup ("memory", "cpu,cpuacct", "unified").
    pub name: String,
    /// cgroup2 (else v1).
    pub v2: bool,
    /// The fsconfig options that name the hierarchy (controllers, `name=`).
    pub options: Vec<(String, String)>,
}

/// The host's cgroup layout under /sys/fs/cgroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CgroupLayout {
    /// /sys/fs/cgroup itself is a cgroup2 filesystem.
    pub pure_v2: bool,
    /// The hierarchies under it (v1 or hybrid).
    pub hierarchies: Vec<Hierarchy>,
    /// Symbolic links in /sys/fs/cgroup (`cpu` -> `cpu,cpuacct`).
    pub links: Vec<(String, PathBuf)>,
}

impl CgroupLayout {
    /// The layout from mountinfo text, the controller names of /proc/cgroups and the
    /// links in /sys/fs/cgroup.
    pub(crate) fn parse(
        mountinfo: &str,
        controllers: &[String],
        links: Vec<(String, PathBuf)>,
    ) -> CgroupLayout {
        let mut layout = CgroupLayout {
            links,
            ..CgroupLayout::default()
        };
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let point = left.split(' ').nth(4).unwrap_or("");
            let mut r = right.split(' ');
            let (fstype, _, superopts) = (r.next().unwrap_or(""), r.next(), r.next().unwrap_or(""));
            if fstype != "cgroup" && fstype != "cgroup2" {
                continue;
            }
            let v2 = fstype == "cgroup2";
            if point == "/sys/fs/cgroup" {
                layout.pure_v2 = v2;
                continue;
            }
            let Some(name) = point.strip_prefix("/sys/fs/cgroup/") else {
                continue;
            };
            if name.contains('/') || layout.hierarchies.iter().any(|h| h.name == name) {
                continue;
            }
            let options = if v2 {
                Vec::new()
            } else {
                superopts
                    .split(',')
                    .filter_map(|o| match o.split_once('=') {
                        Some(("name", n)) => Some(("name".to_string(), n.to_string())),
                        None if controllers.iter().any(|c| c == o) => {
                            Some((o.to_string(), String::new()))
                        }
                        _ => None,
                    })
                    .collect()
            };
            if !v2 && options.is_empty() {
                continue;
            }
            layout.hierarchies.push(Hierarchy {
                name: name.to_string(),
                v2,
                options,
            });
        }
        if layout.pure_v2 {
            layout.hierarchies.clear();
            layout.links.clear();
        }
        layout
    }

    /// This host's layout.
    pub(crate) fn host() -> CgroupLayout {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let controllers: Vec<String> = std::fs::read_to_string("/proc/cgroups")
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect();
        let links = std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let to = std::fs::read_link(e.path()).ok()?;
                Some((e.file_name().to_string_lossy().into_owned(), to))
            })
            .collect();
        CgroupLayout::parse(&mountinfo, &controllers, links)
    }
}

/// [`MountOp::Mount`] of type `cgroup`: the sandbox's own cgroups at DST. `ns_slot` holds
/// the child's cgroup namespace when it makes one for the mounts alone.
pub(super) fn cgroup(
    i: usize,
    op: &MountOp,
    inside: &Path,
    (ctx, layout, ns_slot): (CgroupContext, &CgroupLayout, Slot),
    model: &mut Model,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let MountOp::Mount {
        dst, flags, data, ..
    } = op
    else {
        return Ok(());
    };
    if !data.is_empty() {
        return Err(fail(i, MountProblem::BadOption(data.clone())));
    }
    let shown = dst.display();
    model.ensure_dir(steps, inside, i, dst)?;
    let newcgroup = libc::CLONE_NEWCGROUP as u64;
    if !ctx.new_cgroup_ns {
        steps.push(Step::new(
            Op::Unshare { flags: newcgroup },
            "make a cgroup namespace rooted at the sandbox's cgroups, for their mounts",
        ));
    }
    let attrs = flags.attrs();
    if layout.pure_v2 {
        steps.push(fs_mount(
            "cgroup2",
            &[],
            attrs,
            inside,
            None,
            format!("mount the sandbox's cgroup2 on {shown}"),
        ));
    } else {
        // The tmpfs holding the hierarchies: read-only once they are in.
        steps.push(fs_mount(
            "tmpfs",
            &[("mode", "0755"), ("size", "64k")],
            (attrs & !MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
            inside,
            None,
            format!("mount a tmpfs for the sandbox's cgroups on {shown}"),
        ));
        model.mounted(inside, Backing::Fresh);
        for h in &layout.hierarchies {
            let at = inside.join(&h.name);
            model.ensure_dir(steps, &at, i, dst)?;
            let pairs: Vec<(&str, &str)> = h
                .options
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let fstype = if h.v2 { "cgroup2" } else { "cgroup" };
            steps.push(fs_mount(
                fstype,
                &pairs,
                attrs,
                &at,
                None,
                format!("mount the sandbox's cgroup {} on {}", h.name, at.display()),
            ));
        }
        for (name, to) in &layout.links {
            let at = inside.join(name);
            let what = format!("symlink {} -> {}", at.display(), to.display());
            model.symlink(steps, to, &at, what, i, dst)?;
        }
        steps.push(Step::new(
            Op::SetAttrAt {
                root: ROOT,
                path: relative_at(inside),
                set: MOUNT_ATTR_RDONLY,
                clear: 0,
                propagation: 0,
                recursive: false,
            },
            format!("make the tmpfs on {shown} read-only"),
        ));
    }
    model.mounted(inside, Backing::Opaque);
    if !ctx.new_cgroup_ns && ctx.may_return {
        steps.push(Step::new(
            Op::SetNs {
                slot: ns_slot,
                nstype: newcgroup,
            },
            "go back to the sandbox's cgroup namespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_split_into_pairs() {
        let d = parse_data(0, "newinstance,ptmxmode=0666,gid=5").unwrap();
        assert_eq!(
            d,
            [
                ("newinstance".into(), String::new()),
                ("ptmxmode".into(), "0666".into()),
                ("gid".into(), "5".into())
            ]
        );
        assert!(parse_data(0, "a,,b").is_err());
        assert!(parse_data(0, "").unwrap().is_empty());
    }

    #[test]
    fn hybrid_and_pure_layouts() {
        let info = "\
25 1 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory,release_agent=/x
";
        let ctl: Vec<String> = ["cpu", "cpuacct", "memory"].map(String::from).into();
        let l = CgroupLayout::parse(info, &ctl, vec![("cpu".into(), "cpu,cpuacct".into())]);
        assert!(!l.pure_v2);
        let names: Vec<&str> = l.hierarchies.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["unified", "systemd", "cpu,cpuacct", "memory"]);
        assert!(l.hierarchies[0].v2);
        assert_eq!(
            l.hierarchies[1].options,
            [("name".into(), "systemd".into())]
        );
        assert_eq!(
            l.hierarchies[2].options,
            [
                ("cpu".into(), String::new()),
                ("cpuacct".into(), String::new())
            ]
        );
        assert_eq!(l.hierarchies[3].options, [("memory".into(), String::new())]);
        let pure = CgroupLayout::parse(
            "30 1 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            &ctl,
            Vec::new(),
        );
        assert!(pure.pure_v2 && pure.hierarchies.is_empty());
    }
}
