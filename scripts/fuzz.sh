#!/bin/sh
# Fuzzes every parser of user text: runs each cargo-fuzz target in fuzz/ for SECONDS (default
# 60), one after the other, starting from fuzz/seeds/TARGET and growing fuzz/corpus/TARGET,
# then prints one line per target: its budget, executions per second, corpus size, and
# whether it found a crash (saved under fuzz/artifacts/TARGET/). Exits 1 if any target crashed.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 300 flags idmap
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain its nightly flags are
# enabled with RUSTC_BOOTSTRAP=1. Without nightly, `cargo test --workspace` still checks the
# same properties over fuzz/seeds/ (crates/cleave/tests/parser_seeds.rs).
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
case $secs in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;; esac
cd "$(dirname "$0")/../fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is not installed: run \`cargo install cargo-fuzz\`" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
targets=${*:-$(cargo fuzz list)}
summary=""
failed=0
for t in $targets; do
    mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
    log="artifacts/$t.log"
    echo "fuzz.sh: $t for ${secs}s (log in fuzz/$log)"
    if cargo fuzz run --sanitizer none "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" \
        -max_len=256 -dict=parsers.dict -print_final_stats=1 >"$log" 2>&1; then
        result="no crash"
    else
        result="CRASH: $(grep -m1 -E 'panicked at|ERROR: ' "$log" || echo 'see the log'); input in fuzz/artifacts/$t/"
        failed=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    size=$(find "corpus/$t" -type f | wc -l)
    summary="$summary$(printf '%-12s %4ss  %9s runs  %7s exec/s  corpus %5s  %s' \
        "$t" "$secs" "${runs:-?}" "${rate:-?}" "$size" "$result")
"
done
printf '\n%s' "$summary"
exit $failed
