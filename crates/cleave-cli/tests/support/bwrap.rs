//! What the bwrap tests share: running one command line through `cleave bwrap`, a link
//! named `bwrap` and bubblewrap itself, and the probe whose output they compare.
#![allow(dead_code)]
use super::support::{text, BIN, NOBODY};
use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BWRAP: &str = "/usr/bin/bwrap";

pub fn ready() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let have = Path::new(BWRAP).exists();
    if root && have {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the bwrap tests need root and bubblewrap (apt-get install bubblewrap; CI=true: no skipping)"
    );
    eprintln!("skipped: needs root and {BWRAP}");
    false
}

/// A directory of this test's under /var/tmp, readable by everyone, with a link named
/// `bwrap` to the cleave binary.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(format!(
        "/var/tmp/cleave-bwrap-t/{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("work")).unwrap();
    for d in [
        dir.parent().unwrap(),
        &dir,
        &dir.join("bin"),
        &dir.join("work"),
    ] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    symlink(BIN, dir.join("bin/bwrap")).unwrap();
    dir
}

#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// `cleave bwrap ...`
    Verb,
    /// cleave run as `bwrap`.
    Link,
    /// bubblewrap itself.
    Real,
}

pub const ALL: [Via; 3] = [Via::Verb, Via::Link, Via::Real];

/// Runs `argv` through `via`, as root or as nobody, from "/" with a fixed environment;
/// `fds` are shell redirections (`9<FILE`) made for the run.
pub fn run(dir: &Path, via: Via, nobody: bool, fds: &str, argv: &[String]) -> Output {
    command(dir, via, nobody, fds, argv)
        .output()
        .expect("run the sandbox")
}

/// The command [`run`] runs, to be started by the caller.
pub fn command(dir: &Path, via: Via, nobody: bool, fds: &str, argv: &[String]) -> Command {
    let mut cmd = Command::new(if nobody { "setpriv" } else { "sh" });
    if nobody {
        cmd.args(NOBODY).arg("sh");
    }
    cmd.arg("-c").arg(format!("exec \"$@\" {fds}")).arg("sh");
    match via {
        Via::Verb => cmd.arg(BIN).arg("bwrap"),
        Via::Link => cmd.arg(dir.join("bin/bwrap")),
        Via::Real => cmd.arg(BWRAP),
    };
    cmd.args(argv)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", "/")
        .env("LANG", "C.UTF-8")
        .env("FOO", "outside");
    cmd
}

/// What the probe prints, section by section.
pub const PROBE: &str = r#"
echo '== mounts'; cat /proc/self/mountinfo
echo '== maps'; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups 2>&1
echo '== ids'; id -u; id -g; id -G
echo '== hostname'; cat /proc/sys/kernel/hostname
echo '== ns'; for n in cgroup ipc mnt net pid user uts; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo '== env'; env | LC_ALL=C sort
echo '== status'; grep -E '^(Cap|NoNewPrivs)' /proc/self/status
echo '== cwd'; pwd -P
echo '== pid'; echo $$
echo '== fds'; ls /proc/self/fd | LC_ALL=C sort -n | tr '\n' ' '; echo
"#;

/// The probe's output with what legitimately differs between two runs taken out: mount ids,
/// devices and sources, namespace inodes (each becomes "host" or "new"), a pid outside a
/// new PID namespace, and the outside column of the id maps. That column is the id in the
/// parent user namespace, and both put the program in a nested one for reasons of their
/// own: bubblewrap maps the caller to 0 first when it mounts a devpts, cleave locks its
/// mounts in a nested namespace when the program may hold CAP_SYS_ADMIN. The inside ids,
/// the counts and what the program runs as (`ids`) are compared as they are.
pub fn view(out: &Output) -> BTreeMap<String, Vec<String>> {
    assert!(
        out.status.success(),
        "the probe failed ({:?}): {}",
        out.status,
        text(&out.stderr)
    );
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text(&out.stdout).lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = name.to_string();
            continue;
        }
        let line = match current.as_str() {
            "mounts" => match mount_line(line) {
                Some(l) => l,
                None => continue,
            },
            "ns" => {
                let (name, link) = line.split_once(' ').unwrap_or((line, ""));
                let host = std::fs::read_link(format!("/proc/self/ns/{name}"))
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{name} {}", if link == host { "host" } else { "new" })
            }
            "maps" => {
                let f: Vec<&str> = line.split_whitespace().collect();
                match f[..] {
                    [inside, _outside, count] => format!("{inside} {count}"),
                    _ => line.to_string(),
                }
            }
            "pid" => match line.trim().parse::<u32>() {
                Ok(n) if n <= 2 => n.to_string(),
                _ => "a pid of the caller's namespace".into(),
            },
            _ => line.to_string(),
        };
        sections.entry(current.clone()).or_default().push(line);
    }
    sections
}

/// A mountinfo line as "MOUNTPOINT ROOT FSTYPE ro|rw". Left out, as differences by design:
/// what cleave mounts over /proc's dangerous files (it masks more than bubblewrap) and
/// /dev/shm (a tmpfs in cleave's /dev, a directory in bubblewrap's); the root's source.
pub fn mount_line(line: &str) -> Option<String> {
    let f: Vec<&str> = line.split(' ').collect();
    let (root, point, opts) = (f.get(3)?, f.get(4)?, f.get(5)?);
    let dash = f.iter().position(|x| *x == "-")?;
    let fstype = f.get(dash + 1)?;
    if point.starts_with("/proc/") || *point == "/dev/shm" {
        return None;
    }
    let ro = if opts.split(',').any(|o| o == "ro") {
        "ro"
    } else {
        "rw"
    };
    if *point == "/" {
        return Some(format!("/ {fstype} {ro}"));
    }
    // A --bind-data file lives on a private tmpfs, under a name of each tool's choosing.
    let root = if *fstype == "tmpfs" && *root != "/" {
        "(a private file)"
    } else {
        root
    };
    Some(format!("{point} {root} {fstype} {ro}"))
}

/// Runs the same argv through the three and checks the views agree.
pub fn same_view(name: &str, nobody: bool, fds: &str, argv: &[String]) {
    let dir = scratch(name);
    let views: Vec<_> = ALL
        .iter()
        .map(|via| (via, view(&run(&dir, *via, nobody, fds, argv))))
        .collect();
    let real = &views[2].1;
    for (via, v) in &views[..2] {
        for (section, lines) in real {
            assert_eq!(
                v.get(section),
                Some(lines),
                "{name} ({}): `{section}` differs through {via:?} from bubblewrap's",
                if nobody { "uid 65534" } else { "root" }
            );
        }
        assert_eq!(v.len(), real.len(), "{name}: sections differ");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

pub fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| w.to_string()).collect()
}

/// The usual start of a sandbox built from nothing: /usr and the merged-/usr links.
pub const USR: &[&str] = &[
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/sbin",
    "/sbin",
];

/// A sandbox started by bubblewrap, `sleep` as PID 1 of a new user and PID namespace, and
/// its pid (from --info-fd); killed when dropped. (Without --as-pid-1 the pid reported is
/// bubblewrap's init, whose user namespace maps only 0 when it is not root.)
pub struct Target {
    child: std::process::Child,
    pub pid: i64,
}

impl Target {
    pub fn start(dir: &Path, nobody: bool) -> Target {
        Target::running(dir, nobody, "--as-pid-1 sleep 60")
    }

    /// The same with other options and program: the pid reported is that of bubblewrap's
    /// init or of the program, and it or a child of it must end up running `sleep`.
    pub fn running(dir: &Path, nobody: bool, program: &str) -> Target {
        let info = dir.join(format!("target-info-{nobody}"));
        let mut cmd = Command::new(if nobody { "setpriv" } else { "sh" });
        if nobody {
            cmd.args(NOBODY).arg("sh");
        }
        let mut child = cmd
            .arg("-c")
            .arg(format!(
                "exec {BWRAP} --unshare-user --unshare-pid --die-with-parent --ro-bind / / --info-fd 6 {program} 6>{}",
                info.display()
            ))
            .spawn()
            .expect("start bubblewrap");
        // Waits for the info (written once the sandbox exists) and the exec; no timing is
        // asserted.
        for _ in 0..600 {
            if let Some(pid) = std::fs::read_to_string(&info)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["child-pid"].as_i64())
            {
                // Once it runs sleep, its set-up (a nested user namespace) is over.
                let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                    .unwrap_or_default();
                let sleeps = |p: &str| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .is_ok_and(|c| c.trim() == "sleep")
                };
                if sleeps(&pid.to_string()) || children.split_whitespace().any(sleeps) {
                    return Target { child, pid };
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("bubblewrap wrote no info");
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
