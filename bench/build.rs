//! Compiles the raw C baselines (bench/c/*.c) with -O2 into the benchmark binary, so that
//! they are timed by the same harness, in the same process, as cleave's calls.
fn main() {
    println!("cargo:rerun-if-changed=c/baselines.c");
    cc::Build::new()
        .file("c/baselines.c")
        .opt_level(2)
        .warnings(true)
        .compile("cleave_bench_c");
}
