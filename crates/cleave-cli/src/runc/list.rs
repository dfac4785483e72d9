//! `list [-f json|table] [-q]`: the containers under --root.
use super::cli::ListArgs;
use super::common::{self, Ctx, Fail, Res};
use std::fmt::Write;

pub fn run(ctx: &Ctx, a: ListArgs) -> Res<i32> {
    let all = cleave::container::list(&ctx.root)?;
    if a.quiet {
        for r in &all {
            println!("{}", r.id);
        }
        return Ok(0);
    }
    let states: Vec<cleave_oci::State> = all
        .iter()
        .map(|r| common::oci_state(r, &common::oci_version(&ctx.root.join(&r.id))))
        .collect();
    match a.format.as_str() {
        "json" => {
            println!("{}", serde_json::to_string(&states).unwrap_or_default());
        }
        "table" => {
            let mut out = format!(
                "{:<12} {:<8} {:<10} {:<40} {:<30} {}\n",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"
            );
            for (s, r) in states.iter().zip(&all) {
                let status = serde_json::to_value(s.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<12} {:<8} {:<10} {:<40} {:<30} {}",
                    s.id,
                    s.pid,
                    status,
                    s.bundle.display(),
                    s.created,
                    owner_name(r.owner)
                );
            }
            print!("{out}");
        }
        other => return Err(Fail::bad(format!("--format {other:?}: give table or json"))),
    }
    Ok(0)
}

fn owner_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.get(2) == Some(&uid.to_string().as_str())).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}
