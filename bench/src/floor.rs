//! The floor: each sandbox row of bench/run next to a C program doing the same work and
//! nothing else (bench/c/floor_*.c). A floor row is named `floor-` followed by the name of
//! the cleave row it is the floor of. A sandbox group is timed in rounds: `hf-NAME.json`
//! holds a row's first, `roundR-NAME.json` (R = 2, 3, ...) the others (hyperfine exports).
use crate::harness::percentile;
use std::fmt::Write;
use std::path::Path;

/// What cleave may cost over its floor.
pub const BOUND: f64 = 1.25;

/// The cleave row a floor row is the floor of.
pub fn floor_of(name: &str) -> Option<&str> {
    name.strip_prefix("floor-")
}

/// The target's text for the cleave row NAME.
pub fn target_text(name: &str) -> &'static str {
    match name {
        "cleave-ns" => "full rootless sandbox (--mount-proc) ≤ 1.25× its C floor",
        "cleave-container" => "rootfs sandbox, --preset container ≤ 1.25× its C floor",
        "cleave-rootfs" => "rootfs sandbox, explicit ≤ 1.25× its C floor",
        _ => "a sandbox row ≤ 1.25× its C floor",
    }
}

/// The times of a hyperfine export, in nanoseconds.
fn times(path: &Path) -> Option<Vec<f64>> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(
        v["results"][0]["times"]
            .as_array()?
            .iter()
            .filter_map(|t| t.as_f64())
            .map(|s| s * 1e9)
            .collect(),
    )
}

/// The median of a hyperfine export, in nanoseconds.
fn median(path: &Path) -> Option<f64> {
    let mut ns = times(path)?;
    if ns.is_empty() {
        return None;
    }
    ns.sort_by(f64::total_cmp);
    Some(percentile(&ns, 0.5))
}

/// The times of every round of NAME after its first, in nanoseconds.
pub fn round_times(dir: &Path, name: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for r in 2..=MAX_ROUNDS {
        out.extend(times(&dir.join(format!("round{r}-{name}.json"))).unwrap_or_default());
    }
    out
}

/// The most rounds looked for (a round whose hyperfine failed leaves no file).
const MAX_ROUNDS: usize = 100;

/// Each round's ratio of A's median to B's, the first round first.
fn ratios(dir: &Path, a: &str, b: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let main = (
        median(&dir.join(format!("hf-{a}.json"))),
        median(&dir.join(format!("hf-{b}.json"))),
    );
    if let (Some(x), Some(y)) = main {
        out.push(x / y);
    }
    for r in 2..=MAX_ROUNDS {
        let (pa, pb) = (
            dir.join(format!("round{r}-{a}.json")),
            dir.join(format!("round{r}-{b}.json")),
        );
        if let (Some(x), Some(y)) = (median(&pa), median(&pb)) {
            out.push(x / y);
        }
    }
    out
}

/// The section saying how far each ratio moved from round to round. PAIRS: (cleave row,
/// the row it is compared with, that row's label).
pub fn spread_section(dir: &Path, pairs: &[(&str, &str, &str)]) -> String {
    let mut md = String::new();
    let mut rows = Vec::new();
    for (a, b, label) in pairs {
        let r = ratios(dir, a, b);
        if r.is_empty() {
            continue;
        }
        let (lo, hi) = r
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        let each: Vec<String> = r.iter().map(|x| format!("{x:.2}×")).collect();
        rows.push(format!(
            "| `{a}` ÷ {label} | {lo:.2}× – {hi:.2}× | {} | {} |",
            r.len(),
            each.join(", ")
        ));
    }
    if rows.is_empty() {
        return md;
    }
    let _ = writeln!(
        md,
        "### Spread from round to round\n\nThe ratio of medians within each round (a short \
         hyperfine of every row of the group in turn; the tables above pool the rounds).\n\n\
         | ratio | lowest – highest | rounds | each round |\n|---|---|---|---|"
    );
    for r in rows {
        let _ = writeln!(md, "{r}");
    }
    md.push('\n');
    md
}

/// The mean CPU time (user + system of the whole process tree, as hyperfine reports it) of
/// NAME over all its rounds, in nanoseconds.
fn cpu(dir: &Path, name: &str) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    let first = std::iter::once(dir.join(format!("hf-{name}.json")));
    let more = (2..=MAX_ROUNDS).map(|r| dir.join(format!("round{r}-{name}.json")));
    for path in first.chain(more) {
        let Some(v) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        else {
            continue;
        };
        let r = &v["results"][0];
        let runs = r["times"].as_array().map_or(0, Vec::len);
        if let (Some(u), Some(s)) = (r["user"].as_f64(), r["system"].as_f64()) {
            sum += (u + s) * 1e9 * runs as f64;
            n += runs;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// The section comparing CPU time, steadier than wall time on a shared machine (a run that
/// waits for a busy CPU does not count the wait). PAIRS as for [`spread_section`].
pub fn cpu_section(dir: &Path, pairs: &[(&str, &str, &str)]) -> String {
    let mut md = String::new();
    let rows: Vec<String> = pairs
        .iter()
        .filter_map(|(a, b, label)| {
            let (x, y) = (cpu(dir, a)?, cpu(dir, b)?);
            Some(format!(
                "| `{a}` ÷ {label} | {:.2} ms | {:.2} ms | {:.2}× |",
                x / 1e6,
                y / 1e6,
                x / y
            ))
        })
        .collect();
    if rows.is_empty() {
        return md;
    }
    let _ = writeln!(
        md,
        "### CPU time\n\nUser plus system time of the whole process tree (hyperfine's mean, \
         over every round): what each side spent, without the time it waited for a CPU the \
         other sessions of a shared machine held.\n\n| ratio | cleave | the other | ratio |\n\
         |---|---|---|---|"
    );
    for r in rows {
        let _ = writeln!(md, "{r}");
    }
    md.push('\n');
    md
}
