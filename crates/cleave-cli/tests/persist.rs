//! unshare's persistent namespaces and --root (issue 12): `cleave spawn --persist-ns NS=FILE`
//! binds a new namespace on FILE, where it outlives its processes; `cleave enter --ns-file`
//! joins it later and sees the same hostname and mounts; `umount FILE` lets it go. This
//! mirrors util-linux's tests/ts/unshare (persistent namespaces via --mount=FILE and
//! nsenter --mount=FILE). These tests need root; they fail, never skip.
#![allow(unsafe_code)]
mod support;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "the persist tests need root");
}

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}

/// A directory bound on itself with the propagation given (`private` or `shared`),
/// unmounted and removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str, propagation: &str) -> Dir {
        let d = PathBuf::from(format!(
            "/var/tmp/cleave-persist-{tag}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.display();
        sh(&format!(
            "mount --bind {p} {p} && mount --make-{propagation} {p}"
        ));
        Dir(d)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        for e in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let _ = Command::new("umount")
                .arg(e.path())
                .stderr(std::process::Stdio::null())
                .status();
            let _ = std::fs::remove_file(e.path());
        }
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn mounted(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path))
}

#[test]
fn a_persisted_namespace_is_joined_afterwards_until_umount() {
    require_root();
    let d = Dir::new("ok", "private");
    let (uts, mnt) = (d.file("uts"), d.file("mnt"));
    let o = cleave(&[
        "spawn",
        "-v",
        "--new",
        "uts,mount",
        "--hostname",
        "persisted",
        "--tmpfs",
        "/mnt",
        "--persist-ns",
        &format!("uts={uts}"),
        "--persist-ns",
        &format!("mount={mnt}"),
        "--",
        "sh",
        "-c",
        "echo made-inside > /mnt/marker",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains(&format!("until `umount {uts}`")));
    assert!(mounted(&uts) && mounted(&mnt));
    // The sandbox's processes are gone; its namespaces are not.
    let o = cleave(&[
        "enter",
        "--ns-file",
        &format!("uts={uts}"),
        "--ns-file",
        &format!("mount={mnt}"),
        "--",
        "sh",
        "-c",
        "hostname; cat /mnt/marker",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "persisted\nmade-inside\n");
    // umount lets them go: the files are plain files again, which enter refuses.
    sh(&format!("umount {uts} {mnt}"));
    assert!(!mounted(&uts) && !mounted(&mnt));
    let o = cleave(&["enter", "--ns-file", &format!("uts={uts}"), "--", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not a uts namespace"),
        "{}",
        text(&o.stderr)
    );
}

/// On a shared mount the kernel refuses a mount namespace's file (it would propagate into
/// that namespace): the error says how to fix it, and the file cleave made is gone again.
#[test]
fn a_mount_namespace_on_a_shared_mount_is_refused_with_the_fix() {
    require_root();
    let d = Dir::new("shared", "shared");
    let mnt = d.file("mnt");
    let o = cleave(&[
        "spawn",
        "--new",
        "mount",
        "--persist-ns",
        &format!("mount={mnt}"),
        "--",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(126), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("mount --make-private"),
        "{}",
        text(&o.stderr)
    );
    assert!(!Path::new(&mnt).exists() && !mounted(&mnt));
    // A namespace the sandbox does not make new is refused before anything exists.
    let o = cleave(&[
        "spawn",
        "--new",
        "uts",
        "--persist-ns",
        &format!("net={mnt}"),
        "--",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(!Path::new(&mnt).exists());
}

/// `--root DIR` (unshare -R) gives the program DIR as its root and keeps its privileges,
/// where `--rootfs DIR` (a sandbox) drops them.
#[test]
fn root_is_unshares_chroot_without_the_sandbox() {
    require_root();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("persist-root");
    support::mkrootfs(&dir);
    std::fs::write(dir.join("etc/which-root"), "the-new-root\n").unwrap();
    let mine = std::fs::read_to_string("/proc/self/status").unwrap();
    let cap_eff = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("CapEff:"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let probe = "cat /etc/which-root; grep CapEff: /proc/self/status";
    let d = dir.to_str().unwrap();
    let o = cleave(&[
        "spawn",
        "--root",
        d,
        "--new",
        "pid",
        "--mount-proc",
        "--",
        "sh",
        "-c",
        probe,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("the-new-root\n"), "{out}");
    assert_eq!(cap_eff(&out), cap_eff(&mine), "{out}");
    let o = cleave(&[
        "spawn",
        "--rootfs",
        d,
        "--new",
        "pid",
        "--mount-proc",
        "--",
        "sh",
        "-c",
        probe,
    ]);
    assert_eq!(cap_eff(&text(&o.stdout)), "0000000000000000");
}
