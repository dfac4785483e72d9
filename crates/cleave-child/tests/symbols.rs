//! The release build of the child crate pulls in no panic, allocation or formatting code, and
//! calls no C library function that keeps state (DESIGN.md section 3, rules 1-4).
//!
//! `#![no_std]` without `alloc` already makes `format!`, `Vec` and `Box` compile errors; what
//! it cannot refuse is a panic (`unwrap()`, `expect()`, an index out of bounds, an overflow
//! check, a `todo!()`), which drags in `core::panicking` and `core::fmt`. So this test builds
//! the crate in release (`cargo build --release -p cleave-child` into target/child-symbols),
//! links `tests/symbol_probe/probe.rs` against it — a `no_std`, `no_main` program that calls
//! the child's entry points on opaque inputs, with fat LTO and `--gc-sections` — and reads the
//! program's symbol table with `nm` (binutils). What the linker kept is exactly what the
//! child's code can reach. A control build of the same probe with one `unwrap()` must fail the
//! same check, so a check that sees nothing cannot pass by accident.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Demangled symbol names (or parts) that mean panic, allocation or formatting code.
const FORBIDDEN: &[&str] = &[
    "rust_begin_unwind",
    "core::panicking",
    "panic_fmt",
    "panic_bounds_check",
    "unwrap_failed",
    "expect_failed",
    "slice_index_fail",
    "slice_start_index_len_fail",
    "slice_end_index_len_fail",
    "slice_index_order_fail",
    "core::fmt",
    "__rust_alloc",
    "__rust_dealloc",
    "__rust_realloc",
    "__rust_alloc_zeroed",
    "alloc::",
    "std::",
    "on_panic",
];

/// The only external functions the probe may call: the compiler's own memory intrinsics.
const ALLOWED_UNDEFINED: &[&str] = &["memcpy", "memmove", "memset", "memcmp", "bcmp"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e} (nm and ar come from binutils)"));
    assert!(
        out.status.success(),
        "{shown}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the child crate in release into target/child-symbols; returns its deps directory.
fn build_child() -> PathBuf {
    let target = workspace().join("target/child-symbols");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--release", "-p", "cleave-child", "--target-dir"])
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS"));
    target.join("release/deps")
}

/// The newest `libcleave_child-*.rlib` in `deps`.
fn rlib(deps: &Path) -> PathBuf {
    std::fs::read_dir(deps)
        .expect("the release deps directory")
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcleave_child-") && name.ends_with(".rlib")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .expect("cargo built no libcleave_child rlib")
        .path()
}

/// Links the probe (with `--cfg control` when `control`) and returns its path.
fn link_probe(deps: &Path, control: bool) -> PathBuf {
    let out = deps.join(if control { "probe-control" } else { "probe" });
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.current_dir(workspace())
        .args(["--edition", "2021", "--crate-type", "bin"])
        .args(["-C", "opt-level=3", "-C", "panic=abort", "-C", "lto=fat"])
        .args(["-C", "codegen-units=1", "-C", "debuginfo=0"])
        .args([
            "-C",
            "link-arg=-nostartfiles",
            "-C",
            "link-arg=-Wl,--gc-sections",
        ])
        .arg("--extern")
        .arg(format!("cleave_child={}", rlib(deps).display()))
        .arg("-L")
        .arg(format!("dependency={}", deps.display()))
        .arg(workspace().join("crates/cleave-child/tests/symbol_probe/probe.rs"))
        .arg("-o")
        .arg(&out);
    if control {
        cmd.args(["--cfg", "control"]);
    }
    run(&mut cmd);
    out
}

/// What is wrong with the program at `path`: forbidden symbols, and external functions
/// other than the memory intrinsics. Also returns how many of the child's own functions it
/// holds.
fn problems(path: &Path) -> (Vec<String>, usize) {
    let all = run(Command::new("nm").arg("-C").arg(path));
    let undefined = run(Command::new("nm").args(["-C", "-u"]).arg(path));
    let mut found: Vec<String> = all
        .lines()
        .filter(|l| FORBIDDEN.iter().any(|f| l.contains(f)))
        .map(|l| format!("forbidden: {}", l.trim()))
        .collect();
    for line in undefined.lines() {
        let name = line.split_whitespace().last().unwrap_or("");
        let base = name.split('@').next().unwrap_or(name);
        if !ALLOWED_UNDEFINED.contains(&base) && !line.contains(" w ") {
            found.push(format!("external call: {}", line.trim()));
        }
    }
    let own = all.lines().filter(|l| l.contains("cleave_child::")).count();
    (found, own)
}

#[test]
fn release_child_pulls_in_no_panic_allocation_or_formatting() {
    let deps = build_child();
    let probe = link_probe(&deps, false);
    let (found, own) = problems(&probe);
    assert!(
        own > 0,
        "the probe holds none of the child crate's functions: the check would see nothing"
    );
    assert!(
        found.is_empty(),
        "the child crate's release build pulls in code it must not (DESIGN.md section 3): \
         look for unwrap/expect, slice indexing, arithmetic that can overflow, or a libc call \
         in crates/cleave-child\n{}",
        found.join("\n")
    );

    // The control: the same probe with one unwrap() is caught.
    let control = link_probe(&deps, true);
    let (found, _) = problems(&control);
    assert!(
        found
            .iter()
            .any(|f| f.contains("on_panic") || f.contains("panicking")),
        "a probe that unwraps passed the check: {found:?}"
    );
}
