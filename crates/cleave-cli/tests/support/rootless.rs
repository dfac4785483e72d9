//! Shared by the rootless tests (tests/rootless_podman.rs, tests/rootless.rs): a real
//! unprivileged user with subordinate id ranges, and a cgroup2 directory delegated to it.
#![allow(dead_code)]
use super::clients::{run, tool, Scratch};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const USER: &str = "cleave-rootless";
/// The subordinate range given when useradd gave none (far above Debian's automatic ones).
const SUB_RANGE: &str = "1000000-1065535";

/// The user's uid, after making the user and its subordinate ranges if missing. The user
/// stays (like a package the tests install).
pub fn rootless_user() -> u32 {
    let id = |s: &Scratch| run(s, Command::new("id").args(["-u", USER]));
    let s = Scratch::new("rl-user");
    if id(&s).code != Some(0) {
        run(
            &s,
            Command::new(tool("useradd")).args([
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ]),
        )
        .ok();
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
            let opt = if file.ends_with("uid") {
                "--add-subuids"
            } else {
                "--add-subgids"
            };
            run(
                &s,
                Command::new(tool("usermod")).args([opt, SUB_RANGE, USER]),
            )
            .ok();
        }
    }
    id(&s).ok().stdout.trim().parse().expect("a numeric uid")
}

/// `chown -R USER:USER dir`.
pub fn give_to_user(dir: &Path) {
    let st = Command::new("chown")
        .args(["-R", &format!("{USER}:{USER}")])
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success(), "chown of {}", dir.display());
}

/// The mounted cgroup2 hierarchy (`/sys/fs/cgroup/unified` on a hybrid host).
pub fn cgroup2_mount() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            (right.split(' ').next()? == "cgroup2").then(|| PathBuf::from(point))
        })
        .expect("a mounted cgroup2 hierarchy (the rootless pause test needs one)")
}

/// A cgroup2 directory delegated to the user as systemd delegates `user@UID.service`
/// (cgroups(7), "Cgroups v2 delegation"): the directory, its `cgroup.procs`,
/// `cgroup.subtree_control` and `cgroup.threads` owned by the user. Removed with what is
/// below it when dropped.
pub struct Delegated {
    pub dir: PathBuf,
}

impl Delegated {
    pub fn new(name: &str) -> Delegated {
        let dir = cgroup2_mount().join(name);
        let d = Delegated { dir };
        d.remove();
        std::fs::create_dir(&d.dir).unwrap();
        rootless_user();
        let files = [
            "",
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.threads",
        ];
        let st = Command::new("chown")
            .arg(format!("{USER}:{USER}"))
            .args(files.map(|f| d.dir.join(f)))
            .status()
            .unwrap();
        assert!(st.success(), "chown of {}", d.dir.display());
        d
    }

    /// `sh -c 'echo $$ > DIR/cgroup.procs && exec "$@"' sh CMD...`: `cmd` starts inside the
    /// delegated directory (moving a process in needs write access where it comes from too,
    /// so root moves it, as systemd moves a user's session).
    pub fn wrap(&self, cmd: &Command) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs && exec \"$@\"",
                self.dir.display()
            ))
            .arg("sh")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        c
    }

    /// The directories below the delegated one, deepest first.
    pub fn below(&self) -> Vec<PathBuf> {
        fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), out);
                    out.push(e.path());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir, &mut out);
        out
    }

    fn remove(&self) {
        if !self.dir.exists() {
            return;
        }
        for d in self.below() {
            let _ = std::fs::remove_dir(d);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        self.remove();
    }
}
