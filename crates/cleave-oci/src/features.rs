//! The runtime-spec features.json document: what cleave does with a config.
use crate::mounts::MOUNT_OPTIONS;
use oci_spec::runtime::{
    Apparmor, Cgroup, Features, IntelRdt, LinuxFeature, LinuxNamespaceType, Seccomp, Selinux,
};

/// The oldest runtime-spec version cleave runs.
pub const OCI_VERSION_MIN: &str = "1.0.0";
/// The newest runtime-spec version cleave knows the fields of.
pub const OCI_VERSION_MAX: &str = "1.2.1";

/// What cleave supports, as the runtime-spec features structure: every namespace, the
/// capabilities cleave's table names, the mount options [`crate::lower`] takes, cgroup v1
/// and v2 (no systemd driver), seccomp (native ABI), and neither AppArmor, SELinux nor Intel RDT yet.
/// Hooks are listed once the runtime layer runs them.
pub fn features() -> Features {
    let mut linux = LinuxFeature::default();
    linux.set_namespaces(Some(vec![
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Time,
        LinuxNamespaceType::User,
        LinuxNamespaceType::Uts,
    ]));
    linux.set_capabilities(Some(
        cleave::caps::NAMES
            .iter()
            .map(|n| format!("CAP_{n}"))
            .collect(),
    ));
    let mut cgroup = Cgroup::default();
    cgroup.set_v1(Some(true));
    cgroup.set_v2(Some(true));
    cgroup.set_systemd(Some(false));
    cgroup.set_systemd_user(Some(false));
    cgroup.set_rdma(Some(false));
    linux.set_cgroup(Some(cgroup));
    let mut seccomp = Seccomp::default();
    seccomp.set_enabled(Some(true));
    {
        use oci_spec::runtime::LinuxSeccompAction as A;
        seccomp.set_actions(Some(vec![
            A::ScmpActAllow,
            A::ScmpActErrno,
            A::ScmpActKill,
            A::ScmpActKillThread,
            A::ScmpActKillProcess,
            A::ScmpActTrap,
            A::ScmpActTrace,
            A::ScmpActLog,
        ]));
        seccomp.set_operators(Some(
            [
                "SCMP_CMP_NE",
                "SCMP_CMP_LT",
                "SCMP_CMP_LE",
                "SCMP_CMP_EQ",
                "SCMP_CMP_GE",
                "SCMP_CMP_GT",
                "SCMP_CMP_MASKED_EQ",
            ]
            .map(String::from)
            .to_vec(),
        ));
        seccomp.set_archs(Some(vec![crate::seccomp::NATIVE]));
        seccomp.set_known_flags(Some(vec!["SECCOMP_FILTER_FLAG_TSYNC".into()]));
        seccomp.set_supported_flags(Some(vec!["SECCOMP_FILTER_FLAG_TSYNC".into()]));
    }
    linux.set_seccomp(Some(seccomp));
    let mut apparmor = Apparmor::default();
    apparmor.set_enabled(Some(false));
    linux.set_apparmor(Some(apparmor));
    let mut selinux = Selinux::default();
    selinux.set_enabled(Some(false));
    linux.set_selinux(Some(selinux));
    let mut rdt = IntelRdt::default();
    rdt.set_enabled(Some(false));
    linux.set_intel_rdt(Some(rdt));

    let mut f = Features::default();
    f.set_oci_version_min(OCI_VERSION_MIN.into());
    f.set_oci_version_max(OCI_VERSION_MAX.into());
    f.set_hooks(Some(Vec::new()));
    f.set_mount_options(Some(MOUNT_OPTIONS.iter().map(|s| s.to_string()).collect()));
    f.set_linux(Some(linux));
    f
}

/// [`features`] as the JSON document `cleave features` prints: fields cleave says nothing
/// about are left out rather than written as null.
pub fn features_json() -> serde_json::Value {
    let mut v = serde_json::to_value(features()).unwrap_or_default();
    prune_nulls(&mut v);
    v
}

fn prune_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}
