//! The in-process benchmarks: cleave's Task, Fork and Command next to raw C (through FFI)
//! and Rust std, each row timed by [`crate::harness::measure_group`].
use crate::harness::{case, measure_group, Budget, Row};
use cleave::{CloneFlags, Command, Fork, Task};
use std::ffi::{c_char, CString};
use std::os::fd::{AsRawFd, OwnedFd};

extern "C" {
    fn c_clone_vm_once() -> i32;
    fn c_pthread_once() -> i32;
    fn c_fork_once() -> i32;
    fn c_vfork_once() -> i32;
    fn c_posix_spawn_once(path: *const c_char) -> i32;
    fn c_clone3_once(flags: u64, cgroup_fd: i32) -> i32;
    fn c_clone3_pidfd_once() -> i32;
    fn c_fork_cgroup_procs_once(procs_fd: i32) -> i32;
}

fn c_result(r: i32) -> Result<(), String> {
    match r {
        0 => Ok(()),
        -1000 => Err("the child did not exit with status 0".into()),
        e => Err(std::io::Error::from_raw_os_error(-e).to_string()),
    }
}

fn exited_ok(status: cleave::Result<cleave::ExitStatus>) -> Result<(), String> {
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("child ended with {s}")),
        Err(e) => Err(e.to_string()),
    }
}

fn fork_with(flags: CloneFlags) -> Result<(), String> {
    let mut child = Fork::new()
        .flags(flags)
        .spawn(|| 0)
        .map_err(|e| e.to_string())?;
    exited_ok(child.wait())
}

/// Every namespace flag, by the name `cleave spawn --new` uses.
pub const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::NEWUSER),
    ("pid", CloneFlags::NEWPID),
    ("mount", CloneFlags::NEWNS),
    ("uts", CloneFlags::NEWUTS),
    ("ipc", CloneFlags::NEWIPC),
    ("net", CloneFlags::NEWNET),
    ("cgroup", CloneFlags::NEWCGROUP),
    ("time", CloneFlags::NEWTIME),
];

/// One row per namespace flag alone (with `base` added) and one with all of them.
pub fn namespaces(budget: Budget, section: &str, base: CloneFlags) -> Vec<Row> {
    let mut rows = Vec::new();
    let all = NAMESPACES
        .iter()
        .fold(CloneFlags::empty(), |acc, (_, f)| acc | *f);
    let mut cases: Vec<(String, CloneFlags)> = NAMESPACES
        .iter()
        .map(|(name, f)| {
            let label = if base.is_empty() || *f == base {
                name.to_string()
            } else {
                format!("user+{name}")
            };
            (label, *f | base)
        })
        .collect();
    cases.push(("all".into(), all | base));
    for (name, flags) in cases {
        rows.extend(measure_group(
            budget,
            vec![
                case(
                    section,
                    &name,
                    "cleave",
                    "cleave Fork::spawn + wait",
                    move || fork_with(flags),
                ),
                case(section, &name, "c", "C clone3 + waitpid", move || {
                    // SAFETY: the C function creates a fork-style child that exits at once.
                    c_result(unsafe { c_clone3_once(flags.bits(), -1) })
                }),
            ],
        ));
    }
    rows
}

/// A temporary cgroup2 directory, removed on drop.
struct TempCgroup {
    path: std::path::PathBuf,
    dir: OwnedFd,
    procs: OwnedFd,
}

impl TempCgroup {
    fn new() -> Result<TempCgroup, String> {
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let root = mountinfo
            .lines()
            .find_map(|l| {
                let (pre, post) = l.split_once(" - ")?;
                (post.split_whitespace().next() == Some("cgroup2"))
                    .then(|| pre.split_whitespace().nth(4).map(str::to_owned))?
            })
            .ok_or("no cgroup2 mount found")?;
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
            })
            .unwrap_or_else(|| "/".into());
        let path = std::path::Path::new(&root)
            .join(own.trim_start_matches('/'))
            .join(format!("cleave-bench.{}", std::process::id()));
        std::fs::create_dir(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        let open = |p: &std::path::Path, write: bool| {
            std::fs::OpenOptions::new()
                .read(!write)
                .write(write)
                .open(p)
                .map(OwnedFd::from)
                .map_err(|e| format!("open {}: {e}", p.display()))
        };
        let dir = open(&path, false);
        let procs = open(&path.join("cgroup.procs"), true);
        match (dir, procs) {
            (Ok(dir), Ok(procs)) => Ok(TempCgroup { path, dir, procs }),
            (Err(e), _) | (_, Err(e)) => {
                let _ = std::fs::remove_dir(&path);
                Err(e)
            }
        }
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Every in-process row, as root. Fork-like rows run first, while the process has never had
/// a second thread (see the harness's note); the thread rows run last.
pub fn all(budget: Budget) -> Vec<Row> {
    let mut rows = Vec::new();
    let fl = "create+wait";

    rows.extend(measure_group(
        budget,
        vec![
            case("fork", fl, "cleave", "cleave Fork::spawn + wait", || {
                fork_with(CloneFlags::empty())
            }),
            case("fork", fl, "c", "C fork + waitpid", || {
                // SAFETY: the C child calls _exit at once.
                c_result(unsafe { c_fork_once() })
            }),
            case("fork", fl, "c", "C vfork + waitpid", || {
                // SAFETY: the C child calls _exit at once.
                c_result(unsafe { c_vfork_once() })
            }),
        ],
    ));

    let sp = "/bin/true";
    let path = CString::new(sp).expect("no NUL");
    rows.extend(measure_group(
        budget,
        vec![
            case("spawn", sp, "cleave", "cleave Command::status", || {
                exited_ok(Command::new(sp).status())
            }),
            case(
                "spawn",
                sp,
                "rust",
                "Rust std::process::Command::status",
                || match std::process::Command::new(sp).status() {
                    Ok(s) if s.success() => Ok(()),
                    Ok(s) => Err(format!("{s}")),
                    Err(e) => Err(e.to_string()),
                },
            ),
            case("spawn", sp, "c", "C posix_spawn + waitpid", || {
                // SAFETY: a valid NUL-terminated path.
                c_result(unsafe { c_posix_spawn_once(path.as_ptr()) })
            }),
        ],
    ));

    rows.extend(measure_group(
        budget,
        vec![
            case(
                "pidfd",
                fl,
                "cleave",
                "cleave Fork PIDFD + wait on the pidfd",
                || fork_with(CloneFlags::PIDFD),
            ),
            case(
                "pidfd",
                fl,
                "c",
                "C clone3(CLONE_PIDFD) + waitid(P_PIDFD)",
                || {
                    // SAFETY: the C child exits at once.
                    c_result(unsafe { c_clone3_pidfd_once() })
                },
            ),
        ],
    ));

    match TempCgroup::new() {
        Ok(cg) => rows.extend(measure_group(
            budget,
            vec![
                case(
                    "cgroup",
                    fl,
                    "cleave",
                    "cleave Fork into_cgroup (CLONE_INTO_CGROUP)",
                    || {
                        let mut fork = Fork::new();
                        fork.into_cgroup(&cg.dir).map_err(|e| e.to_string())?;
                        let mut child = fork.spawn(|| 0).map_err(|e| e.to_string())?;
                        exited_ok(child.wait())
                    },
                ),
                case("cgroup", fl, "c", "C clone3(CLONE_INTO_CGROUP)", || {
                    // SAFETY: the C child exits at once; the fd is a live cgroup2 directory.
                    c_result(unsafe { c_clone3_once(0, cg.dir.as_raw_fd()) })
                }),
                case(
                    "cgroup",
                    fl,
                    "c",
                    "C fork + child writes cgroup.procs",
                    || {
                        // SAFETY: the C child writes to a live fd and exits.
                        c_result(unsafe { c_fork_cgroup_procs_once(cg.procs.as_raw_fd()) })
                    },
                ),
            ],
        )),
        Err(e) => {
            for who in ["cleave", "c", "c"] {
                rows.push(failed("cgroup", fl, who, "temporary cgroup2 directory", &e));
            }
        }
    }

    rows.extend(namespaces(budget, "ns-root", CloneFlags::empty()));

    let tj = "create+join";
    rows.extend(measure_group(
        budget,
        vec![
            case(
                "thread",
                tj,
                "cleave",
                "cleave Task(VM|FS|FILES|SIGHAND) spawn + join",
                || {
                    let mut task = Task::new();
                    task.flags(CloneFlags::FS | CloneFlags::FILES | CloneFlags::SIGHAND);
                    // SAFETY: the body touches nothing.
                    let mut handle = unsafe { task.spawn(|| 0) }.map_err(|e| e.to_string())?;
                    exited_ok(handle.join())
                },
            ),
            case(
                "thread",
                tj,
                "c",
                "C clone(VM|FS|FILES|SIGHAND) + waitpid",
                || {
                    // SAFETY: the C child runs on a static stack and returns at once.
                    c_result(unsafe { c_clone_vm_once() })
                },
            ),
            case("thread", tj, "c", "C pthread_create + pthread_join", || {
                // SAFETY: an empty thread body.
                c_result(unsafe { c_pthread_once() })
            }),
            case(
                "thread",
                tj,
                "rust",
                "Rust std::thread::spawn + join",
                || {
                    std::thread::spawn(|| 0)
                        .join()
                        .map(|_| ())
                        .map_err(|_| "panicked".to_string())
                },
            ),
        ],
    ));
    rows.extend(measure_group(
        budget,
        vec![case(
            "fork",
            fl,
            "cleave",
            "cleave Fork::spawn + wait, after threads existed",
            || fork_with(CloneFlags::empty()),
        )],
    ));
    rows
}

/// A row that could not be measured.
pub fn failed(section: &str, case: &str, who: &str, label: &str, error: &str) -> Row {
    Row {
        section: section.into(),
        case: case.into(),
        who: who.into(),
        label: label.into(),
        median_ns: 0.0,
        p10_ns: 0.0,
        p90_ns: 0.0,
        iters: 0,
        error: Some(error.into()),
    }
}
