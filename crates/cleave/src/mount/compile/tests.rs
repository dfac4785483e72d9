use super::*;
use crate::mount::model::Model;

fn tree(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("cleave-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    std::os::unix::fs::symlink("/usr", root.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../..", root.join("usr/up")).unwrap();
    root
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let root = tree("resolve");
    let model = Model::new(root.clone(), true);
    let r = |p: &str| model.resolve(Path::new(p), 0);
    assert_eq!(r("/lib/x").unwrap(), Path::new("/usr/lib/x"));
    assert_eq!(r("/abs/lib").unwrap(), Path::new("/usr/lib"));
    assert_eq!(r("/new/dir").unwrap(), Path::new("/new/dir"));
    let e = r("/usr/up/etc").unwrap_err().to_string();
    assert!(e.contains("leaves the new root"), "{e}");
    let e = r("/../etc").unwrap_err().to_string();
    assert!(e.contains("`..` is not allowed"), "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn links_and_tmpfs_made_by_earlier_ops_count() {
    // A symlink made by an op cannot send a later mkdir to the host...
    let fs = Filesystem {
        ops: vec![
            MountOp::Tmpfs {
                dst: "/mnt".into(),
                mode: None,
                size: None,
            },
            MountOp::Symlink {
                target: "/tmp".into(),
                dst: "/mnt/l".into(),
            },
            MountOp::Dir {
                dst: "/mnt/l/escaped".into(),
                mode: None,
            },
        ],
        ..Default::default()
    };
    let e = fs.compile(true).unwrap_err().to_string();
    assert!(
        e.contains("/tmp/escaped") && e.contains("nothing is created on the host"),
        "{e}"
    );
    // ...and under a new root it lands inside the root.
    let root = tree("links");
    let fs = Filesystem {
        rootfs: Some(root.clone()),
        ops: vec![
            MountOp::Symlink {
                target: "/outside".into(),
                dst: "/y".into(),
            },
            MountOp::Dir {
                dst: "/y/d".into(),
                mode: None,
            },
        ],
        ..Default::default()
    };
    let steps = fs.compile(true).unwrap().steps;
    // Each mkdir names its parent relative to the root fd, and the new name.
    let mkdirs: Vec<(&[u8], &[u8])> = steps
        .iter()
        .filter_map(|s| match &s.op {
            Op::MkdirAt {
                root, parent, name, ..
            } => {
                assert_eq!(*root, ROOT);
                Some((parent.as_slice(), name.as_slice()))
            }
            _ => None,
        })
        .collect();
    // The root's own directory is never written: a throw-away layer goes over "/" first,
    // with a mount point for the root's one directory (usr) bound back.
    assert_eq!(
        mkdirs,
        [
            (&b"."[..], &b"usr"[..]),
            (&b"."[..], &b"outside"[..]),
            (&b"outside"[..], &b"d"[..])
        ]
    );
    // A path that exists on the host but sits under an earlier tmpfs is created there.
    let fs = Filesystem {
        ops: vec![
            MountOp::Tmpfs {
                dst: "/etc".into(),
                mode: None,
                size: None,
            },
            MountOp::RoBind {
                src: "/usr/share".into(),
                dst: "/etc/ssl".into(),
                optional: false,
            },
        ],
        ..Default::default()
    };
    let steps = fs.compile(true).unwrap().steps;
    assert!(steps
        .iter()
        .any(|s| s.op.name() == "MkdirAt" && s.what == "mkdir /etc/ssl"));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn bad_paths_fail_before_any_step() {
    let fs = Filesystem {
        ops: vec![MountOp::Tmpfs {
            dst: "tmp".into(),
            mode: None,
            size: None,
        }],
        ..Default::default()
    };
    let e = fs.compile(true).unwrap_err().to_string();
    assert!(e.contains("absolute path"), "{e}");
    let fs = Filesystem {
        ops: vec![MountOp::Bind {
            src: "/no/such/src".into(),
            dst: "/x".into(),
            optional: false,
        }],
        ..Default::default()
    };
    let e = fs.compile(true).unwrap_err().to_string();
    assert!(e.contains("/no/such/src"), "{e}");
    let fs = Filesystem {
        rootfs: Some("/no/such/root".into()),
        ..Default::default()
    };
    let e = fs.compile(true).unwrap_err().to_string();
    assert!(e.contains("the new root: /no/such/root"), "{e}");
    let fs = Filesystem {
        ops: vec![MountOp::Tmpfs {
            dst: "/tmp".into(),
            mode: None,
            size: None,
        }],
        ..Default::default()
    };
    assert!(fs.compile(false).is_err());
}

#[test]
fn ops_compile_in_order_and_end_with_pivot_root() {
    let root = tree("compile");
    let fs = Filesystem {
        rootfs: Some(root.clone()),
        ops: vec![
            MountOp::Tmpfs {
                dst: "/tmp".into(),
                mode: None,
                size: None,
            },
            MountOp::RoBind {
                src: "/etc".into(),
                dst: "/lib/etc".into(),
                optional: false,
            },
        ],
        ..Default::default()
    };
    let Compiled { steps, slots } = fs.compile(true).unwrap();
    let kinds: Vec<&str> = steps.iter().map(|s| s.op.name()).collect();
    // The root and the source are opened before anything changes, the root checked.
    assert_eq!(
        kinds[..4],
        ["OpenPath", "CheckIdentity", "OpenPath", "Propagation"]
    );
    assert!(
        matches!(&steps[2].op, Op::OpenPath { path, slot, .. } if path == b"/etc" && *slot == FIRST_SOURCE)
    );
    // One more slot: the root's usr, opened before the layer over "/" hides it.
    assert_eq!(slots, FIRST_SOURCE as usize + 2);
    let pivot = kinds.iter().position(|k| *k == "PivotRoot").unwrap();
    assert_eq!(kinds[pivot..], ["PivotRoot", "CloseSlots", "ChdirOrRoot"]);
    let tmp = steps
        .iter()
        .position(|s| s.what == "mount a tmpfs on /tmp")
        .unwrap();
    let bind = steps
        .iter()
        .position(|s| matches!(s.op, Op::Bind { src, .. } if src == FIRST_SOURCE))
        .unwrap();
    assert!(tmp < bind);
    // The bind lands on the resolved path, relative to the root fd, read-only and nodev.
    assert!(
        matches!(&steps[bind].op, Op::Bind { src, root, dst, set, recursive: true, .. }
            if *src == FIRST_SOURCE && *root == ROOT && dst == b"usr/lib/etc"
                && *set == MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV),
        "{:?}",
        steps[bind]
    );
    // Every step names the operation it came from.
    assert_eq!(steps[bind].origin, Some(Origin::Mount(1)));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_optional_bind_of_a_missing_source_is_skipped() {
    let bind = |optional| Filesystem {
        ops: vec![
            MountOp::Bind {
                src: "/no/such/source".into(),
                dst: "/tmp".into(),
                optional,
            },
            MountOp::Tmpfs {
                dst: "/mnt".into(),
                mode: None,
                size: None,
            },
        ],
        ..Default::default()
    };
    let steps = bind(true).compile(true).unwrap().steps;
    assert!(!steps.iter().any(|s| s.op.name() == "Bind"), "{steps:?}");
    // The operation after it keeps its own index.
    let tmpfs = steps.iter().find(|s| s.op.name() == "FsMount").unwrap();
    assert_eq!(tmpfs.origin, Some(Origin::Mount(1)));
    let e = bind(false).compile(true).unwrap_err().to_string();
    assert!(e.contains("/no/such/source"), "{e}");
}

#[test]
fn an_oci_mask_of_a_path_the_procfs_already_protects_is_not_stacked() {
    // runc's default config: maskedPaths and readonlyPaths after the mounts.
    let fs = |between: Vec<MountOp>| {
        let mut ops = vec![MountOp::Proc {
            dst: "/proc".into(),
        }];
        ops.extend(between);
        ops.extend([
            MountOp::Mask {
                dst: "/proc/kcore".into(),
            },
            MountOp::Mask {
                dst: "/proc/asound".into(),
            },
            MountOp::ReadOnly {
                dst: "/proc/sys".into(),
            },
            // A protection of another kind is not the same one.
            MountOp::ReadOnly {
                dst: "/proc/keys".into(),
            },
        ]);
        let root = tree("protected");
        let steps = Filesystem {
            rootfs: Some(root.clone()),
            ops,
            ..Default::default()
        }
        .compile(true)
        .unwrap()
        .steps;
        std::fs::remove_dir_all(&root).unwrap();
        steps
    };
    let on = |steps: &[Step], path: &[u8]| -> Vec<(String, Slot)> {
        steps
            .iter()
            .filter_map(|s| match &s.op {
                Op::MaskAt { root, path: p, .. } if p == path => Some(("mask".into(), *root)),
                Op::ReadOnlyAt { root, path: p } if p == path => Some(("ro".into(), *root)),
                _ => None,
            })
            .collect()
    };
    let mask = |root| vec![("mask".to_string(), root)];
    let ro = |root| vec![("ro".to_string(), root)];
    let steps = fs(vec![MountOp::Tmpfs {
        dst: "/dev".into(),
        mode: None,
        size: None,
    }]);
    // Once each: the protection made with the procfs.
    assert_eq!(on(&steps, b"kcore"), mask(PROC));
    assert_eq!(on(&steps, b"proc/kcore"), vec![]);
    assert_eq!(on(&steps, b"sys"), ro(PROC));
    assert_eq!(on(&steps, b"proc/sys"), vec![]);
    // What cleave does not protect, or protects otherwise, the config's op does.
    assert_eq!(on(&steps, b"proc/asound"), mask(ROOT));
    assert_eq!(on(&steps, b"proc/keys"), ro(ROOT));
    // A mount on, under or over a protected path since the procfs: the config's op is
    // applied again on top (it no longer does the same as the first).
    let steps = fs(vec![MountOp::Tmpfs {
        dst: "/proc/sys/kernel".into(),
        mode: None,
        size: None,
    }]);
    assert_eq!(on(&steps, b"proc/sys"), ro(ROOT));
    assert_eq!(on(&steps, b"proc/kcore"), vec![]);
    let steps = fs(vec![MountOp::Proc {
        dst: "/proc".into(),
    }]);
    // A second procfs on the first: protected when mounted, not twice.
    assert_eq!(on(&steps, b"kcore"), [mask(PROC), mask(PROC)].concat());
    assert_eq!(on(&steps, b"proc/kcore"), vec![]);
    let steps = fs(vec![
        MountOp::Tmpfs {
            dst: "/".into(),
            mode: None,
            size: None,
        },
        MountOp::Dir {
            dst: "/proc".into(),
            mode: None,
        },
    ]);
    assert_eq!(on(&steps, b"proc/kcore"), mask(ROOT));
    assert_eq!(on(&steps, b"proc/sys"), ro(ROOT));
}

#[test]
fn a_layer_after_the_procfs_keeps_its_protections_without_stacking_them() {
    // The throw-away layer over "/" comes after the procfs (the rootfs has /proc, not
    // /new): /proc is bound back onto the layer recursively, masks and read-only copies
    // with it, so the config's ops on the same paths stay the protection already made.
    let root = tree("layer-after-proc");
    std::fs::create_dir(root.join("proc")).unwrap();
    let steps = Filesystem {
        rootfs: Some(root.clone()),
        ops: vec![
            MountOp::Proc {
                dst: "/proc".into(),
            },
            MountOp::Dir {
                dst: "/new".into(),
                mode: None,
            },
            MountOp::Mask {
                dst: "/proc/keys".into(),
            },
            MountOp::ReadOnly {
                dst: "/proc/sys".into(),
            },
        ],
        ..Default::default()
    }
    .compile(true)
    .unwrap()
    .steps;
    std::fs::remove_dir_all(&root).unwrap();
    let layer = steps
        .iter()
        .position(|s| matches!(&s.op, Op::FsMount { dst, .. } if dst == b"."))
        .expect("a layer over /");
    let proc_back = steps
        .iter()
        .position(|s| matches!(&s.op, Op::Bind { dst, recursive: true, .. } if dst == b"proc"))
        .expect("/proc bound back on the layer");
    assert!(layer < proc_back, "{steps:?}");
    let again = |path: &[u8]| {
        steps.iter().any(|s| {
            matches!(&s.op, Op::MaskAt { path: p, .. } | Op::ReadOnlyAt { path: p, .. } if p == path)
        })
    };
    assert!(!again(b"proc/keys") && !again(b"proc/sys"), "{steps:?}");
}

#[test]
fn a_file_bound_in_is_there_for_later_ops() {
    let root = tree("file-bind");
    let file = root.join("usr/file");
    std::fs::write(&file, "x").unwrap();
    let fs = Filesystem {
        ops: vec![
            MountOp::Tmpfs {
                dst: "/mnt".into(),
                mode: None,
                size: None,
            },
            MountOp::Bind {
                src: file.clone(),
                dst: "/mnt/f".into(),
                optional: false,
            },
            MountOp::Chmod {
                mode: 0o600,
                dst: "/mnt/f".into(),
            },
        ],
        ..Default::default()
    };
    let steps = fs.compile(true).unwrap().steps;
    std::fs::remove_dir_all(&root).unwrap();
    assert!(
        steps
            .iter()
            .any(|s| matches!(&s.op, Op::ChmodAt { path, .. } if path == b"mnt/f")),
        "{steps:?}"
    );
}
