//! cleave-bench: cleave next to raw C, Rust std and the sandbox peers. `bench/run` drives it:
//!
//! ```text
//! cleave-bench inproc OUT.json [--quick]   in-process rows (as root; re-execs itself as uid
//!                                          65534 under setpriv for the rootless rows)
//! cleave-bench ns-rootless [--quick]       the rootless namespace rows, as JSON on stdout
//! cleave-bench oci OUT.json --cleave PATH --bundle DIR [--podman-rootfs DIR] [--quick]
//!                                          the OCI runtime rows next to runc (bench/src/oci.rs)
//! cleave-bench report DIR                  BENCHMARKS.md from DIR's results, on stdout
//! ```
mod floor;
mod harness;
mod inproc;
mod oci;
mod oci_floor;
mod report;

use harness::{Budget, Row};
use std::process::ExitCode;
use std::time::Duration;

fn budget(quick: bool) -> Budget {
    if quick {
        Budget {
            warmup: Duration::from_millis(5),
            measure: Duration::from_millis(20),
            min_iters: 5,
            max_iters: 200,
        }
    } else {
        Budget {
            warmup: Duration::from_millis(100),
            measure: Duration::from_millis(700),
            min_iters: 50,
            max_iters: 20_000,
        }
    }
}

fn rootless_rows(quick: bool) -> Vec<Row> {
    let section = "ns-rootless";
    let fail = |e: String| {
        vec![inproc::failed(
            section,
            "all",
            "cleave",
            "re-exec as uid 65534 under setpriv",
            &e,
        )]
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(exe)
        .arg("ns-rootless");
    if quick {
        cmd.arg("--quick");
    }
    match cmd.stderr(std::process::Stdio::inherit()).output() {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| fail(format!("unreadable output: {e}"))),
        Ok(out) => fail(format!("setpriv re-exec ended with {}", out.status)),
        Err(e) => fail(format!("setpriv: {e}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    match args.first().map(String::as_str) {
        Some("inproc") if args.len() >= 2 => {
            eprintln!("in-process benchmarks (root):");
            let mut rows = inproc::all(budget(quick));
            eprintln!("namespaces as uid 65534:");
            rows.extend(rootless_rows(quick));
            rows.retain(|r| r.error.as_deref() != Some(harness::SKIPPED));
            let json = serde_json::to_string_pretty(&rows).expect("rows serialise");
            if let Err(e) = std::fs::write(&args[1], json) {
                eprintln!("cleave-bench: cannot write {}: {e}", args[1]);
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Some("ns-rootless") => {
            let mut rows =
                inproc::namespaces(budget(quick), "ns-rootless", cleave::CloneFlags::NEWUSER);
            rows.retain(|r| r.error.as_deref() != Some(harness::SKIPPED));
            println!("{}", serde_json::to_string(&rows).expect("rows serialise"));
            ExitCode::SUCCESS
        }
        Some("oci") if args.len() >= 2 => match oci::main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cleave-bench oci: {e}");
                ExitCode::FAILURE
            }
        },
        Some("report") if args.len() >= 2 => match report::render(std::path::Path::new(&args[1])) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cleave-bench report: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: cleave-bench inproc OUT.json [--quick] | ns-rootless [--quick] | oci OUT.json --cleave PATH --bundle DIR [...] | report DIR");
            ExitCode::from(2)
        }
    }
}
