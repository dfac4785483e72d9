//! The C floors of the OCI rows (bench/c/floor_oci.c, floor_pause.c) as samplers for
//! [`crate::oci`]: each call runs the floor program once (twice for pause + resume) and
//! gives its nanoseconds, timed as the runtimes are.
use crate::oci::timed;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The C floor of `run` (bench/c/floor_oci.c) on the bundle's rootfs, a new id each time:
/// nanoseconds.
pub fn run_sample(
    floor: &Path,
    roots: &Path,
    bundle: &Path,
    tag: u32,
) -> Result<impl FnMut(usize) -> Result<f64, String>, String> {
    let text = std::fs::read_to_string(bundle.join("config.json")).map_err(|e| e.to_string())?;
    let c: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let root = c["root"]["path"].as_str().unwrap_or("rootfs");
    let rootfs = bundle.join(root);
    let (floor, roots, bundle) = (
        floor.to_path_buf(),
        roots.to_path_buf(),
        bundle.to_path_buf(),
    );
    Ok(move |i| {
        let mut c = Command::new(&floor);
        c.arg(&roots)
            .arg(&bundle)
            .arg(&rootfs)
            .arg(format!("cb-floor-{tag}-{i}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        timed(&mut c).map(|(t, _)| t)
    })
}

/// The C floor of `pause` + `resume` (bench/c/floor_pause.c), on cleave's container whose
/// state directory is `dir` (its cgroup2 directory read from the record): nanoseconds of
/// both calls.
pub fn pause_sample(
    floor: &Path,
    dir: &Path,
) -> Result<impl FnMut(usize) -> Result<f64, String>, String> {
    let text = std::fs::read_to_string(dir.join("state.json")).map_err(|e| e.to_string())?;
    let rec: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let cgroup = rec["cgroup_dirs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str())
        .map(PathBuf::from)
        .find(|d| d.join("cgroup.freeze").exists())
        .ok_or("the floor of pause: the container has no cgroup2 directory")?;
    let (floor, dir) = (floor.to_path_buf(), dir.to_path_buf());
    Ok(move |_| {
        let mut total = 0.0;
        for v in ["1", "0"] {
            let mut c = Command::new(&floor);
            c.arg(&dir)
                .arg(&cgroup)
                .arg(v)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            total += timed(&mut c)?.0;
        }
        Ok(total)
    })
}
