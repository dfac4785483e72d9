//! The `cleave` binary: exit codes, messages, and what the program saw. Run as separate
//! processes, so libtest's threads are harmless here.
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cleave");

fn cleave(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run cleave")
}

fn nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args)
        .output()
        .expect("run setpriv (util-linux)")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn program_status_is_passed_through() {
    assert_eq!(
        cleave(&["spawn", "--", "sh", "-c", "exit 3"]).status.code(),
        Some(3)
    );
    let o = cleave(&["spawn", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(128 + 15));
}

#[test]
fn missing_program_is_127_with_a_hint() {
    let o = cleave(&["spawn", "--", "cleave-no-such-program"]);
    assert_eq!(o.status.code(), Some(127));
    let e = text(&o.stderr);
    assert!(e.contains("ENOENT") && e.contains("not in PATH"), "{e}");
}

#[test]
fn invalid_requests_are_125_and_name_every_rule() {
    let o = cleave(&["spawn", "--flags", "thread,newns,fs", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    let e = text(&o.stderr);
    for rule in ["thread-needs-sighand", "newns-with-fs", "EINVAL"] {
        assert!(e.contains(rule), "{rule} missing: {e}");
    }
    let o = cleave(&["spawn", "--flags", "vm|sighnd", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("did you mean `CLONE_SIGHAND`"));
    let o = cleave(&["spawn", "--flags", "CLONE_PID", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("removed"));
    assert_eq!(
        cleave(&["spawn", "--bogus", "--", "true"]).status.code(),
        Some(125)
    );
}

#[test]
fn unchecked_shows_the_kernels_answer_as_126() {
    let o = cleave(&["spawn", "--unchecked", "--flags", "sighand", "--", "true"]);
    assert_eq!(o.status.code(), Some(126));
    assert!(text(&o.stderr).contains("clone3 failed") && text(&o.stderr).contains("EINVAL"));
}

#[test]
fn unprivileged_namespaces_get_a_user_namespace_or_a_hint() {
    // Without root, cleave adds the user namespace the others need (as unshare -r would
    // have to be asked to); --unchecked shows the kernel's own refusal, with advice.
    let o = nobody(&[
        "spawn",
        "--new",
        "uts",
        "--hostname",
        "box",
        "--",
        "hostname",
    ]);
    assert_eq!(text(&o.stdout), "box\n", "{}", text(&o.stderr));
    let o = nobody(&["spawn", "--unchecked", "--flags", "newuts", "--", "true"]);
    assert_eq!(o.status.code(), Some(126));
    let e = text(&o.stderr);
    assert!(
        e.contains("EPERM") && e.contains("add user to --new"),
        "{e}"
    );
    let o = nobody(&[
        "spawn",
        "--new",
        "user,uts,pid",
        "--hostname",
        "box",
        "--",
        "sh",
        "-c",
        "hostname; echo $$",
    ]);
    // Behind cleave's init, the program is PID 2 of its namespace.
    assert_eq!(text(&o.stdout), "box\n2\n", "{}", text(&o.stderr));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn thread_flag_makes_the_program_take_over_cleaves_pid() {
    let child = Command::new(BIN)
        .args([
            "spawn",
            "--share",
            "thread,sighand,vm",
            "--",
            "sh",
            "-c",
            "echo $$; exit 5",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert_eq!(text(&o.stdout).trim(), pid.to_string());
    assert_eq!(o.status.code(), Some(5));
}

#[test]
fn parent_flag_makes_cleaves_parent_the_parent() {
    let o = cleave(&["spawn", "--parent", "--", "sh", "-c", "echo $PPID"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o.stdout).trim(), std::process::id().to_string());
}

#[test]
fn exit_signal_none_and_presets() {
    assert_eq!(
        cleave(&["spawn", "--exit-signal", "none", "--", "true"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        cleave(&["spawn", "--exit-signal", "SIGUSR1", "--", "true"])
            .status
            .code(),
        Some(0)
    );
    for p in ["fork", "vfork", "linuxthreads"] {
        assert_eq!(
            cleave(&["spawn", "--preset", p, "--", "true"])
                .status
                .code(),
            Some(0),
            "{p}"
        );
    }
    let o = cleave(&[
        "spawn",
        "-v",
        "--flags",
        "CLONE_VM|CLONE_VFORK|SIGCHLD",
        "--",
        "true",
    ]);
    assert!(text(&o.stderr).contains("exit signal SIGCHLD"));
}

#[test]
fn sigterm_to_cleave_reaches_the_program() {
    let mut child = Command::new(BIN)
        .args(["spawn", "--", "sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(128 + 15));
}

#[test]
fn explain_text_and_json() {
    let o = cleave(&["explain", "0x3d0f00"]);
    assert_eq!(o.status.code(), Some(0));
    let t = text(&o.stdout);
    assert!(
        t.contains("CLONE_THREAD") && t.contains("verdict: valid"),
        "{t}"
    );
    let o = cleave(&["explain", "newipc,sysvsem", "--unprivileged", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["violations"][0]["errno_name"], "EPERM");
    assert_eq!(v["violations"][1]["rule"], "newipc-with-sysvsem");
    let o = cleave(&["explain", "pidfd,thread,sighand,vm", "--kernel", "6.8"]);
    assert!(text(&o.stdout).contains("pidfd-with-thread"));
    assert_eq!(cleave(&["explain", "nonsense"]).status.code(), Some(125));
}

/// `--kernel` and `--unprivileged` describe another caller or machine: the context is built
/// from them (clone3 exactly when that kernel has it), whoever runs explain.
#[test]
fn explain_judges_the_context_the_options_state() {
    let json = |args: &[&str]| -> serde_json::Value {
        let o = cleave(args);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
    };
    // Without clone3 (before 5.3) cleave uses clone(): that is what is judged.
    let v = json(&["explain", "vm", "--kernel", "5.2", "--json"]);
    assert_eq!(v["context"]["kernel"], "5.2");
    assert_eq!(v["context"]["clone3"], false);
    assert_eq!(v["interface"], "legacy", "{v}");
    assert_eq!(v["valid"], true, "{v}");
    let v = json(&["explain", "vm", "--kernel", "5.2", "--legacy", "--json"]);
    assert_eq!(v["valid"], true, "{v}");
    let v = json(&[
        "explain", "newuser", "--kernel", "2.4", "--legacy", "--json",
    ]);
    assert_eq!(v["violations"][0]["rule"], "flag-too-new");
    let v = json(&["explain", "vm", "--kernel", "6.1", "--json"]);
    assert_eq!(v["context"]["clone3"], true);
    assert_eq!(v["valid"], true);
    // Root judging for an unprivileged caller, and nobody judging for itself, agree.
    let a = json(&["explain", "newnet", "--unprivileged", "--json"]);
    assert_eq!(a["context"]["privileged"], false);
    assert_eq!(a["violations"][0]["errno_name"], "EPERM");
    let o = nobody(&["explain", "newnet", "--json"]);
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(a["violations"], b["violations"]);
    assert_eq!(a["context"], b["context"]);
    let o = cleave(&["explain", "vm", "--kernel", "six"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        text(&o.stderr).trim(),
        "cleave: --kernel six: write MAJOR.MINOR, e.g. 6.8"
    );
}
