//! Turns a results directory written by `bench/run` into BENCHMARKS.md.
//!
//! The directory holds `inproc.json` (the harness's rows), `machine.tsv` (key, value),
//! `whole.tsv` (name, group, who, label, command) and per whole-process command either
//! `hf-NAME.json` (hyperfine's export) or `fail-NAME.txt` (first line of its stderr), plus
//! `rss-NAME.txt` (max RSS in KiB, one run a line).
use crate::floor;
use crate::harness::Row;
use std::fmt::Write;
use std::path::Path;

/// A measured figure: median and spread, in nanoseconds.
#[derive(Clone, Copy, Debug)]
struct Figure {
    median: f64,
    p10: f64,
    p90: f64,
    n: usize,
}

fn time(ns: f64) -> String {
    if ns >= 10_000_000.0 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

use crate::harness::percentile;

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(percentile(&v, 0.5))
}

struct Whole {
    name: String,
    group: String,
    who: String,
    label: String,
    command: String,
    figure: Result<Figure, String>,
    rss_kib: Option<f64>,
}

fn read_whole(dir: &Path) -> Result<Vec<Whole>, String> {
    let manifest =
        std::fs::read_to_string(dir.join("whole.tsv")).map_err(|e| format!("whole.tsv: {e}"))?;
    let mut out = Vec::new();
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            return Err(format!("whole.tsv: bad line {line:?}"));
        }
        let name = f[0].to_string();
        let figure = match std::fs::read_to_string(dir.join(format!("hf-{name}.json"))) {
            Ok(text) => hyperfine_figure(&text, floor::round_times(dir, &name)),
            Err(_) => Err(
                std::fs::read_to_string(dir.join(format!("fail-{name}.txt")))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "not run".into()),
            ),
        };
        let rss = std::fs::read_to_string(dir.join(format!("rss-{name}.txt")))
            .ok()
            .and_then(|s| {
                median(
                    s.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect(),
                )
            });
        out.push(Whole {
            name,
            group: f[1].into(),
            who: f[2].into(),
            label: f[3].into(),
            command: f[4].into(),
            figure,
            rss_kib: rss,
        });
    }
    Ok(out)
}

/// The figure of a hyperfine export, pooled with the times of the row's other rounds.
fn hyperfine_figure(text: &str, more: Vec<f64>) -> Result<Figure, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("hyperfine json: {e}"))?;
    let times = v["results"][0]["times"]
        .as_array()
        .ok_or("hyperfine json without times")?;
    let mut ns: Vec<f64> = times
        .iter()
        .filter_map(|t| t.as_f64())
        .map(|s| s * 1e9)
        .collect();
    ns.extend(more);
    ns.sort_by(f64::total_cmp);
    Ok(Figure {
        median: percentile(&ns, 0.5),
        p10: percentile(&ns, 0.1),
        p90: percentile(&ns, 0.9),
        n: ns.len(),
    })
}

fn row_figure(r: &Row) -> Result<Figure, String> {
    match &r.error {
        Some(e) => Err(e.clone()),
        None => Ok(Figure {
            median: r.median_ns,
            p10: r.p10_ns,
            p90: r.p90_ns,
            n: r.iters,
        }),
    }
}

fn failure(who: &str, e: &str) -> String {
    let first = e.lines().next().unwrap_or("").replace('|', "\\|");
    format!("{who}: failed: {first}")
}

/// One target: its text, the bound, and the measured ratio (or why there is none).
struct Target {
    what: &'static str,
    bound: f64,
    strict: bool,
    got: Result<(f64, String), String>,
}

fn mark(t: &Target) -> (String, &'static str) {
    match &t.got {
        Ok((r, detail)) => {
            let holds = if t.strict {
                *r < t.bound
            } else {
                *r <= t.bound
            };
            (
                format!("{r:.2}× ({detail})"),
                if holds { "**holds**" } else { "**missed**" },
            )
        }
        Err(e) => (e.clone(), "not measured"),
    }
}

/// Renders BENCHMARKS.md.
pub fn render(dir: &Path) -> Result<String, String> {
    let rows: Vec<Row> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("inproc.json"))
            .map_err(|e| format!("inproc.json: {e}"))?,
    )
    .map_err(|e| format!("inproc.json: {e}"))?;
    let machine = std::fs::read_to_string(dir.join("machine.tsv")).unwrap_or_default();
    let whole = read_whole(dir)?;
    let get = |key: &str| {
        machine
            .lines()
            .find_map(|l| {
                l.split_once('\t')
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_or_default()
    };

    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `sudo bench/run` (see bench/run) on {}. Each in-process figure is the \
         median time of one create-and-wait, timed call by call after a warm-up, with the \
         10th–90th percentile range; the raw C baselines are compiled with gcc -O2 into the \
         same binary and timed by the same loop. Whole-process figures come from hyperfine \
         (`-N`, warm-up, many runs); peak memory is the median max RSS of several runs \
         (GNU time `%M`). A ratio is cleave ÷ peer: **below 1.00× cleave is faster**. \
         The sandbox groups are timed in rounds (a short hyperfine of each row in turn, \
         again and again), so that a load that comes and goes on a shared machine falls on \
         every row alike; a row's figure pools its rounds. Each sandbox group also holds the C floor of each of its cleave rows \
         (bench/c/floor_*.c, gcc -O2 -static: the same namespaces, id maps, mounts in the \
         same order, pivot_root, init and exec, with nothing else); a floor row's ratio is \
         its own cleave row ÷ the floor.\n",
        get("date")
    );
    let _ = writeln!(md, "## Machine\n\n| | |\n|---|---|");
    for line in machine.lines() {
        if let Some((k, v)) = line.split_once('\t') {
            if k != "date" {
                let _ = writeln!(md, "| {k} | {} |", v.replace('|', "\\|"));
            }
        }
    }

    // Targets.
    let find = |section: &str, who: &str, prefix: &str| {
        rows.iter()
            .find(|r| r.section == section && r.who == who && r.label.starts_with(prefix))
    };
    let cmp_rows = |section: &str,
                    cleave: &str,
                    peer_who: &str,
                    peer: &str|
     -> Result<(f64, String), String> {
        let c = find(section, "cleave", cleave).ok_or("no cleave row")?;
        let p = find(section, peer_who, peer).ok_or("no peer row")?;
        let cf = row_figure(c).map_err(|e| failure("cleave", &e))?;
        let pf = row_figure(p).map_err(|e| failure(peer_who, &e))?;
        Ok((
            cf.median / pf.median,
            format!("{} vs {}", time(cf.median), time(pf.median)),
        ))
    };
    let whole_by = |name: &str| whole.iter().find(|w| w.name == name);
    let best_cleave = |group: &str| -> Result<&Whole, String> {
        let cands: Vec<&Whole> = whole
            .iter()
            .filter(|w| w.group == group && w.who == "cleave")
            .collect();
        cands
            .iter()
            .filter(|w| w.figure.is_ok())
            .min_by(|a, b| {
                let (Ok(fa), Ok(fb)) = (&a.figure, &b.figure) else {
                    unreachable!()
                };
                fa.median.total_cmp(&fb.median)
            })
            .copied()
            .ok_or_else(|| {
                cands
                    .first()
                    .and_then(|w| w.figure.as_ref().err())
                    .map(|e| failure("cleave", e))
                    .unwrap_or_else(|| "no cleave row".into())
            })
    };
    let cmp_whole = |group: &str, peer: &str| -> Result<(f64, String), String> {
        let c = best_cleave(group)?;
        let p = whole_by(peer).ok_or("no peer row")?;
        let cf = c.figure.as_ref().map_err(|e| failure("cleave", e))?;
        let pf = p.figure.as_ref().map_err(|e| failure(&p.label, e))?;
        Ok((
            cf.median / pf.median,
            format!("{} vs {}", time(cf.median), time(pf.median)),
        ))
    };
    let cmp_rss = |group: &str, peer: &str| -> Result<(f64, String), String> {
        let c = best_cleave(group)?;
        let p = whole_by(peer).ok_or("no peer row")?;
        match (c.rss_kib, p.rss_kib) {
            (Some(a), Some(b)) => Ok((a / b, format!("{a:.0} KiB vs {b:.0} KiB"))),
            _ => Err("no max RSS figure".into()),
        }
    };
    let targets = [
        Target {
            what: "thread-like Task ≤ 1.10× raw C clone",
            bound: 1.10,
            strict: false,
            got: cmp_rows("thread", "cleave", "c", "C clone"),
        },
        Target {
            what: "thread-like Task faster than std::thread::spawn",
            bound: 1.0,
            strict: true,
            got: cmp_rows("thread", "cleave", "rust", "Rust std::thread"),
        },
        Target {
            what: "program spawn ≤ 1.00× std::process::Command",
            bound: 1.0,
            strict: false,
            got: cmp_rows("spawn", "cleave", "rust", "Rust std::process"),
        },
        Target {
            what: "fork-like child ≤ 1.05× C fork+waitpid",
            bound: 1.05,
            strict: false,
            got: cmp_rows("fork", "cleave", "c", "C fork"),
        },
        Target {
            what: "full rootless sandbox ≤ 1.0× unshare -Urpfmiun --mount-proc",
            bound: 1.0,
            strict: false,
            got: cmp_whole("ns", "unshare"),
        },
        Target {
            what: "rootfs sandbox ≤ 0.5× bubblewrap",
            bound: 0.5,
            strict: false,
            got: cmp_whole("rootfs", "bwrap"),
        },
        Target {
            what: "cleave's peak RSS ≤ bubblewrap's",
            bound: 1.0,
            strict: false,
            got: cmp_rss("rootfs", "bwrap"),
        },
    ];
    let _ = writeln!(
        md,
        "\n## Targets\n\n| target | figure (cleave ÷ peer) | verdict |\n|---|---|---|"
    );
    for t in targets.iter().chain(floor_targets(&whole).iter()) {
        let (fig, verdict) = mark(t);
        let _ = writeln!(
            md,
            "| {} | {} | {verdict} |",
            t.what,
            fig.replace('|', "\\|")
        );
    }

    // In-process sections.
    let sections: [(&str, &str); 7] = [
        ("thread", "Thread-like task: create + join"),
        ("fork", "Fork-like closure child: create + wait"),
        ("spawn", "Program spawn + wait of /bin/true"),
        ("pidfd", "clone3 with CLONE_PIDFD, wait on the pidfd"),
        ("cgroup", "Into a cgroup: CLONE_INTO_CGROUP vs writing cgroup.procs (temporary cgroup2 directory)"),
        ("ns-root", "Namespaces, as root: fork-like child with each flag alone, then all together"),
        ("ns-rootless", "Namespaces, rootless (uid 65534 via setpriv): CLONE_NEWUSER plus each flag, then all"),
    ];
    let _ = writeln!(md, "\n## In one process\n");
    for (section, title) in sections {
        let srows: Vec<&Row> = rows.iter().filter(|r| r.section == section).collect();
        if srows.is_empty() {
            continue;
        }
        let _ = writeln!(md, "### {title}\n\n| case | who | what | median | p10 – p90 | n | cleave ÷ this |\n|---|---|---|---|---|---|---|");
        let mut cases: Vec<&str> = Vec::new();
        for r in &srows {
            if !cases.contains(&r.case.as_str()) {
                cases.push(&r.case);
            }
        }
        for case in cases {
            let crows: Vec<&&Row> = srows.iter().filter(|r| r.case == case).collect();
            let primary = crows
                .iter()
                .find(|r| r.who == "cleave")
                .and_then(|r| row_figure(r).ok());
            let first_peer = crows
                .iter()
                .find(|r| r.who != "cleave")
                .and_then(|r| row_figure(r).ok());
            let mut seen_cleave = false;
            for r in crows {
                let (fig, spread, n, rat) = match row_figure(r) {
                    Ok(f) => {
                        let rat = if r.who == "cleave" {
                            let extra = seen_cleave;
                            seen_cleave = true;
                            match (extra, first_peer) {
                                (true, Some(p)) => {
                                    format!("{} (vs first peer)", ratio(f.median, p.median))
                                }
                                _ => String::new(),
                            }
                        } else {
                            primary
                                .map(|c| ratio(c.median, f.median))
                                .unwrap_or_else(|| "–".into())
                        };
                        (
                            time(f.median),
                            format!("{} – {}", time(f.p10), time(f.p90)),
                            f.n.to_string(),
                            rat,
                        )
                    }
                    Err(e) => (
                        failure(
                            if r.who == "cleave" {
                                "cleave"
                            } else {
                                &r.label
                            },
                            &e,
                        ),
                        String::new(),
                        String::new(),
                        "–".into(),
                    ),
                };
                let _ = writeln!(
                    md,
                    "| {case} | {} | {} | {fig} | {spread} | {n} | {rat} |",
                    r.who,
                    r.label.replace('|', "\\|")
                );
            }
        }
        md.push('\n');
    }

    // Whole-process groups.
    let groups: [(&str, &str); 4] = [
        ("floor", "The floor: /bin/true itself"),
        ("ns", "New user, PID, mount, UTS, IPC, network (and cgroup) namespaces with a fresh /proc, rootless (uid 65534)"),
        ("rootfs", "Busybox rootfs with /proc, /dev and /tmp, all namespaces, rootless (uid 65534)"),
        ("oci", "OCI bundle (same busybox rootfs), as root"),
    ];
    let _ = writeln!(md, "## Whole process, start to exit (hyperfine)\n");
    for (group, title) in groups {
        let g: Vec<&Whole> = whole.iter().filter(|w| w.group == group).collect();
        if g.is_empty() {
            continue;
        }
        let _ = writeln!(md, "### {title}\n\n| who | command | median | p10 – p90 | runs | max RSS | cleave ÷ this (time) | cleave ÷ this (RSS) |\n|---|---|---|---|---|---|---|---|");
        let best = best_cleave(group).ok();
        for w in &g {
            let cmd = format!("`{}`", w.command.replace('|', "\\|"));
            let rss = w
                .rss_kib
                .map(|k| format!("{k:.0} KiB"))
                .unwrap_or_else(|| "–".into());
            match &w.figure {
                Ok(f) => {
                    let paired =
                        floor::floor_of(&w.name).and_then(|c| whole.iter().find(|x| x.name == c));
                    let (rt, rr) = match (best, paired) {
                        (_, Some(c)) => (
                            c.figure
                                .as_ref()
                                .map(|c| ratio(c.median, f.median))
                                .unwrap_or_default(),
                            match (c.rss_kib, w.rss_kib) {
                                (Some(a), Some(p)) => ratio(a, p),
                                _ => "–".into(),
                            },
                        ),
                        (Some(b), None) if w.who == "peer" => (
                            b.figure
                                .as_ref()
                                .map(|c| ratio(c.median, f.median))
                                .unwrap_or_default(),
                            match (b.rss_kib, w.rss_kib) {
                                (Some(a), Some(p)) => ratio(a, p),
                                _ => "–".into(),
                            },
                        ),
                        _ => (String::new(), String::new()),
                    };
                    let _ = writeln!(
                        md,
                        "| {} | {cmd} | {} | {} – {} | {} | {rss} | {rt} | {rr} |",
                        w.label,
                        time(f.median),
                        time(f.p10),
                        time(f.p90),
                        f.n
                    );
                }
                Err(e) => {
                    let who = if w.who == "cleave" {
                        "cleave"
                    } else {
                        &w.label
                    };
                    let _ = writeln!(
                        md,
                        "| {} | {cmd} | {} | | | {rss} | – | – |",
                        w.label,
                        failure(who, e)
                    );
                }
            }
        }
        if group == "rootfs" {
            md.push('\n');
            let pairs = [
                ("cleave-ns", "floor-cleave-ns", "its C floor"),
                ("cleave-ns", "unshare", "unshare"),
                ("cleave-container", "floor-cleave-container", "its C floor"),
                ("cleave-rootfs", "floor-cleave-rootfs", "its C floor"),
                ("cleave-container", "bwrap", "bubblewrap"),
                ("cleave-rootfs", "bwrap", "bubblewrap"),
            ];
            md.push_str(&floor::spread_section(dir, &pairs));
            md.push_str(&floor::cpu_section(dir, &pairs));
        }
        if group == "oci" {
            let _ = writeln!(md, "\ncleave runs the bundle with runc's command line (`cleave run`); the section \"OCI runtime\" below measures it next to runc sample by sample.");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "Reproduce with `sudo bench/run` (it installs the peers from Debian, builds cleave in release mode and rewrites this file).");
    md.push_str(&crate::oci::section(dir));
    Ok(md)
}

/// One target per floor row: its cleave row ≤ [`floor::BOUND`]× the floor, in the same run.
fn floor_targets(whole: &[Whole]) -> Vec<Target> {
    whole
        .iter()
        .filter_map(|f| {
            Some((
                f,
                whole
                    .iter()
                    .find(|c| Some(c.name.as_str()) == floor::floor_of(&f.name))?,
            ))
        })
        .map(|(f, c)| Target {
            what: floor::target_text(&c.name),
            bound: floor::BOUND,
            strict: false,
            got: match (&c.figure, &f.figure) {
                (Ok(a), Ok(b)) => Ok((
                    a.median / b.median,
                    format!("{} vs {}", time(a.median), time(b.median)),
                )),
                (Err(e), _) => Err(failure("cleave", e)),
                (_, Err(e)) => Err(failure("floor", e)),
            },
        })
        .collect()
}
