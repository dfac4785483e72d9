//! The fuzz targets' properties on stable Rust: every parser of user text runs over the
//! inputs in fuzz/seeds/TARGET (a minimised corpus of the fuzz runs, `scripts/fuzz.sh`) and
//! over the hand-picked inputs below, and must not panic, must give one-line errors, and must
//! read back what it accepted (the properties are in fuzz/src/lib.rs).
#[path = "../../../fuzz/src/lib.rs"]
mod props;

use std::path::Path;

/// Inputs at the edges, each checked by every parser (crashes found by fuzzing go here too).
const EDGES: &[&str] = &[
    "",
    " ",
    "\n",
    "all",
    "none",
    "0",
    "-0",
    "0:0:0",
    "0:0:4294967296",
    "4294967295:4294967295:1",
    "0:4294967295:2",
    "RTMIN+2147483646",
    "SIGRTMIN+2147483647",
    "SIGRTMIN+-5",
    "SIG\nCHLD",
    "CLONE_VM|CLONE_VFORK|SIGCHLD",
    "0x3d0f00",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "SIGCHLD|SIGUSR1",
    "sighnd\n",
    "18446744073709551615",
    "16777215T",
    "16777216T",
    "12ib",
    "1e308",
    "1e-3",
    "NaN",
    "-inf",
    "0.01",
    "nofile=1024:4096",
    "nofile=unlimited:1",
    "core=\n",
    "bogus\n=1",
    "CAP_SYS_ADMIN",
    "cap_\u{1b}[2J",
    "private",
    "Private\n",
    "user,pid,,mount",
    "user,\nall",
    "mount,all,bogus",
];

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a seed").path();
        out.push(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    }
    out
}

#[test]
fn every_parser_keeps_its_properties_on_the_seeds() {
    for (target, check) in props::TARGETS {
        let seeds = seeds(target);
        assert!(!seeds.is_empty(), "fuzz/seeds/{target} is empty");
        for input in &seeds {
            check(input);
        }
        for input in EDGES {
            check(input.as_bytes());
        }
    }
}

#[test]
fn cpu_fractions_and_namespace_lists_read_as_the_command_line_reads_them() {
    use cleave::cgroup::parse_cpus;
    use cleave::Namespace;
    assert_eq!(parse_cpus(" 0.5 ").ok(), Some(0.5));
    assert_eq!(parse_cpus("2").ok(), Some(2.0));
    for bad in ["", "0", "0.001", "-1", "NaN", "inf", "1/2", "0,5"] {
        let e = parse_cpus(bad).unwrap_err().to_string();
        assert!(!e.contains('\n'), "{bad:?}: {e}");
    }
    assert_eq!(
        Namespace::parse_list(["user", " PID ", "mnt"]),
        Ok(Some(vec![
            Namespace::User,
            Namespace::Pid,
            Namespace::Mount
        ]))
    );
    assert_eq!(Namespace::parse_list([]), Ok(Some(vec![])));
    assert_eq!(Namespace::parse_list(["user", "ALL"]), Ok(None));
    let e = Namespace::parse_list(["user", "pdi\n"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown namespace `pdi\\n`: choose from mount,uts,ipc,net,pid,user,cgroup,time, or all"
    );
}
