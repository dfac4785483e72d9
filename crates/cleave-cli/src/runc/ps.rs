//! `ps [--format json|table] ID [-- PS ARGS]`: the container's processes, from its cgroup.
use super::cli::PsArgs;
use super::common::{self, Ctx, Fail, Res};

pub fn run(ctx: &Ctx, a: PsArgs) -> Res<i32> {
    let rec = ctx.load(&a.id)?;
    let pids = match common::cgroup(&rec) {
        Some(set) => set.processes()?,
        None if common::alive(rec.pid, rec.pid_start) => vec![rec.pid],
        None => Vec::new(),
    };
    match a.format.as_str() {
        "json" => {
            println!("{}", serde_json::to_string(&pids).unwrap_or_default());
            Ok(0)
        }
        "table" => {
            let args = if a.ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                a.ps_args.clone()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| Fail::failed(format!("run ps: {e}")))?;
            if !out.status.success() {
                return Err(Fail::failed(format!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| {
                    Fail::bad(format!(
                        "ps {}: its output has no PID column",
                        args.join(" ")
                    ))
                })?;
            println!("{header}");
            for l in lines {
                let pid = l
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{l}");
                }
            }
            Ok(0)
        }
        other => Err(Fail::bad(format!("--format {other:?}: give table or json"))),
    }
}
