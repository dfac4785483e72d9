//! The config's hooks, run with the state JSON on stdin at the times the runtime-spec sets.
use super::common::{oci_spec_runtime::Hook, Fail, Res};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where a hook runs.
#[derive(Clone, Copy)]
pub enum Place {
    /// In the runtime's namespaces (prestart, createRuntime, poststart, poststop).
    Runtime,
    /// In the namespaces of the container whose init is `pid`, the path resolved in the
    /// runtime's mount namespace (createContainer).
    ContainerPathOutside(i32),
    /// In the container's namespaces, the path resolved there (startContainer).
    Container(i32),
}

/// Runs `hooks` (named `which` in messages) in the runtime's namespaces, in order; the first
/// failure stops them.
pub fn run(which: &str, hooks: Option<&Vec<Hook>>, state: &cleave_oci::State) -> Res<()> {
    run_at(which, hooks, state, Place::Runtime)
}

/// Runs `hooks` as [`run`] does, where `place` says: in a container, through cleave's
/// `hook-exec` (a new process of this binary that joins the container and starts the hook).
pub fn run_at(
    which: &str,
    hooks: Option<&Vec<Hook>>,
    state: &cleave_oci::State,
    place: Place,
) -> Res<()> {
    let json = serde_json::to_vec(state).unwrap_or_default();
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        let fail = |why: String| {
            Fail::failed(format!(
                "hooks.{which}[{i}] ({}): {why}",
                h.path().display()
            ))
        };
        let args = h.args().clone().unwrap_or_default();
        let mut cmd = match place {
            Place::Runtime => {
                let mut cmd = Command::new(h.path());
                if let Some(argv0) = args.first() {
                    use std::os::unix::process::CommandExt;
                    cmd.arg0(argv0);
                }
                cmd.args(args.iter().skip(1));
                cmd
            }
            Place::ContainerPathOutside(pid) | Place::Container(pid) => {
                let exe = std::env::current_exe()
                    .map_err(|e| fail(format!("find cleave's own binary: {e}")))?;
                let mut cmd = Command::new(exe);
                cmd.args(["hook-exec", "--pid", &pid.to_string()]);
                if matches!(place, Place::ContainerPathOutside(_)) {
                    cmd.arg("--outside");
                }
                cmd.arg("--").arg(h.path()).args(&args);
                cmd
            }
        };
        cmd.env_clear();
        for kv in h.env().iter().flatten() {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
        cmd.stdin(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A hook that does not read its stdin is no failure.
            let _ = stdin.write_all(&json);
        }
        let timeout = h.timeout().map(|t| Duration::from_secs(t.max(1) as u64));
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) => {}
                Err(e) => return Err(fail(e.to_string())),
            }
            if timeout.is_some_and(|t| start.elapsed() > t) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "did not finish within its timeout of {}s",
                    timeout.unwrap_or_default().as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if !status.success() {
            return Err(fail(format!("exited with {status}")));
        }
    }
    Ok(())
}

/// Whether a config of runtime-spec `version` runs its prestart hooks at `start`: 1.0.x
/// said "after the start operation is called but before the user-specified program
/// command is executed"; 1.1 moved them into `create`, before createRuntime.
pub fn prestart_at_start(version: &str) -> bool {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().ok());
    matches!(
        (parts.next().flatten(), parts.next().flatten()),
        (Some(1), Some(0))
    )
}

#[cfg(test)]
mod tests {
    use super::prestart_at_start;

    #[test]
    fn prestart_moves_into_create_with_runtime_spec_1_1() {
        assert!(prestart_at_start("1.0.2-dev"));
        assert!(prestart_at_start("1.0.0"));
        assert!(!prestart_at_start("1.1.0"));
        assert!(!prestart_at_start("1.2.0"));
        assert!(!prestart_at_start("2.0"));
    }
}
