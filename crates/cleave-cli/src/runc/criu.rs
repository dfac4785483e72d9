//! What `checkpoint` and `restore` share: a CRIU that works (or the line that says how to
//! get one), the image and work directories, and CRIU's options from runc's.
use super::cli::CriuOpts;
use super::common::{Ctx, Fail, Res};
use cleave::checkpoint::{mounts, CheckpointProblem, Criu};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// For CRIU's process at restore, between fork and exec: each handed fd onto the number
/// CRIU is told (`--inherit-fd`), then a mount namespace of its own, a slave of the caller's,
/// so that the mounts CRIU makes are made nowhere on the host. Only async-signal-safe calls
/// (dup2, unshare, mount) on data built before the fork; nothing is allocated.
pub fn place_fds_in_own_mounts(pairs: &[(i32, i32)]) -> std::io::Result<()> {
    // SAFETY: dup2, unshare and mount with NUL-terminated literals and null pointers.
    #[allow(unsafe_code)]
    unsafe {
        for &(from, to) in pairs {
            if libc::dup2(from, to) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        if libc::unshare(libc::CLONE_NEWNS) != 0
            || libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The advice for a missing or unusable CRIU.
const INSTALL: &str = "install one with scripts/install-criu.sh (criu >= 4 from Debian, beside the host's packages), or pass --criu PATH";

/// `--criu PATH` or the first criu on PATH, at least version 4 and passing `criu check`.
pub fn find(ctx: &Ctx, explicit: Option<&Path>) -> Res<Criu> {
    let criu = Criu::find(explicit).map_err(|e| Fail::failed(format!("{e}: {INSTALL}")))?;
    let _ = std::fs::create_dir_all(&ctx.root);
    let stamp = ctx.root.join(".criu-checked");
    criu.verify(Some(&stamp)).map_err(|e| match e {
        CheckpointProblem::CriuTooOld { .. } | CheckpointProblem::CriuCheck { .. } => {
            Fail::failed(format!("{e}: {INSTALL}"))
        }
        other => Fail::failed(other.to_string()),
    })?;
    Ok(criu)
}

/// The image directory (made if missing) and the work directory (the image directory
/// unless given; made with its parents if missing).
pub fn dirs(o: &CriuOpts) -> Res<(PathBuf, PathBuf)> {
    let Some(images) = o.image_path.clone() else {
        return Err(Fail::bad(
            "--image-path DIR is required: the directory of CRIU's images",
        ));
    };
    let work = o.work_path.clone().unwrap_or_else(|| images.clone());
    for (opt, d) in [("--image-path", &images), ("--work-path", &work)] {
        std::fs::create_dir_all(d)
            .map_err(|e| Fail::failed(format!("{opt} {}: {e}", d.display())))?;
    }
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    Ok((abs(&images), abs(&work)))
}

/// Options that need what this kernel lacks fail here, with the reason.
pub fn refuse_unservable(criu: &Criu, pre_dump: bool, lazy_pages: bool) -> Res<()> {
    for (asked, what) in [(pre_dump, "--pre-dump"), (lazy_pages, "--lazy-pages")] {
        if !asked {
            continue;
        }
        if !criu.has_feature("mem_dirty_track") {
            let e = CheckpointProblem::KernelFeature {
                what: if pre_dump { "pre-dump" } else { "lazy pages" },
                feature: "mem_dirty_track",
            };
            return Err(Fail::failed(format!(
                "{what}: {e}; checkpoint without it (a full dump)"
            )));
        }
        if lazy_pages {
            return Err(Fail::bad(
                "--lazy-pages: cleave does not run CRIU's lazy-pages daemon; checkpoint without it",
            ));
        }
    }
    Ok(())
}

/// CRIU's options for runc's shared ones.
pub fn common_args(o: &CriuOpts, args: &mut Vec<OsString>) -> Res<()> {
    match o.manage_cgroups_mode.as_str() {
        "soft" | "full" | "strict" | "ignore" => {
            args.push(format!("--manage-cgroups={}", o.manage_cgroups_mode).into())
        }
        other => {
            return Err(Fail::bad(format!(
                "--manage-cgroups-mode {other:?}: give soft, full, strict or ignore"
            )))
        }
    }
    for (on, flag) in [
        (o.tcp_established, "--tcp-established"),
        (o.ext_unix_sk, "--ext-unix-sk"),
        (o.shell_job, "--shell-job"),
        (o.file_locks, "--file-locks"),
        (o.auto_dedup, "--auto-dedup"),
    ] {
        if on {
            args.push(flag.into());
        }
    }
    if let Some(ns) = &o.empty_ns {
        let kind = match ns.as_str() {
            "network" | "net" => "net",
            other => {
                return Err(Fail::bad(format!(
                    "--empty-ns {other:?}: only the network namespace can be left empty"
                )))
            }
        };
        args.push("--empty-ns".into());
        args.push(kind.into());
    }
    Ok(())
}

/// `-D IMAGES -W WORK -o LOG -v4`.
pub fn dir_args(images: &Path, work: &Path, log: &str, args: &mut Vec<OsString>) {
    args.push("-D".into());
    args.push(images.into());
    args.push("-W".into());
    args.push(work.into());
    args.push("-o".into());
    args.push(log.into());
    args.push("-v4".into());
}

/// For each directory of a cgroup set, its hierarchy's controller as CRIU names it (empty
/// for cgroup2) and the directory below the hierarchy's root: `--cgroup-root CTL:PATH` at
/// restore, `--cgroup-dump-controller CTL` at dump.
pub fn cgroup_roots(dirs: &[PathBuf], host: &[mounts::MountInfo]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in dirs {
        let Some(m) = host
            .iter()
            .filter(|m| (m.fstype == "cgroup" || m.fstype == "cgroup2") && m.root == "/")
            .filter(|m| d.starts_with(&m.mountpoint))
            .max_by_key(|m| m.mountpoint.len())
        else {
            continue;
        };
        let rel = d
            .strip_prefix(&m.mountpoint)
            .map(|r| format!("/{}", r.display()))
            .unwrap_or_else(|_| "/".into());
        let ctl = if m.fstype == "cgroup2" {
            String::new()
        } else {
            match Path::new(&m.mountpoint).file_name() {
                Some(n) if n == "systemd" => "name=systemd".to_string(),
                Some(n) => n.to_string_lossy().into_owned(),
                None => continue,
            }
        };
        out.push((ctl, rel));
    }
    out
}
