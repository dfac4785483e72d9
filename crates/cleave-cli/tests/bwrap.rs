//! bubblewrap's command line (issue 12): typical flatpak and build-tool invocations run
//! through `cleave bwrap`, through the binary under the name `bwrap` (a symlink), and through
//! the real bubblewrap (/usr/bin/bwrap, Debian's 0.8), as root and as uid 65534; what the
//! program sees inside (mounts, id maps, ids, hostname, namespaces, environment,
//! capabilities, no_new_privs, working directory, pid, open descriptors) must be the same.
//! The invocations mirror bubblewrap's own tests/test-run.sh (--unshare-all, --as-pid-1,
//! --info-fd/--json-status-fd, --cap-add/--cap-drop, --setenv/--unsetenv/--clearenv) and
//! the command lines flatpak (common/flatpak-run.c) and build tools give it.
//! Needs root and bubblewrap; with CI=true a missing one is a failure, not a skip. The
//! descriptor options and lifetime are in bwrap_fds.rs.
#[path = "support/bwrap.rs"]
mod common;
mod support;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use support::text;

/// flatpak's shape: most options come through `--args FD` (NUL-separated), the program on
/// the command line.
fn flatpak(nobody: bool) {
    let dir = scratch(if nobody {
        "flatpak-args-n"
    } else {
        "flatpak-args-r"
    });
    let mut opts = words(USR);
    opts.extend(words(&[
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--hostname",
        "app",
        "--die-with-parent",
        "--ro-bind",
        "/etc",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--dir",
        "/run/user/app",
        "--setenv",
        "XDG_RUNTIME_DIR",
        "/run/user/app",
        "--unsetenv",
        "LANG",
        "--setenv",
        "FOO",
        "inside",
        "--chdir",
        "/tmp",
    ]));
    let file = dir.join("args");
    std::fs::write(&file, opts.join("\0") + "\0").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut argv = words(&["--args", "9", "--", "/bin/sh", "-c"]);
    argv.push(PROBE.into());
    // fd 8 is the caller's and passes to the program, as in bubblewrap.
    same_view(
        if nobody { "flatpak-n" } else { "flatpak-r" },
        nobody,
        &format!("9<{} 8</dev/null", file.display()),
        &argv,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flatpak_style_as_root() {
    if ready() {
        flatpak(false);
    }
}

#[test]
fn flatpak_style_as_nobody() {
    if ready() {
        flatpak(true);
    }
}

/// A build tool's shape: the system read-only, a work tree writable, no network, a clean
/// environment.
fn build_tool(nobody: bool) {
    let work = format!(
        "/var/tmp/cleave-bwrap-t/work-{}-{}",
        if nobody { "n" } else { "r" },
        std::process::id()
    );
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut argv = words(USR);
    argv.extend(words(&[
        "--ro-bind",
        "/etc",
        "/etc",
        "--bind",
        &work,
        &work,
        "--chdir",
        &work,
        "--unshare-net",
        "--unshare-pid",
        "--unshare-user",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        &work,
        "--new-session",
        "/bin/sh",
        "-c",
    ]));
    argv.push(PROBE.into());
    same_view(
        if nobody { "build-n" } else { "build-r" },
        nobody,
        "",
        &argv,
    );
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn build_tool_style_as_root() {
    if ready() {
        build_tool(false);
    }
}

#[test]
fn build_tool_style_as_nobody() {
    if ready() {
        build_tool(true);
    }
}

/// --unshare-all with the network kept, other ids inside, PID 1 the program itself.
fn unshare_all(nobody: bool) {
    let mut argv = words(USR);
    argv.extend(words(&[
        "--unshare-all",
        "--share-net",
        "--unshare-user",
        "--uid",
        "1234",
        "--gid",
        "4321",
        "--hostname",
        "h",
        "--proc",
        "/proc",
        "--as-pid-1",
        "--",
        "/bin/sh",
        "-c",
    ]));
    argv.push(PROBE.into());
    same_view(if nobody { "all-n" } else { "all-r" }, nobody, "", &argv);
}

#[test]
fn unshare_all_with_ids_as_root() {
    if ready() {
        unshare_all(false);
    }
}

#[test]
fn unshare_all_with_ids_as_nobody() {
    if ready() {
        unshare_all(true);
    }
}

/// Root keeps its capabilities less --cap-drop plus --cap-add; anyone else gets only
/// --cap-add (bubblewrap's tests/test-run.sh "capabilities").
#[test]
fn capabilities_as_bubblewrap_gives_them() {
    if !ready() {
        return;
    }
    for (nobody, caps) in [
        (false, &["--cap-drop", "ALL", "--cap-add", "CAP_CHOWN"][..]),
        (false, &["--cap-drop", "CAP_SYS_ADMIN"][..]),
        (true, &["--cap-add", "CAP_NET_RAW"][..]),
    ] {
        let mut argv = words(USR);
        argv.extend(words(caps));
        argv.extend(words(&[
            "--unshare-pid",
            "--proc",
            "/proc",
            "--",
            "/bin/sh",
            "-c",
        ]));
        argv.push(PROBE.into());
        same_view("caps", nobody, "", &argv);
    }
}

/// The file operations: --file, --bind-data, --ro-bind-data, --bind-fd, --ro-bind-fd,
/// --mqueue, --dir, --chmod, with --perms and --size, and --dev-bind of one node: modes,
/// owners, contents, what is writable, mounts and the descriptors left (bubblewrap's
/// tests/test-run.sh "--file", "--bind-data", "--perms", "--size", "--chmod").
fn file_ops(nobody: bool) {
    let dir = scratch(if nobody { "files-n" } else { "files-r" });
    let data = dir.join("data");
    std::fs::write(&data, "hello\n").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
    let tree = dir.join("work");
    let mut argv = words(USR);
    argv.extend(words(&[
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "0700",
        "--size",
        "1048576",
        "--tmpfs",
        "/tmp",
        "--file",
        "5",
        "/tmp/f",
        "--perms",
        "0640",
        "--bind-data",
        "6",
        "/bd",
        "--ro-bind-data",
        "7",
        "/rbd",
        "--bind-fd",
        "8",
        "/bfd",
        "--ro-bind-fd",
        "9",
        "/rbfd",
        "--unshare-ipc",
        "--mqueue",
        "/dev/mqueue",
        "--perms",
        "0751",
        "--dir",
        "/d",
        "--chmod",
        "0700",
        "/d",
        "--dev-bind",
        "/dev/null",
        "/nul",
        "--",
        "/bin/sh",
        "-c",
    ]));
    argv.push(format!(
        "{PROBE}\necho '== files'; stat -c '%A %u %g %s %n' /bd /rbd /tmp/f /d /tmp /dev/mqueue /nul; \
         cat /tmp/f /bd /rbd; (echo x > /bd) 2>&1; (echo x > /rbd) 2>&1; (touch /rbfd/z) 2>&1; \
         touch /bfd/z && echo bfd-writable; rm -f /bfd/z; echo z > /nul && echo nul-works"
    ));
    let d = data.display();
    let t = tree.display();
    let fds = format!("5<{d} 6<{d} 7<{d} 8<{t} 9<{t}");
    same_view(
        if nobody { "file-ops-n" } else { "file-ops-r" },
        nobody,
        &fds,
        &argv,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_operations_as_root() {
    if ready() {
        file_ops(false);
    }
}

#[test]
fn file_operations_as_nobody() {
    if ready() {
        file_ops(true);
    }
}

/// --overlay-src with --overlay, --tmp-overlay and --ro-overlay (bubblewrap 0.8 has no
/// overlays to compare with, so what the program sees is asserted; bubblewrap's later
/// tests/test-run.sh "overlay" checks the same three behaviours): layers merged, writes
/// going to the upper directory, discarded, or refused.
#[test]
fn overlays() {
    if !ready() {
        return;
    }
    let dir = scratch("overlay");
    let (low1, low2, upper, work) = (
        dir.join("low1"),
        dir.join("low2"),
        dir.join("upper"),
        dir.join("ovl-work"),
    );
    for d in [&low1, &low2, &upper, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(low1.join("a"), "1").unwrap();
    std::fs::write(low2.join("b"), "2").unwrap();
    let s = |p: &PathBuf| p.display().to_string();
    for via in [Via::Verb, Via::Link] {
        let mut argv = words(USR);
        argv.extend(words(&[
            "--overlay-src", &s(&low1), "--overlay", &s(&upper), &s(&work), "/rw",
            "--overlay-src", &s(&low1), "--tmp-overlay", "/tmp-ovl", "--overlay-src", &s(&low1),
            "--overlay-src", &s(&low2), "--ro-overlay", "/ro", "/bin/sh", "-c",
            "cat /rw/a /ro/a /ro/b; echo; echo w > /rw/new && echo rw-ok; \
             echo t > /tmp-ovl/new && cat /tmp-ovl/new; (echo r > /ro/new) 2>/dev/null || echo ro-refused",
        ]));
        let out = run(&dir, via, false, "", &argv);
        assert!(out.status.success(), "{via:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "112\nrw-ok\nt\nro-refused\n", "{via:?}");
        // Writes reached the upper directory only; the lower layers are untouched.
        assert_eq!(std::fs::read_to_string(upper.join("new")).unwrap(), "w\n");
        std::fs::remove_file(upper.join("new")).unwrap();
        let mut low: Vec<_> = std::fs::read_dir(&low1)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        low.sort();
        assert_eq!(low, ["a"], "{via:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bind on "/" over a root the sandbox built first (bubblewrap's tmpfs root under
/// `--ro-bind / /`, an explicit `--tmpfs /`, a `--dir` made in it first, a `-try` bind,
/// a second tmpfs on "/") leaves the program's root the mount namespace's root: the kernel
/// refuses new user namespaces to a chrooted process, and bubblewrap's programs can make
/// them. Before the fix the old root stayed stacked above the program's root (unshare -U
/// failed with EPERM, and `cleave spawn` failed at its own mount lock). util-linux's
/// unshare(1) is the probe, as in bubblewrap's tests/test-run.sh nested-sandbox cases.
#[test]
fn a_root_built_in_layers_is_no_chroot() {
    if !ready() {
        return;
    }
    let dir = scratch("layers");
    let probe = "unshare -U true && echo userns; test -d /etc && echo etc; \
                 grep -q . /proc/self/mountinfo && echo proc";
    let layouts: [&[&str]; 5] = [
        &["--tmpfs", "/", "--ro-bind", "/", "/", "--proc", "/proc"],
        &["--dir", "/x", "--ro-bind", "/", "/", "--proc", "/proc"],
        &["--ro-bind-try", "/", "/", "--proc", "/proc"],
        &["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--proc", "/proc"],
        &[
            "--tmpfs",
            "/",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--dir",
            "/etc",
            "--proc",
            "/proc",
        ],
    ];
    for layout in layouts {
        for nobody in [false, true] {
            let mut argv = words(&["--unshare-pid"]);
            argv.extend(words(layout));
            argv.extend(words(&["sh", "-c", probe]));
            let outs: Vec<String> = ALL
                .iter()
                .map(|via| {
                    let o = run(&dir, *via, nobody, "", &argv);
                    text(&o.stdout) + &text(&o.stderr)
                })
                .collect();
            assert_eq!(
                outs[2], "userns\netc\nproc\n",
                "bubblewrap's own view of {layout:?} (nobody: {nobody})"
            );
            assert_eq!(
                outs[0], outs[2],
                "cleave bwrap {layout:?} (nobody: {nobody})"
            );
            assert_eq!(
                outs[1], outs[2],
                "the bwrap link, {layout:?} (nobody: {nobody})"
            );
        }
    }
    // The same layouts through cleave spawn, where the mount lock (a nested user
    // namespace) is the first to need it.
    for layout in [
        &["--tmpfs", "/", "--ro-bind", "/", "/"][..],
        &["--ro-bind", "/", "/", "--tmpfs", "/", "--ro-bind", "/", "/"][..],
    ] {
        let mut args = vec!["spawn", "--new", "user,mount,pid"];
        args.extend(layout);
        args.extend(["--proc", "/proc", "--", "sh", "-c", probe]);
        for out in [support::cleave(&args), support::nobody(&args)] {
            assert_eq!(
                text(&out.stdout) + &text(&out.stderr),
                "userns\netc\nproc\n",
                "cleave {args:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The host's "/" bound below a root the sandbox built (`--ro-bind / /host` over bubblewrap's
/// tmpfs root, as toolbox-like wrappers do): the copy is the host's root, not the sandbox's
/// own, which a recursive copy of "/" also carries (it is stacked there).
#[test]
fn the_hosts_root_bound_below_a_built_root_is_the_hosts() {
    if !ready() {
        return;
    }
    let dir = scratch("host-root");
    // What the host's / holds that the sandbox's own root does not.
    let mut host: Vec<String> = std::fs::read_dir("/")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host.sort();
    let probe = "ls -a /host | tr '\\n' ' '; echo; touch /host/x 2>/dev/null || echo ro; \
                 unshare -U true && echo userns";
    for tmpfs_first in [false, true] {
        for nobody in [false, true] {
            let mut argv = words(&["--unshare-all"]);
            if tmpfs_first {
                argv.extend(words(&["--tmpfs", "/"]));
            }
            argv.extend(words(&[
                "--ro-bind",
                "/usr",
                "/usr",
                "--symlink",
                "usr/bin",
                "/bin",
                "--symlink",
                "usr/lib",
                "/lib",
                "--symlink",
                "usr/lib64",
                "/lib64",
                "--ro-bind",
                "/",
                "/host",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "sh",
                "-c",
                probe,
            ]));
            let outs: Vec<String> = ALL
                .iter()
                .map(|via| {
                    let o = run(&dir, *via, nobody, "", &argv);
                    text(&o.stdout) + &text(&o.stderr)
                })
                .collect();
            let listed: Vec<&str> = outs[2]
                .lines()
                .next()
                .unwrap_or("")
                .split_whitespace()
                .filter(|n| *n != "." && *n != "..")
                .collect();
            assert_eq!(listed, host, "bubblewrap's /host (nobody: {nobody})");
            assert!(outs[2].ends_with("ro\nuserns\n"), "bubblewrap: {}", outs[2]);
            assert_eq!(
                outs[0], outs[2],
                "cleave bwrap (tmpfs first: {tmpfs_first}, nobody: {nobody})"
            );
            assert_eq!(
                outs[1], outs[2],
                "the bwrap link (tmpfs first: {tmpfs_first}, nobody: {nobody})"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
