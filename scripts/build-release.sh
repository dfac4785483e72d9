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
# The explicit --target keeps the static flag away from build scripts and proc-macros.
#
# Relative relocations are packed (DT_RELR, `-z pack-relative-relocs`; lld, and GNU ld from
# 2.38, write it, and glibc's static-pie start-up applies it from 2.36): the position-
# independent binary's ~10,000 pointers to itself then take 3 KiB of table instead of
# 240 KiB that every start read from the file, which took 320 KiB off a sandbox's peak RSS.
#
# The link goes through scripts/link-release.sh, which lays the code a sandbox's start runs
# out together (scripts/cleave.order); see there.
set -eu
cd "$(dirname "$0")/.."
target="$(uname -m)-unknown-linux-gnu"
linker_var="CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER"
export "$linker_var=$PWD/scripts/link-release.sh"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
    cargo build --release -q -p cleave-cli --target "$target" "$@" >&2
echo "$PWD/target/$target/release/cleave"
