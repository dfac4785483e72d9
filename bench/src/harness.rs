//! A small timing harness: warm-up, then one timed call per sample until a time budget is
//! spent, then median and p10/p90 of the per-call times.
//!
//! Not criterion: criterion analyses its samples on a rayon thread pool, and a process that
//! has ever had a second thread is refused by `Fork::spawn` (and pays for the check), so it
//! would measure something else than a program that forks. The C baselines are called
//! through FFI by this same loop, so both sides get the same timer and statistics.
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// One measured (or failed) row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The comparison this row belongs to ("thread", "fork", "ns-root", ...).
    pub section: String,
    /// The case inside the section ("create+join", "net", ...).
    pub case: String,
    /// "cleave", or the peer's kind ("c", "rust").
    pub who: String,
    /// What was measured, for the reader.
    pub label: String,
    /// Median time per call, nanoseconds.
    pub median_ns: f64,
    /// 10th percentile, nanoseconds.
    pub p10_ns: f64,
    /// 90th percentile, nanoseconds.
    pub p90_ns: f64,
    /// Timed calls.
    pub iters: usize,
    /// Why it could not be measured.
    pub error: Option<String>,
}

/// The error of a row left out by `CLEAVE_BENCH_ONLY=section,...` (for profiling one part).
pub const SKIPPED: &str = "skipped (CLEAVE_BENCH_ONLY)";

/// How long each row is timed.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub warmup: Duration,
    pub measure: Duration,
    pub min_iters: usize,
    pub max_iters: usize,
}

/// The `p` quantile (0..=1) of sorted samples, interpolated between neighbours.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// One row to time: what it is and the call to time.
pub struct Case<'a> {
    pub section: String,
    pub case: String,
    pub who: String,
    pub label: String,
    pub call: Box<dyn FnMut() -> Result<(), String> + 'a>,
}

/// A row to time in a [`measure_group`].
pub fn case<'a>(
    section: &str,
    case: &str,
    who: &str,
    label: &str,
    call: impl FnMut() -> Result<(), String> + 'a,
) -> Case<'a> {
    Case {
        section: section.into(),
        case: case.into(),
        who: who.into(),
        label: label.into(),
        call: Box::new(call),
    }
}

/// Calls timed per round and row: rows take turns in small batches, so that a slow phase of
/// the machine (another tenant, frequency, the scheduler placing children on the other CPU
/// or not) hits every row of a comparison alike instead of whichever ran then.
const BATCH: usize = 16;

/// Times the rows of one comparison, interleaved; a row's first error stops that row and is
/// reported in it.
pub fn measure_group(budget: Budget, mut cases: Vec<Case<'_>>) -> Vec<Row> {
    let skip = |section: &str| {
        std::env::var("CLEAVE_BENCH_ONLY").is_ok_and(|only| !only.split(',').any(|s| s == section))
    };
    let mut rows: Vec<Row> = cases
        .iter()
        .map(|c| Row {
            section: c.section.clone(),
            case: c.case.clone(),
            who: c.who.clone(),
            label: c.label.clone(),
            median_ns: 0.0,
            p10_ns: 0.0,
            p90_ns: 0.0,
            iters: 0,
            error: skip(&c.section).then(|| SKIPPED.to_string()),
        })
        .collect();
    let mut samples: Vec<Vec<f64>> = cases.iter().map(|_| Vec::new()).collect();
    // Warm-up, row by row.
    for (c, row) in cases.iter_mut().zip(rows.iter_mut()) {
        if row.error.is_some() {
            continue;
        }
        let start = Instant::now();
        let mut warm = 0;
        while warm < 5 || start.elapsed() < budget.warmup {
            if let Err(e) = (c.call)() {
                row.error = Some(e);
                break;
            }
            warm += 1;
        }
    }
    let total = budget.measure * cases.len() as u32;
    let start = Instant::now();
    loop {
        let live: Vec<usize> = (0..cases.len())
            .filter(|&i| rows[i].error.is_none() && samples[i].len() < budget.max_iters)
            .collect();
        if live.is_empty()
            || (start.elapsed() >= total
                && live.iter().all(|&i| samples[i].len() >= budget.min_iters))
        {
            break;
        }
        for i in live {
            for _ in 0..BATCH {
                let t = Instant::now();
                if let Err(e) = (cases[i].call)() {
                    rows[i].error = Some(e);
                    break;
                }
                samples[i].push(t.elapsed().as_nanos() as f64);
            }
        }
    }
    for (row, mut s) in rows.iter_mut().zip(samples) {
        if row.error.is_none() {
            s.sort_by(f64::total_cmp);
            row.median_ns = percentile(&s, 0.5);
            row.p10_ns = percentile(&s, 0.1);
            row.p90_ns = percentile(&s, 0.9);
            row.iters = s.len();
        }
        if row.error.as_deref() != Some(SKIPPED) {
            eprintln!(
                "  {:<12} {:<12} {:<52} {}",
                row.section,
                row.case,
                row.label,
                match &row.error {
                    Some(e) => format!("failed: {e}"),
                    None => format!("{:>9.1} µs (n={})", row.median_ns / 1000.0, row.iters),
                }
            );
        }
    }
    rows
}
