#!/usr/bin/env bash
# Checkpoint and restore of a small container, cleave next to runc, both driving the same
# CRIU (scripts/install-criu.sh's): prints a Markdown section for BENCHMARKS.md.
#
#   sudo bench/checkpoint.sh [CLEAVE] [RUNS]     # bench/run appends its output
#
# The container: busybox sh counting into a file five times a second, plus one sleeping
# child, from runc's default spec (no terminal) over a busybox rootfs. Each run starts a
# fresh container (not timed), times `checkpoint` (the container stops) and `restore -d`
# (a new id), then deletes it. Wall-clock per command, median and min of RUNS (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
cleave=${1:-target/release/cleave}
runs=${2:-20}
criu=$(command -v criu || true)
if [ -z "$criu" ] || ! "$criu" check >/dev/null 2>&1; then
    scripts/install-criu.sh >&2
    criu=$(command -v criu)
fi
work=$(mktemp -d /var/tmp/cleave-bench-ck.XXXXXX)
trap 'for r in runc cleave; do for id in $(ls "$work/state-$r" 2>/dev/null); do
        [ "$r" = runc ] && runc --root "$work/state-$r" delete -f "$id" >/dev/null 2>&1
        [ "$r" = cleave ] && "$cleave" --root "$work/state-$r" delete -f "$id" >/dev/null 2>&1
      done; done; rm -rf "$work"' EXIT
scripts/mkrootfs.sh "$work/rootfs" >/dev/null
for r in runc cleave; do
    mkdir -p "$work/b-$r"
    (cd "$work/b-$r" && runc spec)
    sed -i -e 's|"terminal": true|"terminal": false|' \
        -e 's|"sh"$|"sh", "-c", "sleep 100000 \& i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done"|' \
        -e "s|\"path\": \"rootfs\"|\"path\": \"$work/rootfs\"|" -e 's|"readonly": true|"readonly": false|' \
        "$work/b-$r/config.json"
done

now() { date +%s%N; }
# one RUNTIME I: run, checkpoint (timed), restore (timed), delete; prints "ck_ns rs_ns".
one() {
    local r=$1 i=$2 bin root bundle img t0 t1 t2
    if [ "$r" = runc ]; then bin=(runc --criu "$criu"); else bin=("$cleave" --criu "$criu"); fi
    root=$work/state-$r bundle=$work/b-$r img=$work/img-$r-$i
    "${bin[@]}" --root "$root" run -d --bundle "$bundle" "c$i" </dev/null >/dev/null 2>&1
    # The counter has run once: the container is fully up.
    until [ -s "$work/rootfs/tmp/count" ]; do sleep 0.05; done
    t0=$(now)
    "${bin[@]}" --root "$root" checkpoint --image-path "$img" "c$i" >/dev/null 2>"$work/err" ||
        return 1
    t1=$(now)
    "${bin[@]}" --root "$root" restore -d --image-path "$img" --bundle "$bundle" "r$i" \
        </dev/null >/dev/null 2>>"$work/err" || return 1
    t2=$(now)
    # Restored means running again.
    local state
    state=$("${bin[@]}" --root "$root" state "r$i" 2>>"$work/err") || return 1
    grep -q '"status": *"running"' <<<"$state" ||
        { echo "r$i is not running after restore" >> "$work/err"; return 1; }
    "${bin[@]}" --root "$root" delete -f "r$i" >/dev/null 2>&1 || true
    "${bin[@]}" --root "$root" delete -f "c$i" >/dev/null 2>&1 || true
    rm -rf "$img" "$work/rootfs/tmp/count"
    echo "$(((t1 - t0) / 1000)) $(((t2 - t1) / 1000))"
}
stats() { sort -n | awk '{a[NR]=$1} END {printf "%.1f\t%.1f\n", a[int((NR+1)/2)]/1000, a[1]/1000}'; }

declare -A med mins
for r in runc cleave; do
    : > "$work/t-$r"
    for i in $(seq "$runs"); do
        if ! one "$r" "$i" >> "$work/t-$r"; then
            echo "$r: failed: $(grep -m1 . "$work/err")" >&2
            exit 1
        fi
    done
    read -r med[$r-ck] mins[$r-ck] < <(cut -d' ' -f1 "$work/t-$r" | stats)
    read -r med[$r-rs] mins[$r-rs] < <(cut -d' ' -f2 "$work/t-$r" | stats)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "## Checkpoint and restore (CRIU $("$criu" --version | sed -n 's/^Version: //p'), as root)"
echo
echo "A busybox counter and one sleeping child from runc's default spec; wall-clock of the"
echo "runtime's command, median (min) of $runs runs, ms. Both runtimes drive the same criu."
echo
echo "| | runc | cleave | cleave / runc |"
echo "|---|---|---|---|"
echo "| checkpoint | ${med[runc-ck]} (${mins[runc-ck]}) | ${med[cleave-ck]} (${mins[cleave-ck]}) | $(ratio "${med[cleave-ck]}" "${med[runc-ck]}") |"
echo "| restore -d | ${med[runc-rs]} (${mins[runc-rs]}) | ${med[cleave-rs]} (${mins[cleave-rs]}) | $(ratio "${med[cleave-rs]}" "${med[runc-rs]}") |"
