#!/usr/bin/env bash
# Remakes scripts/cleave.order, the functions a sandbox's start runs, which
# scripts/link-release.sh lays out together at the front of the shipped binary's code:
#
#   sudo scripts/symbol-order.sh            # needs perf (linux-perf) and busybox-static
#
# It builds the release binary once, keeping the link's object, then starts from an empty
# list and, over and over: links with the list, runs the benchmark's three sandbox rows as
# uid 65534 under `perf record -e page-faults`, and appends every function whose code was
# faulted in (the instruction that faulted is the one fetched), until a round adds none. The
# kernel maps 64 KiB around each fault, so one round sees one function per 64 KiB it
# touched; the rounds converge because each one moves those functions into the list's
# region and so uncovers the next. The order within the list is the order of discovery.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [ "$(id -u)" != 0 ]; then
    echo "symbol-order.sh: run as root: the sandbox rows run as uid 65534 through setpriv" >&2
    exit 1
fi
command -v perf >/dev/null || { echo "symbol-order.sh: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
target="$(uname -m)-unknown-linux-gnu"
work=$(mktemp -d /var/tmp/cleave-order.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
scripts/mkrootfs.sh "$work/rootfs" >/dev/null

# One build with the link's command printed and its LTO object kept (save-temps); the
# binary's crate is touched so that rustc runs and prints it. CARGO may wrap cargo (a lock).
linker_var="CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER"
export "$linker_var=$repo/scripts/link-release.sh"
touch crates/cleave-cli/src/main.rs
RUSTFLAGS="-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
    ${CARGO:-cargo} rustc --release -q -p cleave-cli --bin cleave --target "$target" -- \
    --print link-args -C save-temps >"$work/link.txt"
link=$(grep -m1 'link-release.sh' "$work/link.txt" || true)
if [ -z "$link" ]; then
    echo "symbol-order.sh: rustc printed no link command (see $work/link.txt)" >&2
    exit 1
fi
# The same command, writing $work/cleave.
link=$(printf '%s' "$link" | sed -E 's|"-o" "[^"]*"|"-o" "'"$work"'/cleave"|')

rows=(
    "spawn --new user,pid,mount,uts,ipc,net,cgroup --rootfs $work/rootfs --proc /proc --dev /dev --tmpfs /tmp -- /bin/true"
    "spawn --preset container --rootfs $work/rootfs -- /bin/true"
    "spawn --new user,pid,mount,uts,ipc,net,cgroup --mount-proc -- /bin/true"
)
: >"$work/order"
for round in $(seq 1 300); do
    CLEAVE_ORDER="$work/order" eval "$link"
    if [ "$round" = 1 ]; then
        # The IFUNC resolvers run at every start, before main.
        nm "$work/cleave" | awk '$2 == "i" { print $3 }' | sort -u >>"$work/order"
    fi
    nm "$work/cleave" | awk '$2 ~ /^[tTwWi]$/ { print $3 }' | sort -u >"$work/text"
    : >"$work/faulted"
    for row in "${rows[@]}"; do
        # shellcheck disable=SC2086 # the row is words
        perf record -q -e page-faults -c 1 -d -o "$work/perf.data" -- \
            setpriv --reuid 65534 --regid 65534 --clear-groups "$work/cleave" $row >/dev/null 2>&1
        # A fault whose data address is its own instruction's: code faulted in.
        perf script -i "$work/perf.data" --comm cleave --no-demangle -F addr,ip,sym 2>/dev/null |
            awk '$1 == $3 { print $4 }' >>"$work/faulted"
    done
    sort -u "$work/faulted" | grep -Fx -f "$work/text" | grep -Fvx -f "$work/order" >"$work/new" || true
    echo "round $round: $(wc -l <"$work/new") functions added" >&2
    [ -s "$work/new" ] || break
    cat "$work/new" >>"$work/order"
done
{
    sed -n '/^#/p' scripts/cleave.order
    cat "$work/order"
} >"$work/cleave.order"
mv "$work/cleave.order" scripts/cleave.order
echo "scripts/cleave.order: $(grep -vc '^#' scripts/cleave.order) functions" >&2
