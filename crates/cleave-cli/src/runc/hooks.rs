//! The config's hooks, run with the state JSON on stdin at the times the runtime-spec sets.
use super::common::{oci_spec_runtime::Hook, Fail, Res};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `hooks` (named `which` in messages) in order; the first failure stops them.
pub fn run(which: &str, hooks: Option<&Vec<Hook>>, state: &cleave_oci::State) -> Res<()> {
    let json = serde_json::to_vec(state).unwrap_or_default();
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        let fail = |why: String| {
            Fail::failed(format!(
                "hooks.{which}[{i}] ({}): {why}",
                h.path().display()
            ))
        };
        let args = h.args().clone().unwrap_or_default();
        let mut cmd = Command::new(h.path());
        if let Some(argv0) = args.first() {
            use std::os::unix::process::CommandExt;
            cmd.arg0(argv0);
        }
        cmd.args(args.iter().skip(1));
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
