//! runc's state JSON and the features.json document.
use cleave_oci::{features_json, rfc3339, State, Status};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

#[test]
fn times_are_rfc3339_in_utc() {
    let at = |s: u64, n: u32| rfc3339(UNIX_EPOCH + Duration::new(s, n));
    assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
    assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00Z");
    assert_eq!(at(1_709_294_400, 1), "2024-03-01T12:00:00.000000001Z");
    assert_eq!(
        at(4_102_444_799, 500_000_000),
        "2099-12-31T23:59:59.500000000Z"
    );
    assert_eq!(
        rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
        "1970-01-01T00:00:00Z"
    );
}

#[test]
fn state_json_is_runcs() {
    let mut ann = BTreeMap::new();
    ann.insert("org.example.k".to_string(), "v".to_string());
    let s = State::created(
        "box",
        4242,
        Path::new("/srv/b"),
        Path::new("/srv/b/rootfs"),
        UNIX_EPOCH + Duration::from_secs(1_709_294_400),
        ann,
        "1.0.2",
    )
    .unwrap();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        v,
        json!({"ociVersion": "1.0.2", "id": "box", "pid": 4242, "status": "created",
               "bundle": "/srv/b", "rootfs": "/srv/b/rootfs",
               "created": "2024-03-01T12:00:00Z", "owner": "",
               "annotations": {"org.example.k": "v"}})
    );
    let back: State = serde_json::from_value(v).unwrap();
    assert_eq!(back, s);
    for (status, word) in [
        (Status::Created, "created"),
        (Status::Running, "running"),
        (Status::Paused, "paused"),
        (Status::Stopped, "stopped"),
    ] {
        assert_eq!(serde_json::to_value(status).unwrap(), json!(word));
    }
    // No annotations: the field is left out, as runc leaves it.
    let mut s = s;
    s.annotations.clear();
    assert!(serde_json::to_value(&s)
        .unwrap()
        .get("annotations")
        .is_none());
    let e = State::created(
        "box",
        1,
        Path::new("b"),
        Path::new("/r"),
        UNIX_EPOCH,
        BTreeMap::new(),
        "1.0.2",
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "bundle: must be absolute");
}

#[test]
fn features_say_what_cleave_does() {
    let f = features_json();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    let linux = &f["linux"];
    assert_eq!(linux["namespaces"].as_array().unwrap().len(), 8);
    assert!(linux["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("time")));
    let caps = linux["capabilities"].as_array().unwrap();
    assert_eq!(caps.len(), cleave::caps::NAMES.len());
    assert!(caps.contains(&json!("CAP_SYS_ADMIN")));
    assert_eq!(linux["cgroup"]["v1"], true);
    assert_eq!(linux["cgroup"]["v2"], true);
    assert_eq!(linux["cgroup"]["systemd"], false);
    assert_eq!(linux["seccomp"]["enabled"], true);
    assert!(!linux["seccomp"]["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("SCMP_ACT_NOTIFY")));
    assert_eq!(linux["apparmor"], json!({"enabled": false}));
    assert!(f["mountOptions"]
        .as_array()
        .unwrap()
        .contains(&json!("rbind")));
    assert_eq!(f["hooks"], json!([]));
    // Nothing is written as null.
    assert!(!f.to_string().contains("null"), "{f}");
    // It parses back as the runtime-spec structure.
    let back: cleave_oci::oci_spec::runtime::Features = serde_json::from_value(f).unwrap();
    assert_eq!(back.oci_version_max(), cleave_oci::OCI_VERSION_MAX);
}
