//! `checkpoint`: a running container saved with `criu dump` into --image-path. CRIU is told
//! the container's cgroup (to freeze it), every mount that comes from outside it and the
//! stdio it inherited, which cleave also records in the image directory for `restore`.
//! Without --leave-running the container is stopped afterwards and its cgroup removed.
use super::cli::CheckpointArgs;
use super::common::{self, Ctx, Fail, Res};
use super::criu;
use cleave::checkpoint::{fds, layer, mounts, CheckpointProblem, Meta};
use cleave::container::Status;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

pub fn run(ctx: &Ctx, a: CheckpointArgs, criu_path: Option<&Path>) -> Res<i32> {
    // What cleave's caller left open is no business of CRIU's: at restore it clashed with
    // the descriptors cleave hands over by number (a restored connection was lost).
    let _ = cleave::fd::cloexec_from(3);
    if a.page_server.is_some() {
        return Err(Fail::bad(
            "--page-server: cleave does not send images to a page server; copy the image directory instead",
        ));
    }
    if a.pid.is_some() || a.name.is_some() {
        return super::sandbox_ckpt::checkpoint(ctx, a, criu_path);
    }
    let id = a.id.clone().unwrap_or_default();
    let lock = ctx.lock(&id)?;
    let rec = lock.load()?;
    match common::status(&rec) {
        Status::Running | Status::Paused => {}
        s => {
            return Err(Fail::failed(format!(
                "container {} is {s}: only a running or paused container can be checkpointed",
                id
            )))
        }
    }
    let criu = criu::find(ctx, criu_path)?;
    criu::refuse_unservable(&criu, a.pre_dump, a.criu.lazy_pages)?;
    let (images, work) = criu::dirs(&a.criu)?;
    let pid = rec.pid;
    session_leader(pid)?;

    let describe = |what: &str, e: String| {
        Fail::failed(
            CheckpointProblem::Describe {
                pid,
                what: what.to_string(),
                why: e,
            }
            .to_string(),
        )
    };
    let inside = mounts::read(pid).map_err(|e| describe("the mounts", e.to_string()))?;
    let host = mounts::read(0).map_err(|e| describe("this process's mounts", e.to_string()))?;
    let externals = mounts::externals(&inside, &host).map_err(|e| describe("the mounts", e))?;
    let descriptors = fds::stdio(pid, &inside).map_err(|e| describe("the stdio", e.to_string()))?;
    let cgroup2 = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        });
    let root_layer = layer::read(pid, &inside).map_err(|e| describe("its root", e.to_string()))?;
    let meta = Meta {
        externals,
        descriptors,
        cgroup2,
        root_layer,
        sandbox: None,
    };
    meta.save(&images)
        .map_err(|e| Fail::failed(e.to_string()))?;

    let action = if a.pre_dump { "pre-dump" } else { "dump" };
    let log = format!("{action}.log");
    let mut args: Vec<OsString> = vec![action.into(), "-t".into(), pid.to_string().into()];
    criu::dir_args(&images, &work, &log, &mut args);
    criu::common_args(&a.criu, &mut args)?;
    // Only the hierarchies where the container has a cgroup of its own: where it sits at
    // the root, CRIU would save the host's whole tree of cgroups below it (other
    // containers' included) and fail at restore on any that is gone by then.
    if a.criu.manage_cgroups_mode != "ignore" {
        for (ctl, _) in criu::cgroup_roots(&rec.cgroup_dirs, &host) {
            args.push("--cgroup-dump-controller".into());
            args.push(ctl.into());
        }
    }
    if let Some(dir) = freezer(&rec.cgroup_dirs) {
        args.push("--freeze-cgroup".into());
        args.push(dir.into());
    }
    for e in &meta.externals {
        args.push("--external".into());
        args.push(e.dump_arg().into());
    }
    let mut keys: Vec<&str> = Vec::new();
    for d in meta.descriptors.iter().filter(|d| d.external) {
        if !keys.contains(&d.key.as_str()) {
            keys.push(&d.key);
            args.push("--external".into());
            args.push(d.key.clone().into());
        }
    }
    if let Some(p) = &a.parent_path {
        args.push("--prev-images-dir".into());
        args.push(p.into());
        args.push("--track-mem".into());
    }
    if a.leave_running || a.pre_dump {
        args.push("--leave-running".into());
    }
    // Frozen here first: the cgroup freezer reports "frozen" through cgroup.events at
    // once, while CRIU, freezing it itself, looks again only every 100 ms (a third of a
    // small dump). CRIU leaves a cgroup it found frozen as it was; it is thawed below when
    // the container goes on running.
    let set = common::cgroup(&rec);
    let froze = match &set {
        Some(s) if common::status(&rec) == Status::Running => s.freeze().is_ok(),
        _ => false,
    };
    let thaw = || {
        if froze {
            if let Some(s) = &set {
                let _ = s.thaw();
            }
        }
    };
    super::log::debug(&format!("criu {args:?}"));
    let dumped = criu
        .run(
            if a.pre_dump { "pre-dump" } else { "dump" },
            &args,
            &work.join(&log),
            [Stdio::null(), Stdio::null(), Stdio::null()],
        )
        .map_err(|e| Fail::failed(e.to_string()));
    if dumped.is_err() || a.leave_running || a.pre_dump {
        thaw();
    }
    dumped?;
    if !a.leave_running && !a.pre_dump {
        // CRIU killed the tree once its images were written: the container is stopped, its
        // cgroup gone; the record stays for `delete` (podman deletes after a checkpoint)
        // and a `restore` of the same id replaces it.
        common::wait_gone(&rec, 10);
        if let Some(set) = set {
            set.remove()?;
        }
        let mut rec = rec;
        rec.status = Status::Stopped;
        lock.save(&rec)?;
    }
    Ok(0)
}

/// The directory CRIU freezes the container through: the cgroup2 one (cgroup.freeze) or
/// the v1 freezer's.
fn freezer(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .find(|d| d.join("cgroup.freeze").exists())
        .or_else(|| dirs.iter().find(|d| d.join("freezer.state").exists()))
        .cloned()
}

/// CRIU cannot dump the init of a PID namespace whose session lies outside the namespace.
fn session_leader(pid: i32) -> Res<()> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let inner = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|l| l.split_whitespace().last()?.parse::<i32>().ok());
    if inner != Some(1) {
        return Ok(());
    }
    // SAFETY: getsid with a PID.
    #[allow(unsafe_code)]
    let sid = unsafe { libc::getsid(pid) };
    if sid >= 0 && sid != pid {
        return Err(Fail::failed(
            CheckpointProblem::NotSessionLeader { pid, sid }.to_string(),
        ));
    }
    Ok(())
}
