//! The OCI runtime-tools validation suite against cleave (issue 10, "Conformance"): the
//! validation programs of opencontainers/runtime-tools (validation/*, each creating, starting,
//! killing and deleting containers through the runtime's command line, with runtimetest
//! checking the config from inside), built from Debian's source package and run by
//! scripts/runtime-tools.sh, which this test calls with RUNTIME set to this build's cleave.
//!
//! Every program passes but those the script excludes, each with its reason (what this host
//! lacks: AppArmor, SELinux, the v1 blkio/hugetlb/net_cls controllers, CAP_SYS_RESOURCE, kernel
//! memory limits; or a program that contradicts the runtime-spec it cites). To compare with
//! runc: `RUNTIME=/usr/sbin/runc scripts/runtime-tools.sh`. Needs root; the first run
//! installs Debian's Go and fetches the source (scripts/test.sh does it before the tests).

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cleave");

fn skip(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("skipped under CI=true: {why}");
    }
    eprintln!("SKIPPED: {why}");
}

#[test]
fn runtime_tools_validation_suite_passes() {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    if unsafe { libc::geteuid() } != 0 {
        return skip("the validation programs create containers: run as root");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/runtime-tools.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("RUNTIME", BIN)
        .output()
        .expect("run scripts/runtime-tools.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = |word: &str| -> Vec<String> {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix(word))
            .map(|r| r.split([' ', ':']).next().unwrap_or_default().to_string())
            .collect()
    };
    let (passed, failed, excluded) = (lines("PASS "), lines("FAIL "), lines("EXCLUDED "));
    eprintln!(
        "runtime-tools against cleave: {} run, {} passed, {} excluded",
        passed.len() + failed.len(),
        passed.len(),
        excluded.len()
    );
    assert!(
        failed.is_empty(),
        "runtime-tools programs failed against cleave: {failed:?} (their TAP output is in \
         /var/tmp/cleave-runtime-tools/results/cleave/NAME.tap)\n{stdout}\n{stderr}"
    );
    assert!(
        out.status.success(),
        "scripts/runtime-tools.sh failed:\n{stdout}\n{stderr}"
    );
    // The suite itself ran: its lifecycle programs are there and passed, none excluded.
    for name in [
        "create",
        "state",
        "kill",
        "delete",
        "prestart",
        "poststart",
        "poststop",
    ] {
        assert!(
            passed.iter().any(|p| p == name),
            "{name} did not pass:\n{stdout}"
        );
    }
    assert!(
        passed.len() >= 30,
        "only {} programs passed:\n{stdout}",
        passed.len()
    );
}
