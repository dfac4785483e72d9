#!/bin/sh
# Builds the `cleave` binary the way it is shipped and benchmarked: the release profile
# (whole-program optimisation, see Cargo.toml) and linked statically against glibc.
#
#   scripts/build-release.sh        # prints the binary's path on stdout
#
# Why static: every dynamically linked program pays for the loader at start — mapping
# libgcc_s, libm and libc, relocating, and each library's CPU-feature probing (cpuid, which
# traps to the hypervisor on a virtual machine). For a tool whose job is to start another
# program, that is most of its own start-up time. `cargo build --release` still works and
# gives the same code, dynamically linked (BENCHMARKS.md shows both).
#
# Why not position-independent: a static-pie binary relocates itself at every start, about
# 10,000 relocations that write into 190 KiB of .data.rel.ro, one copied page after another;
# that was a third of the CPU time of a short runc-style verb such as `state` or `pause`.
# The binary's own image then sits at a fixed address (heap, stack, mmap areas and the
# vDSO are still randomised), as Debian's runc and most Go programs are built.
# The explicit --target keeps both flags away from build scripts and proc-macros.
set -eu
cd "$(dirname "$0")/.."
target="$(uname -m)-unknown-linux-gnu"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
    cargo build --release -q -p cleave-cli --target "$target" "$@" >&2
echo "$PWD/target/$target/release/cleave"
