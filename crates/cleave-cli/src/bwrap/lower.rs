//! A bubblewrap [`Invocation`] lowered into the [`SandboxSpec`] every front end fills, with
//! bubblewrap's meaning: a new mount namespace whose root is an empty tmpfs; a user
//! namespace whenever the caller is not root (or asks), mapping only the caller's ids; no
//! capabilities unless the caller is root; no_new_privs always.
use super::parse::{BindKind, EnvOp, FsOp, Invocation};
use cleave::caps;
use cleave::idmap::{IdMap, IdMapping};
use cleave::mount::{MountFlags, MountOp, OverlayWrites, Propagation};
use cleave::ns::Namespace;
use cleave::sandbox::{Capabilities, SandboxSpec};
use cleave::CloneFlags;
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;

/// What the caller is, as the lowering needs it.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// The caller's bounding and permitted capability sets (what root passes on).
    pub bounding: u64,
    pub permitted: u64,
}

impl Caller {
    pub fn this_process() -> Caller {
        // SAFETY: none of these calls can fail or touch memory.
        #[allow(unsafe_code)]
        let (uid, gid, euid, egid) = unsafe {
            (
                libc::getuid(),
                libc::getgid(),
                libc::geteuid(),
                libc::getegid(),
            )
        };
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let set = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(0)
        };
        Caller {
            uid,
            gid,
            euid,
            egid,
            bounding: set("CapBnd:"),
            permitted: set("CapPrm:"),
        }
    }
}

/// An option cleave does not carry out (yet), or a combination bubblewrap refuses.
pub fn unsupported(inv: &Invocation) -> Option<String> {
    if inv.exec_label.is_some() || inv.file_label.is_some() {
        let which = if inv.exec_label.is_some() {
            "--exec-label"
        } else {
            "--file-label"
        };
        return Some(format!(
            "{which}: SELinux labels are not supported (cleave sets no SELinux context); leave the option out"
        ));
    }
    None
}

/// The spec, and the label of each of its mount operations (for error messages). The
/// checks bubblewrap makes of the options themselves come first, each one line.
pub fn lower(
    inv: &Invocation,
    caller: Caller,
    inherited: &[RawFd],
) -> Result<(SandboxSpec, Vec<String>), String> {
    let mut spec = SandboxSpec::default();
    let Some(program) = inv.command.first() else {
        return Err("no program given: write bwrap [OPTIONS...] [--] PROGRAM [ARGS...]".into());
    };
    spec.process.program = program.clone();
    spec.process.args = inv.command[1..].to_vec();
    spec.process.argv0 = inv.argv0.clone();

    // Namespaces.
    let u = inv.unshare;
    if inv.userns.is_some() && (u.user || u.user_try) {
        return Err(
            "--userns cannot be combined with --unshare-user or --unshare-all: leave one out"
                .into(),
        );
    }
    // --userns-block-fd: the maps are written from outside (newuidmap, say) once the
    // sandbox's pid is on --info-fd, and the sandbox waits for a byte on the fd.
    if inv.userns_block_fd.is_some() {
        if !u.user {
            return Err("--userns-block-fd needs --unshare-user".into());
        }
        if inv.info_fd.is_none() {
            return Err(
                "--userns-block-fd needs --info-fd (where the sandbox's pid is written for whoever writes its maps)"
                    .into(),
            );
        }
        if inv.disable_userns {
            return Err("--userns-block-fd cannot be combined with --disable-userns".into());
        }
        if inv.uid.is_some() || inv.gid.is_some() {
            return Err(
                "--uid and --gid cannot be combined with --userns-block-fd: the ids are what the maps written from outside make of the caller"
                    .into(),
            );
        }
    }
    let root = caller.euid == 0;
    let new_user = inv.userns.is_none() && (u.user || u.user_try || !root);
    let mut new = CloneFlags::NEWNS;
    for (on, flag) in [
        (new_user, CloneFlags::NEWUSER),
        (u.ipc, CloneFlags::NEWIPC),
        (u.pid, CloneFlags::NEWPID),
        (u.net && !inv.share_net, CloneFlags::NEWNET),
        (u.uts, CloneFlags::NEWUTS),
        (u.cgroup || u.cgroup_try, CloneFlags::NEWCGROUP),
    ] {
        if on {
            new |= flag;
        }
    }
    spec.namespaces.new = new;
    if let Some(fd) = inv.userns {
        spec.namespaces.join.push((Namespace::User, fd_path(fd)));
    }
    if let Some(fd) = inv.pidns {
        spec.namespaces.join.push((Namespace::Pid, fd_path(fd)));
    }
    // --userns2: switched to once the filesystem is set up (the kernel wants a descendant
    // of the namespace the sandbox was set up in).
    spec.namespaces.switch_user = inv.userns2.map(fd_path);
    if inv.as_pid_1 && !u.pid {
        return Err("--as-pid-1 needs --unshare-pid (or --unshare-all)".into());
    }
    spec.as_pid1 = inv.as_pid_1;

    // Ids: in a new user namespace only the caller's own ids are mapped, to themselves or
    // to --uid/--gid.
    if (inv.uid.is_some() || inv.gid.is_some()) && !new_user && inv.userns.is_none() {
        let which = if inv.uid.is_some() { "--uid" } else { "--gid" };
        return Err(format!(
            "{which} needs a user namespace: add --unshare-user (or --userns FD)"
        ));
    }
    if new_user && inv.userns_block_fd.is_some() {
        spec.ids.mapping = IdMapping::External;
    } else if new_user {
        let uid = inv.uid.unwrap_or(caller.uid);
        let gid = inv.gid.unwrap_or(caller.gid);
        spec.ids.mapping = IdMapping::Custom {
            users: vec![IdMap::single(uid, caller.euid)],
            groups: vec![IdMap::single(gid, caller.egid)],
        };
        spec.ids.setgroups = Some(false);
        spec.ids.uid = Some(uid);
        spec.ids.gid = Some(gid);
    } else {
        spec.ids.uid = inv.uid;
        spec.ids.gid = inv.gid;
    }
    if let Some(h) = &inv.hostname {
        if !u.uts {
            return Err("--hostname needs a new UTS namespace: add --unshare-uts".into());
        }
        cleave::ns::uts::check_hostname(h).map_err(|e| e.named("--hostname"))?;
        spec.uts.hostname = Some(h.clone());
    }

    // The environment: the caller's with each change applied in order, then PWD (which
    // bubblewrap sets to the directory the program starts in).
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for change in &inv.env {
        match change {
            EnvOp::Clear => env.clear(),
            EnvOp::Set(k, v) => {
                cleave::env::check_name(k).map_err(|e| e.named("--setenv"))?;
                env.retain(|(n, _)| n != k);
                env.push((k.clone(), v.clone()));
            }
            EnvOp::Unset(k) => env.retain(|(n, _)| n != k),
        }
    }
    let pwd = inv.chdir.clone().or_else(|| std::env::current_dir().ok());
    if let Some(dir) = pwd {
        env.retain(|(n, _)| n != "PWD");
        env.push(("PWD".into(), dir.into_os_string()));
    }
    spec.process.env.clear = true;
    spec.process.env.set = env;

    // The filesystem: an empty tmpfs root, then the operations in order.
    spec.filesystem.propagation = Propagation::Slave;
    spec.filesystem.chdir = inv.chdir.clone();
    // bubblewrap's root is a tmpfs; a first bind on / covers all of it and is the root
    // itself (stacked on a tmpfs there, the program would count as chrooted, and the
    // kernel refuses a chrooted process new user namespaces).
    let mut labels = Vec::new();
    let bound_root = matches!(
        inv.ops.first(),
        Some(FsOp::Bind { dst, optional: false, .. })
            if dst.components().all(|c| c == std::path::Component::RootDir)
    );
    if !bound_root {
        labels.push("the sandbox's root (a tmpfs)".to_string());
        spec.filesystem.ops.push(MountOp::Tmpfs {
            dst: "/".into(),
            mode: None,
            size: None,
        });
    }
    for (op, words) in inv.ops.iter().zip(&inv.op_words) {
        spec.filesystem.ops.push(mount_op(op));
        labels.push(words.clone());
    }

    // Security: no_new_privs always; capabilities only for root.
    spec.security.no_new_privs = true;
    if inv.disable_userns {
        // bubblewrap asks for it by name even where a user namespace is implied.
        if !new_user || !u.user {
            return Err("--disable-userns needs a new user namespace: add --unshare-user".into());
        }
        spec.security.disable_user_namespaces = true;
    }
    spec.security.assert_user_namespaces_disabled = inv.assert_userns_disabled;
    spec.security.new_session = inv.new_session;
    spec.security.block_tty_injection = !inv.new_session;
    spec.security.capabilities = capabilities(inv, root.then_some(caller))?;
    spec.parent_death_signal = inv.die_with_parent.then_some(libc::SIGKILL);

    // Every descriptor the caller passed reaches the program, except those bubblewrap
    // consumes.
    let consumed: Vec<RawFd> = [
        inv.userns,
        inv.userns2,
        inv.pidns,
        inv.sync_fd,
        inv.seccomp,
        inv.block_fd,
        inv.userns_block_fd,
        inv.info_fd,
        inv.json_status_fd,
    ]
    .into_iter()
    .flatten()
    .chain(inv.add_seccomp.iter().copied())
    .chain(inv.ops.iter().filter_map(|op| match op {
        FsOp::BindFd { fd, .. } | FsOp::File { fd, .. } | FsOp::BindData { fd, .. } => Some(*fd),
        _ => None,
    }))
    .collect();
    spec.process.preserve_fds = inherited
        .iter()
        .copied()
        .filter(|fd| *fd > 2 && !consumed.contains(fd))
        .collect();
    Ok((spec, labels))
}

fn fd_path(fd: RawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

/// The capability sets: root's own (less --cap-drop, plus --cap-add, which also go to the
/// ambient set), only --cap-add for anyone else (`root` is `None`).
fn capabilities(inv: &Invocation, root: Option<Caller>) -> Result<Option<Capabilities>, String> {
    let mut keep = root.map_or(0, |c| c.permitted);
    for (add, name) in &inv.caps {
        let option = if *add { "--cap-add" } else { "--cap-drop" };
        let mask = caps::parse_cap(name).map_err(|e| format!("{option} {name}: {e}"))?;
        if *add {
            keep |= mask;
        } else {
            keep &= !mask;
        }
    }
    let ambient = if inv.caps.is_empty() { 0 } else { keep };
    Ok(Some(match root {
        Some(c) => Capabilities {
            bounding: c.bounding,
            inheritable: ambient,
            ..Capabilities::keep(keep, ambient)
        },
        None => Capabilities::keep(keep, keep),
    }))
}

/// One operation in the library's terms.
fn mount_op(op: &FsOp) -> MountOp {
    match op.clone() {
        FsOp::Bind {
            kind,
            src,
            dst,
            optional,
        } => MountOp::BindMount {
            src,
            dst,
            recursive: true,
            flags: MountFlags {
                read_only: kind == BindKind::Ro,
                nosuid: true,
                nodev: kind != BindKind::Dev,
                ..MountFlags::default()
            },
            propagation: None,
            optional,
        },
        FsOp::BindFd { fd, dst, read_only } => MountOp::BindFd { fd, dst, read_only },
        FsOp::RemountRo(dst) => MountOp::RemountRo { dst },
        FsOp::Proc(dst) => MountOp::Proc { dst },
        FsOp::Dev(dst) => MountOp::Dev { dst },
        FsOp::Tmpfs { dst, perms, size } => MountOp::Tmpfs {
            dst,
            mode: perms,
            size,
        },
        FsOp::Mqueue(dst) => MountOp::Mqueue { dst },
        FsOp::Dir { dst, perms } => MountOp::Dir { dst, mode: perms },
        // bubblewrap's default modes: 0666 for --file, 0600 for --bind-data.
        FsOp::File { fd, dst, perms } => MountOp::File {
            fd,
            dst,
            mode: perms.unwrap_or(0o666),
        },
        FsOp::BindData {
            fd,
            dst,
            read_only,
            perms,
        } => MountOp::BindData {
            fd,
            dst,
            mode: perms.unwrap_or(0o600),
            read_only,
        },
        FsOp::Symlink { target, dst } => MountOp::Symlink { target, dst },
        FsOp::Overlay {
            lower,
            upper,
            tmp,
            dst,
        } => MountOp::Overlay {
            sources: lower,
            writes: match (upper, tmp) {
                (Some((upper, work)), _) => OverlayWrites::To { upper, work },
                (None, true) => OverlayWrites::Discarded,
                (None, false) => OverlayWrites::ReadOnly,
            },
            dst,
        },
        FsOp::Chmod { perms, path } => MountOp::Chmod {
            dst: path,
            mode: perms,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    const NOBODY: Caller = Caller {
        uid: 65534,
        gid: 65534,
        euid: 65534,
        egid: 65534,
        bounding: 0,
        permitted: 0,
    };
    const ROOT: Caller = Caller {
        uid: 0,
        gid: 0,
        euid: 0,
        egid: 0,
        bounding: 0xff,
        permitted: 0xff,
    };

    fn inv(words: &[&str]) -> Invocation {
        let args = words.iter().map(OsString::from).collect();
        super::super::parse::parse(args, &mut |_| Err("no --args here".into()))
            .unwrap_or_else(|e| panic!("{}", e.0))
    }

    #[test]
    fn a_caller_who_is_not_root_gets_a_user_namespace_mapping_itself() {
        let (spec, _) = lower(&inv(&["--unshare-pid", "true"]), NOBODY, &[]).unwrap();
        assert!(spec
            .namespaces
            .new
            .contains(CloneFlags::NEWUSER | CloneFlags::NEWNS | CloneFlags::NEWPID));
        assert!(matches!(
            &spec.ids.mapping,
            IdMapping::Custom { users, .. } if users == &[IdMap::single(65534, 65534)]
        ));
        assert_eq!(spec.ids.setgroups, Some(false));
        // Only --cap-add, and nothing without it.
        assert_eq!(spec.security.capabilities, Some(Capabilities::keep(0, 0)));
        assert!(spec.security.no_new_privs);
        // The root is a tmpfs, first.
        assert!(
            matches!(&spec.filesystem.ops[0], MountOp::Tmpfs { dst, .. } if dst == std::path::Path::new("/"))
        );
    }

    #[test]
    fn root_keeps_its_own_capabilities_and_needs_no_user_namespace() {
        let (spec, _) = lower(&inv(&["--cap-drop", "CAP_CHOWN", "true"]), ROOT, &[]).unwrap();
        assert!(!spec.namespaces.new.contains(CloneFlags::NEWUSER));
        let c = spec.security.capabilities.unwrap();
        assert_eq!((c.bounding, c.permitted, c.ambient), (0xff, 0xfe, 0xfe));
        let (spec, _) = lower(
            &inv(&["--unshare-all", "--share-net", "--uid", "5", "true"]),
            ROOT,
            &[],
        )
        .unwrap();
        assert!(spec
            .namespaces
            .new
            .contains(CloneFlags::NEWUSER | CloneFlags::NEWIPC));
        assert!(!spec.namespaces.new.contains(CloneFlags::NEWNET));
        assert!(matches!(
            &spec.ids.mapping,
            IdMapping::Custom { users, .. } if users == &[IdMap::single(5, 0)]
        ));
    }

    #[test]
    fn a_first_bind_on_root_is_the_root() {
        let (spec, labels) = lower(&inv(&["--ro-bind", "/", "/", "true"]), ROOT, &[]).unwrap();
        assert!(matches!(
            &spec.filesystem.ops[..],
            [MountOp::BindMount { .. }]
        ));
        assert_eq!(labels, ["--ro-bind / /"]);
        // A -try form may bind nothing: the tmpfs root stays under it.
        let (spec, _) = lower(&inv(&["--ro-bind-try", "/", "/", "true"]), ROOT, &[]).unwrap();
        assert!(matches!(&spec.filesystem.ops[0], MountOp::Tmpfs { .. }));
    }

    #[test]
    fn bubblewrap_refusals_come_first() {
        for (words, want) in [
            (&["--uid", "5", "true"][..], "--uid needs a user namespace"),
            (&["--hostname", "h", "true"][..], "--hostname needs"),
            (&["--as-pid-1", "true"][..], "--as-pid-1 needs"),
            (
                &["--unshare-user", "--userns", "3", "true"][..],
                "--userns cannot",
            ),
            (&["--disable-userns", "true"][..], "--disable-userns needs"),
            (&[][..], "no program given"),
        ] {
            let e = lower(&inv(words), ROOT, &[]).unwrap_err();
            assert!(e.starts_with(want), "{words:?}: {e}");
        }
        let e = unsupported(&inv(&["--exec-label", "x", "true"])).unwrap();
        assert!(e.contains("SELinux"), "{e}");
        for (words, want) in [
            (
                &["--userns-block-fd", "3", "--info-fd", "4", "true"][..],
                "--userns-block-fd needs --unshare-user",
            ),
            (
                &["--unshare-user", "--userns-block-fd", "3", "true"][..],
                "--userns-block-fd needs --info-fd",
            ),
            (
                &[
                    "--unshare-user",
                    "--userns-block-fd",
                    "3",
                    "--info-fd",
                    "4",
                    "--uid",
                    "0",
                    "true",
                ][..],
                "--uid and --gid cannot",
            ),
        ] {
            let e = lower(&inv(words), NOBODY, &[]).unwrap_err();
            assert!(e.starts_with(want), "{words:?}: {e}");
        }
        let (spec, _) = lower(
            &inv(&[
                "--unshare-user",
                "--userns-block-fd",
                "3",
                "--info-fd",
                "4",
                "true",
            ]),
            NOBODY,
            &[3, 4, 5],
        )
        .unwrap();
        assert_eq!(spec.ids.mapping, IdMapping::External);
        assert_eq!((spec.ids.uid, spec.ids.gid), (None, None));
        assert_eq!(spec.process.preserve_fds, [5]);
    }

    #[test]
    fn environment_is_applied_in_order_and_consumed_fds_stay_out() {
        let i = inv(&[
            "--setenv",
            "CLEAVE_T",
            "1",
            "--unsetenv",
            "CLEAVE_T",
            "--setenv",
            "CLEAVE_U",
            "2",
            "--seccomp",
            "7",
            "--file",
            "8",
            "/f",
            "true",
        ]);
        let (spec, _) = lower(&i, NOBODY, &[3, 7, 8, 9]).unwrap();
        let set = &spec.process.env.set;
        assert!(spec.process.env.clear);
        assert!(!set.iter().any(|(k, _)| k == "CLEAVE_T"));
        assert!(set.iter().any(|(k, v)| k == "CLEAVE_U" && v == "2"));
        assert!(set.iter().any(|(k, _)| k == "PWD"));
        assert_eq!(spec.process.preserve_fds, [3, 9]);
    }
}
