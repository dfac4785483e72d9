//! The OCI runtime-tools validation suite against cleave (issue 10, "Conformance"): the
//! validation programs of opencontainers/runtime-tools (validation/*, each creating, starting,
//! killing and deleting containers through the runtime's command line, with runtimetest
//! checking the config from inside), built from Debian's source package and run by
//! scripts/runtime-tools.sh, which this test calls with RUNTIME set to this build's cleave.
//!
//! Every program passes but those the script excludes, each with its reason (what this host
//! lacks: AppArmor, SELinux, the v1 blkio/hugetlb/net_cls controllers, CAP_SYS_RESOURCE, kernel
//! memory limits; a program that contradicts the runtime-spec it cites; or, for two programs,
//! what cleave does not do yet: a mount or PID namespace joined by path, and no mount
//! namespace at all). To compare with
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
    let (mut passed, mut failed, excluded) = (lines("PASS "), lines("FAIL "), lines("EXCLUDED "));
    // `poststart` checks the order of two lines appended to one file: the program's
    // (`sh -c "echo 'process called' >> /output"`) and the poststart hook's. The runtime-spec
    // asks for the hook after the program has *started*, which is all a runtime can know:
    // cleave runs the hook once the program has exec'd (it waits for that), but on a loaded
    // machine the hook's shell can still append before the program's shell does (it failed
    // once in a full CI-like run, 0 times in 5 runs alone). Such a program is run again, up
    // to twice, on its own; a real ordering bug fails every time.
    const RACY: &[&str] = &["poststart"];
    let failed_at_first = failed.len();
    failed.retain(|name| {
        if !RACY.contains(&name.as_str()) {
            return true;
        }
        let again = (0..2).any(|_| {
            let o = Command::new("bash")
                .arg(&script)
                .arg(name)
                .env("RUNTIME", BIN)
                .output()
                .expect("run scripts/runtime-tools.sh");
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.strip_prefix("PASS ") == Some(name.as_str()))
        });
        if again {
            eprintln!("{name} failed once and passed when run again (see RACY)");
            passed.push(name.clone());
        }
        !again
    });
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
    // The script fails when a program failed; every failure was then passed again above.
    assert!(
        out.status.success() || failed_at_first > 0,
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
