//! `runc spec`'s default config, lowered, prepared and run as root on the busybox rootfs of
//! scripts/mkrootfs.sh: what the container sees, checked from the inside.
use cleave_oci::{lower, parse};
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `runc spec` (runc 1.1.5), as it prints it.
const RUNC_SPEC: &str = include_str!("runc-spec.json");

/// The inode of this process's own cgroup directory: the memory hierarchy's on a v1 or
/// hybrid host, the cgroup2 one on a pure cgroup2 host; and the hierarchy's name inside.
fn own_cgroup() -> (u64, &'static str) {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let find = |prefix: &str| {
        text.lines()
            .find_map(|l| l.split_once(prefix).map(|(_, p)| p.to_string()))
    };
    let pure_v2 = !text.lines().any(|l| l.contains(":memory:"));
    let (dir, inside) = if pure_v2 {
        (
            PathBuf::from("/sys/fs/cgroup").join(find("0::").unwrap().trim_start_matches('/')),
            ".",
        )
    } else {
        let p = find(":memory:").unwrap();
        (
            PathBuf::from("/sys/fs/cgroup/memory").join(p.trim_start_matches('/')),
            "memory",
        )
    };
    (std::fs::metadata(dir).unwrap().ino(), inside)
}

#[test]
fn runc_default_config_runs_with_its_mounts_and_capabilities() {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "needs root (CI=true)");
        eprintln!("skipped: needs root");
        return;
    }
    let dir = std::env::temp_dir().join(format!("cleave-oci-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mkrootfs.sh");
    let st = Command::new("sh")
        .arg(&script)
        .arg(dir.join("rootfs"))
        .status()
        .expect("run mkrootfs.sh");
    assert!(st.success(), "scripts/mkrootfs.sh failed");

    let (host_ino, hierarchy) = own_cgroup();
    let mut v: serde_json::Value = serde_json::from_str(RUNC_SPEC).unwrap();
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!([
        "sh",
        "-c",
        format!(
            "exec > /mnt/report 2>&1
         test -d /dev/pts && test -c /dev/pts/ptmx && echo pts ok
         test -c /dev/null && echo null ok
         grep ' /dev/mqueue ' /proc/self/mounts | cut -d' ' -f1,3
         grep ' /sys ' /proc/self/mounts | cut -d' ' -f3,4 | cut -d, -f1
         touch /sys/kernel/x 2>/dev/null || echo sys refused
         echo cgroup $(stat -c %i /sys/fs/cgroup/{hierarchy})
         mkdir /sys/fs/cgroup/{hierarchy}/x 2>/dev/null || echo cgroup refused
         touch /sys/fs/cgroup/x 2>/dev/null || echo cgroup tmpfs refused
         grep -E '^Cap(Bnd|Eff)' /proc/self/status"
        )
    ]);
    v["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt", "type": "bind", "source": dir.join("out"), "options": ["rbind"]}));
    let config = parse(&v.to_string()).unwrap();
    let l = lower(&config, &dir).unwrap();
    let prepared = cleave::sandbox::prepare(&l.spec).unwrap_or_else(|e| {
        panic!(
            "{}",
            l.locate(e)
                .map_or_else(|e| e.to_string(), |e| e.to_string())
        )
    });
    let status = prepared.spawn().unwrap().wait().unwrap();
    let report = std::fs::read_to_string(dir.join("out/report")).unwrap_or_default();
    assert!(status.success(), "{status:?}: {report}");
    // CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10).
    let caps = (1u64 << 29) | (1 << 5) | (1 << 10);
    let want = format!(
        "pts ok\nnull ok\nmqueue mqueue\nsysfs ro\nsys refused\ncgroup {host_ino}\n\
         cgroup refused\ncgroup tmpfs refused\nCapEff:\t{caps:016x}\nCapBnd:\t{caps:016x}\n"
    );
    assert_eq!(report, want);
    std::fs::remove_dir_all(&dir).unwrap();
}
