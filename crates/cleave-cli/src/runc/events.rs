//! `events [--stats] [--interval D]`: the container's resource use as JSON events, one a
//! line, as runc prints them (`{"type":"stats","id":..,"data":{..}}`).
use super::cli::EventsArgs;
use super::common::{self, Ctx, Fail, Res};
use cleave::container::Status;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(file))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn field(dir: &Path, file: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(file))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
}

fn stats(dirs: &[std::path::PathBuf]) -> serde_json::Value {
    let (mut cpu, mut mem, mut pids) = (None, None, None);
    for d in dirs {
        cpu = cpu
            .or_else(|| field(d, "cpu.stat", "usage_usec ").map(|u| u * 1000))
            .or_else(|| read_u64(d, "cpuacct.usage"));
        mem = mem
            .or_else(|| read_u64(d, "memory.current"))
            .or_else(|| read_u64(d, "memory.usage_in_bytes"));
        pids = pids.or_else(|| read_u64(d, "pids.current"));
    }
    json!({
        "cpu": {"usage": {"total": cpu.unwrap_or(0)}},
        "memory": {"usage": {"usage": mem.unwrap_or(0)}},
        "pids": {"current": pids.unwrap_or(0)}
    })
}

fn parse_interval(s: &str) -> Res<Duration> {
    let bad = || {
        Fail::bad(format!(
            "--interval {s:?}: give a duration such as 5s, 500ms or 1m"
        ))
    };
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(ctx: &Ctx, a: EventsArgs) -> Res<i32> {
    let interval = parse_interval(&a.interval)?;
    loop {
        let rec = ctx.load(&a.id)?;
        if common::status(&rec) == Status::Stopped {
            if a.stats {
                return Err(common::not_running(&rec));
            }
            return Ok(0);
        }
        let ev = json!({"type": "stats", "id": a.id, "data": stats(&rec.cgroup_dirs)});
        println!("{ev}");
        if a.stats {
            return Ok(0);
        }
        std::thread::sleep(interval);
    }
}
