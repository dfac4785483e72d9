//! `cleave inspect`: rows a known setup determines, JSON, exit codes, unprivileged callers.
mod support;
use support::*;

fn json(o: &std::process::Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("inspect --json prints JSON")
}

fn row<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key}"))
}

#[test]
fn new_user_and_uts_child_against_cleave_its_parent() {
    let t = Target::start(false, &["--new", "uts,user"]);
    let v = json(&cleave(&["inspect", &t.arg(), "--json"]));
    assert_eq!(v["pid"], t.pid);
    assert_eq!(v["other_is_parent"], true);
    let parent = v["other"].as_i64().unwrap();
    for (key, want) in [
        ("ns:uts", "no"),
        ("ns:user", "no"),
        ("ns:net", "yes"),
        ("ns:pid", "yes"),
        ("vm", "no"),
        ("files", "no"),
        ("thread-group", "no"),
    ] {
        assert_eq!(row(&v, key)["shared"], want, "{key}: {v}");
    }
    assert_eq!(row(&v, "ns:uts")["flag"], "CLONE_NEWUTS");
    assert_eq!(
        row(&v, "parent")["detail"],
        format!("{parent} is the parent of {}", t.pid)
    );
    // Against itself every row is shared.
    let v = json(&cleave(&["inspect", &t.arg(), &t.arg(), "--json"]));
    for r in v["rows"].as_array().unwrap() {
        assert_eq!(r["shared"], "yes", "{r}");
    }
}

#[test]
fn table_is_aligned_with_a_header() {
    let t = Target::start(false, &[]);
    let o = cleave(&["inspect", &t.arg()]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("(its parent)"), "{out}");
    assert!(lines[1].starts_with("RESOURCE"), "{out}");
    let col = lines[1].find("SHARED").unwrap();
    for l in &lines[2..] {
        let cell = &l[col..];
        assert!(
            cell.starts_with("yes") || cell.starts_with("no") || cell.starts_with("unknown"),
            "misaligned: {l}"
        );
    }
    assert_eq!(lines.len(), 2 + 19, "{out}");
}

#[test]
fn nobody_inspecting_roots_process_gets_unknown_with_the_reason() {
    let t = Target::start(false, &["--new", "uts"]);
    let o = nobody(&["inspect", &t.arg(), "--json"]);
    assert_eq!(o.status.code(), Some(126), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON still printed");
    let vm = row(&v, "vm");
    assert_eq!(vm["shared"], "unknown");
    let why = vm["reason"].as_str().unwrap();
    assert!(why.contains("EPERM") && why.contains("ptrace"), "{why}");
    assert_eq!(row(&v, "ns:uts")["shared"], "unknown");
    assert_eq!(row(&v, "thread-group")["shared"], "no");
    // Nothing about sharing could be told: the table is printed, and inspect fails.
    let o = nobody(&["inspect", &t.arg()]);
    assert_eq!(o.status.code(), Some(126));
    assert!(text(&o.stdout).contains("needs ptrace access"));
}

#[test]
fn bad_pid_is_125_and_gone_process_126() {
    assert_eq!(cleave(&["inspect", "0"]).status.code(), Some(125));
    assert_eq!(cleave(&["inspect", "abc"]).status.code(), Some(125));
    let pid = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let o = cleave(&["inspect", &pid.to_string()]);
    assert_eq!(o.status.code(), Some(126));
    assert!(text(&o.stderr).contains("ESRCH"), "{}", text(&o.stderr));
}

#[test]
fn help_teaches_with_examples() {
    let o = cleave(&["inspect", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("Examples:"));
}
