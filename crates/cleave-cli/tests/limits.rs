//! Where a sandbox's limits live (issue 12): in a cgroup below the caller's own, in each
//! hierarchy where the kernel allows it, so that the sandbox stays inside the caller's
//! accounting and limits; where it does not (a cgroup2 cgroup holding processes gives its
//! children no controller), `-v` says so. Seen from inside: the program's /proc/self/cgroup.
//! runc's tests/integration/cgroups.bats checks a container's cgroup path the same way.
//! These tests need root; they fail, never skip.
#![allow(unsafe_code)]
mod support;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

/// The cgroup2 mount point and the v1 mount point of each controller, from mountinfo.
fn hierarchies() -> (Option<PathBuf>, Vec<(String, PathBuf)>) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v2 = None;
    let mut v1 = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let point = PathBuf::from(left.split(' ').nth(4).unwrap());
        let mut right = right.split(' ');
        match right.next() {
            Some("cgroup2") => {
                v2.get_or_insert(point);
            }
            Some("cgroup") => {
                let options = right.nth(1).unwrap_or("");
                for c in ["memory", "pids"] {
                    if options.split(',').any(|o| o == c) && !v1.iter().any(|(d, _)| d == c) {
                        v1.push((c.to_string(), point.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    (v2, v1)
}

fn rmdir_settled(dir: &Path) {
    for _ in 0..200 {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            _ => return,
        }
    }
}

/// Run from a cgroup of the test's own in every hierarchy the limits use, the program's
/// cgroups are below it (the cgroup2 one too, unless the limits need a cgroup2 controller,
/// which -v then explains), and nothing is left below it afterwards.
#[test]
fn the_sandboxs_cgroups_are_below_the_callers() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "the limits tests need root");
    let (v2, v1) = hierarchies();
    let name = format!("cleave-test-below-{}", std::process::id());
    let mut mine: Vec<(Option<String>, PathBuf)> = Vec::new();
    if let Some(root) = &v2 {
        mine.push((None, root.join(&name)));
    }
    for (c, mount) in &v1 {
        if !mine.iter().any(|(_, d)| d.starts_with(mount)) {
            mine.push((Some(c.clone()), mount.join(&name)));
        }
    }
    for (_, d) in &mine {
        std::fs::create_dir(d).unwrap();
    }
    // A shell moves itself into the test's cgroups, then becomes cleave.
    let join: String = mine
        .iter()
        .map(|(_, d)| format!("echo $$ > {}/cgroup.procs && ", d.display()))
        .collect();
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{join}exec {BIN} spawn -v --memory 64M --pids 64 -- cat /proc/self/cgroup"
        ))
        .output()
        .unwrap();
    let out = text(&o.stdout);
    let err = text(&o.stderr);
    let v2_controllers = v1.len() < 2;
    for (controller, dir) in &mine {
        let path = out
            .lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (id, ctls, path) = (f.next()?, f.next()?, f.next()?);
                let hit = match controller {
                    None => id == "0" && ctls.is_empty(),
                    Some(c) => ctls.split(',').any(|x| x == c),
                };
                hit.then_some(path)
            })
            .unwrap_or_else(|| panic!("no line for {dir:?}: {out} {err}"));
        if controller.is_none() && v2_controllers {
            assert!(path.starts_with("/cleave/"), "{out}");
            assert!(err.contains("not below cleave's own cgroup"), "{err}");
        } else {
            assert!(
                path.starts_with(&format!("/{name}/")),
                "{controller:?}: {path} is not below /{name}: {err}"
            );
            assert!(err.contains(&format!("{}/", dir.display())), "{err}");
        }
    }
    assert_eq!(o.status.code(), Some(0), "{err}");
    // Nothing left below the test's cgroups; then they go.
    for (_, d) in &mine {
        let left: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "{left:?}");
        rmdir_settled(d);
    }
}
