//! The OCI runtime rows (issue 10): cleave's runc command line next to runc 1.1 itself, in
//! one run, each sample of one runtime followed by one of the other (the order alternating),
//! so that both meet the same load on a shared machine.
//!
//! ```text
//! cleave-bench oci OUT.json --cleave PATH --bundle DIR [--runc PATH] [--podman-rootfs DIR]
//!                  [--floor-run PATH] [--floor-pause PATH] [--quick]
//! ```
//!
//! Rows: `run` of the bundle (its process /bin/true) from start to exit; `pause` + `resume`
//! of a running container; podman's `run --rm` with `--runtime` each of them (what the
//! runtime changes in a client's whole call); peak RSS of `create` (the runtime process's
//! max RSS, children it waited for included, from wait4(2), as GNU time `%M` reports it).
//! Every container is deleted again; each runtime has a state root of its own on /run.
//! With `--floor-run` and `--floor-pause` (bench/c/floor_oci.c, floor_pause.c), the `run` and
//! `pause` + `resume` rows take a third sample each round: a C program doing the same work
//! as cleave with nothing else, the floor under the issue's targets.
//! [`section`] renders OUT.json for BENCHMARKS.md.
use crate::harness::percentile;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

/// One row: cleave's figure and the peer's, medians with the 10th-90th percentile.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OciRow {
    pub case: String,
    pub label: String,
    /// "ns" or "KiB".
    pub unit: String,
    pub cleave: Option<Stats>,
    pub peer: Option<Stats>,
    /// The C floor's figure, where one was measured.
    #[serde(default)]
    pub floor: Option<Stats>,
    /// The issue's target for cleave ÷ peer, if it sets one.
    pub target: Option<f64>,
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub n: usize,
}

fn stats(mut v: Vec<f64>) -> Option<Stats> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Stats {
        median: percentile(&v, 0.5),
        p10: percentile(&v, 0.1),
        p90: percentile(&v, 0.9),
        n: v.len(),
    })
}

/// A runtime under measurement: its binary and a state root of its own.
struct Runtime {
    bin: PathBuf,
    root: PathBuf,
}

impl Runtime {
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root")
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    /// Runs one call; its duration in ns and its max RSS in KiB, or why it failed.
    fn call(&self, args: &[&str]) -> Result<(f64, f64), String> {
        let mut c = self.cmd();
        c.args(args);
        timed(&mut c)
    }

    fn name(&self) -> String {
        self.bin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Spawns `c`, waits for it with wait4(2): (nanoseconds from spawn to exit, max RSS KiB).
pub(crate) fn timed(c: &mut Command) -> Result<(f64, f64), String> {
    let start = Instant::now();
    let child = c.spawn().map_err(|e| format!("{c:?}: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct wait4 fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; status and usage are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let ns = start.elapsed().as_nanos() as f64;
    if r != pid {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let st = ExitStatus::from_raw(status);
    if !st.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("{st}: {first}"));
    }
    Ok((ns, usage.ru_maxrss as f64))
}

struct Args {
    out: PathBuf,
    cleave: PathBuf,
    runc: PathBuf,
    bundle: PathBuf,
    podman_rootfs: Option<PathBuf>,
    floor_run: Option<PathBuf>,
    floor_pause: Option<PathBuf>,
    quick: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    let out = it.next().ok_or("OUT.json missing")?.into();
    let (mut cleave, mut runc, mut bundle, mut podman_rootfs, mut quick) =
        (None, PathBuf::from("runc"), None, None, false);
    let (mut floor_run, mut floor_pause) = (None, None);
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--cleave" => cleave = Some(val()?.into()),
            "--runc" => runc = val()?.into(),
            "--bundle" => bundle = Some(val()?.into()),
            "--podman-rootfs" => podman_rootfs = Some(val()?.into()),
            "--floor-run" => floor_run = Some(val()?.into()),
            "--floor-pause" => floor_pause = Some(val()?.into()),
            "--quick" => quick = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Args {
        out,
        cleave: cleave.ok_or("--cleave PATH missing")?,
        runc,
        bundle: bundle.ok_or("--bundle DIR missing")?,
        podman_rootfs,
        floor_run,
        floor_pause,
        quick,
    })
}

/// Alternates `a` and `b` (`a` first on even rounds) for `warm` + `n` rounds; the samples
/// of the last `n`, or the first error.
type Sample<'a> = dyn FnMut(usize) -> Result<f64, String> + 'a;

fn side_by_side(
    n: usize,
    warm: usize,
    a: &mut Sample,
    b: &mut Sample,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let mut v = round_robin(n, warm, &mut [a, b])?.into_iter();
    Ok((v.next().unwrap_or_default(), v.next().unwrap_or_default()))
}

/// [`side_by_side`] for any number of samplers: round `i` starts with sampler `i mod k`
/// and takes one sample of each in turn.
fn round_robin(
    n: usize,
    warm: usize,
    samplers: &mut [&mut Sample],
) -> Result<Vec<Vec<f64>>, String> {
    let k = samplers.len();
    let mut v = vec![Vec::new(); k];
    for i in 0..warm + n {
        for j in 0..k {
            let which = (i + j) % k;
            let x = samplers[which](i)?;
            if i >= warm {
                v[which].push(x);
            }
        }
    }
    Ok(v)
}

/// Two runtimes side by side, with a floor as the third sampler when there is one: the
/// samples of cleave, of the peer, and of the floor (empty without one).
type Three = (Vec<f64>, Vec<f64>, Vec<f64>);

fn with_floor(
    n: usize,
    warm: usize,
    a: &mut Sample,
    b: &mut Sample,
    floor: Option<&mut Sample>,
) -> Result<Three, String> {
    match floor {
        Some(f) => {
            let mut v = round_robin(n, warm, &mut [a, b, f])?.into_iter();
            let mut next = || v.next().unwrap_or_default();
            Ok((next(), next(), next()))
        }
        None => side_by_side(n, warm, a, b).map(|(x, y)| (x, y, Vec::new())),
    }
}

fn row(
    case: &str,
    label: &str,
    unit: &str,
    target: Option<f64>,
    r: Result<(Vec<f64>, Vec<f64>), String>,
) -> OciRow {
    row3(
        case,
        label,
        unit,
        target,
        r.map(|(a, b)| (a, b, Vec::new())),
    )
}

fn row3(
    case: &str,
    label: &str,
    unit: &str,
    target: Option<f64>,
    r: Result<Three, String>,
) -> OciRow {
    let (cleave, peer, floor, error) = match r {
        Ok((a, b, f)) => (stats(a), stats(b), stats(f), None),
        Err(e) => (None, None, None, Some(e)),
    };
    eprintln!(
        "  {case}: cleave {:?} peer {:?} floor {:?} {}",
        cleave.map(|s| s.median),
        peer.map(|s| s.median),
        floor.map(|s| s.median),
        error.as_deref().unwrap_or("")
    );
    OciRow {
        case: case.into(),
        label: label.into(),
        unit: unit.into(),
        cleave,
        peer,
        floor,
        target,
        error,
    }
}

/// A copy of `bundle` whose process is `args` (same rootfs, by its absolute path).
fn bundle_running(bundle: &Path, to: &Path, args: &[&str]) -> Result<(), String> {
    let text = std::fs::read_to_string(bundle.join("config.json")).map_err(|e| e.to_string())?;
    let mut c: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    c["process"]["args"] = serde_json::json!(args);
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    std::fs::write(to.join("config.json"), c.to_string()).map_err(|e| e.to_string())
}

pub fn main(args: &[String]) -> Result<(), String> {
    let a = parse(args)?;
    let work = a.out.with_extension("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    // State roots on /run, where the runtimes keep them by default (a tmpfs on most
    // hosts; on this project's machine the root filesystem, where a sync costs).
    let roots = PathBuf::from(format!("/run/cleave-bench-oci-{}", std::process::id()));
    let cleave = Runtime {
        bin: a.cleave.clone(),
        root: roots.join("cleave"),
    };
    let runc = Runtime {
        bin: a.runc.clone(),
        root: roots.join("runc"),
    };
    let (n, warm) = if a.quick { (5, 1) } else { (40, 5) };
    let bundle = a.bundle.to_string_lossy().into_owned();
    let tag = std::process::id();
    let mut rows = Vec::new();

    eprintln!("OCI runtime rows (cleave next to {}):", runc.name());
    // `run` of /bin/true, start to exit.
    let floor_roots = roots.join("floor");
    let mut floor = match &a.floor_run {
        Some(f) => Some(crate::oci_floor::run_sample(
            f,
            &floor_roots,
            &a.bundle,
            tag,
        )?),
        None => None,
    };
    let r = with_floor(
        n,
        warm,
        &mut run_sample(&cleave, &bundle, tag),
        &mut run_sample(&runc, &bundle, tag),
        floor.as_mut().map(|f| f as &mut Sample),
    );
    rows.push(row3(
        "run",
        "`run` of a bundle running /bin/true, start to exit",
        "ns",
        Some(0.15),
        r,
    ));

    // pause + resume of a running container.
    let sleeper = work.join("bundle-sleep");
    let r = bundle_running(&a.bundle, &sleeper, &["/bin/sleep", "100000"]).and_then(|()| {
        let sleeper = sleeper.to_string_lossy().into_owned();
        // One id each: two builds of cleave compared would share a cgroup path otherwise.
        let (ida, idb) = (format!("cb-pause-{tag}-a"), format!("cb-pause-{tag}-b"));
        let r = cleave
            .call(&["run", "-d", "--bundle", &sleeper, &ida])
            .and_then(|_| runc.call(&["run", "-d", "--bundle", &sleeper, &idb]))
            .and_then(|_| {
                let mut floor = match &a.floor_pause {
                    Some(f) => Some(crate::oci_floor::pause_sample(f, &cleave.root.join(&ida))?),
                    None => None,
                };
                with_floor(
                    n,
                    warm,
                    &mut pause_sample(&cleave, &ida),
                    &mut pause_sample(&runc, &idb),
                    floor.as_mut().map(|f| f as &mut Sample),
                )
            });
        // Both, whatever failed: nothing is left running.
        let _ = cleave.call(&["delete", "--force", &ida]);
        let _ = runc.call(&["delete", "--force", &idb]);
        r
    });
    rows.push(row3(
        "pause+resume",
        "`pause` then `resume` of a running container",
        "ns",
        Some(0.1),
        r,
    ));

    // Peak RSS of `create` (then the container is deleted, not timed).
    let r = side_by_side(
        n.min(15),
        1,
        &mut create_sample(&cleave, &bundle, tag),
        &mut create_sample(&runc, &bundle, tag),
    );
    rows.push(row(
        "create-rss",
        "peak RSS of `create` (the runtime's process)",
        "KiB",
        Some(1.0),
        r,
    ));

    // podman run --rm with each runtime.
    if let Some(rootfs) = &a.podman_rootfs {
        let r = podman_rows(rootfs, &cleave, &runc, if a.quick { 3 } else { 10 });
        rows.push(row(
            "podman-run",
            "podman 4.3 `run --rm --rootfs R /bin/true` with `--runtime` each",
            "ns",
            None,
            r,
        ));
    }
    let json = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
    std::fs::write(&a.out, json).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&roots);
    Ok(())
}

/// podman with state of its own, `--runtime` one or the other.
fn podman_rows(
    rootfs: &Path,
    cleave: &Runtime,
    runc: &Runtime,
    n: usize,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    // podman refuses a runroot of over 50 characters: a short directory of its own, not
    // one under the checkout's target/.
    let p = PathBuf::from(format!("/var/tmp/cleave-bp-{}", std::process::id()));
    std::fs::create_dir_all(p.join("tmp")).map_err(|e| e.to_string())?;
    let conf = p.join("containers.conf");
    std::fs::write(
        &conf,
        "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
         runtime_supports_json = [\"cleave\", \"runc\"]\n",
    )
    .map_err(|e| e.to_string())?;
    let r = side_by_side(
        n,
        1,
        &mut podman_sample(&p, &conf, rootfs, cleave),
        &mut podman_sample(&p, &conf, rootfs, runc),
    );
    let _ = std::fs::remove_dir_all(&p);
    r
}

/// `run --bundle B ID` of a new id each time: nanoseconds.
fn run_sample<'a>(
    rt: &'a Runtime,
    bundle: &'a str,
    tag: u32,
) -> impl FnMut(usize) -> Result<f64, String> + 'a {
    move |i| {
        let id = format!("cb-run-{tag}-{i}");
        rt.call(&["run", "--bundle", bundle, &id]).map(|(t, _)| t)
    }
}

/// `pause ID` then `resume ID`: nanoseconds of both.
fn pause_sample<'a>(rt: &'a Runtime, id: &'a str) -> impl FnMut(usize) -> Result<f64, String> + 'a {
    move |_| {
        let (p, _) = rt.call(&["pause", id])?;
        let (r, _) = rt.call(&["resume", id])?;
        Ok(p + r)
    }
}

/// `create --bundle B ID`, then (untimed) `delete --force ID`: the create's max RSS, KiB.
fn create_sample<'a>(
    rt: &'a Runtime,
    bundle: &'a str,
    tag: u32,
) -> impl FnMut(usize) -> Result<f64, String> + 'a {
    move |i| {
        let id = format!("cb-create-{tag}-{i}");
        let (_, rss) = rt.call(&["create", "--bundle", bundle, &id])?;
        rt.call(&["delete", "--force", &id])?;
        Ok(rss)
    }
}

/// `podman run --rm --rootfs ROOTFS /bin/true` with `--runtime` rt: nanoseconds.
fn podman_sample<'a>(
    p: &'a Path,
    conf: &'a Path,
    rootfs: &'a Path,
    rt: &'a Runtime,
) -> impl FnMut(usize) -> Result<f64, String> + 'a {
    move |_| {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", conf)
            .env("TMPDIR", p.join("tmp"))
            .arg("--root")
            .arg(p.join("root"))
            .arg("--runroot")
            .arg(p.join("run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file", "--runtime"])
            .arg(&rt.bin)
            .args(["run", "--rm", "--network", "none"])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ])
            .arg("--rootfs")
            .arg(rootfs)
            .arg("/bin/true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        timed(&mut c).map(|(t, _)| t)
    }
}

fn show(v: f64, unit: &str) -> String {
    match unit {
        "KiB" => format!("{v:.0} KiB"),
        _ if v >= 10e6 => format!("{:.1} ms", v / 1e6),
        _ => format!("{:.2} ms", v / 1e6),
    }
}

/// The BENCHMARKS.md section of `dir/oci.json`, or nothing when the file is missing.
pub fn section(dir: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(dir.join("oci.json")) else {
        return String::new();
    };
    let rows: Vec<OciRow> = serde_json::from_str(&text).unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## OCI runtime: cleave and runc side by side\n\n\
         Each sample of one runtime is followed by one of the other (`cleave-bench oci`), so \
         both meet the same load; median (10th–90th percentile), samples. Peak RSS is the \
         runtime process's max RSS from wait4(2), as GNU time `%M`.\n\n\
         The C floor is a program doing the same work as cleave and nothing else \
         (bench/c/floor_oci.c, floor_pause.c; gcc -O2 -static), sampled in the same rounds: \
         a target below the floor's own ratio is out of reach for any runtime.\n\n\
         | case | cleave | runc | cleave ÷ runc | target | C floor | floor ÷ runc | cleave ÷ floor |\n\
         |---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let cell = |s: &Option<Stats>| match s {
            Some(s) => format!(
                "{} ({}–{}), n={}",
                show(s.median, &r.unit),
                show(s.p10, &r.unit),
                show(s.p90, &r.unit),
                s.n
            ),
            None => "–".into(),
        };
        let ratio = match (&r.cleave, &r.peer) {
            (Some(a), Some(b)) if b.median > 0.0 => a.median / b.median,
            _ => f64::NAN,
        };
        let target = match r.target {
            Some(t) if ratio.is_finite() => {
                format!(
                    "≤ {t:.2}× {}",
                    if ratio <= t { "met" } else { "**missed**" }
                )
            }
            Some(t) => format!("≤ {t:.2}×"),
            None => "–".into(),
        };
        let shown = if ratio.is_finite() {
            format!("{ratio:.2}×")
        } else {
            format!("failed: {}", r.error.as_deref().unwrap_or("?"))
        };
        let of = |a: &Option<Stats>, b: &Option<Stats>| match (a, b) {
            (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}×", a.median / b.median),
            _ => "–".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {shown} | {target} | {} | {} | {} |",
            r.label,
            cell(&r.cleave),
            cell(&r.peer),
            cell(&r.floor),
            of(&r.floor, &r.peer),
            of(&r.cleave, &r.floor)
        );
    }
    md.push('\n');
    md
}
