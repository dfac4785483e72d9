#!/bin/sh
# The linker of the shipped binary (scripts/build-release.sh passes it to rustc as
# `-C linker`): the C compiler driver rustc would have run, with the same arguments, plus,
# when the link is done by lld (rustc's default on x86_64 Linux since 1.90), the functions
# that a sandbox's start runs laid out together at the front of .text
# (scripts/cleave.order, lld's --symbol-ordering-file).
#
# Why: every process cleave starts faults its code in from the file. The kernel maps 64 KiB
# around each fault (fault-around), so code spread over the binary's 3.5 MiB of text costs
# many faults and, above all, resident memory: the code a `cleave spawn` runs was spread
# so that 1.8 MiB of text became resident; put together it takes 579 KiB, and 724 KiB of
# text is resident (issue 13; figures in the commit that added this script).
#
# scripts/cleave.order names each function by its symbol as rustc mangled it. Those names
# carry a hash that changes when a crate's version or build settings change; a name that
# is no longer in the object is looked up by its demangled form instead (every instance of
# that function then moves to the front), and a name found nowhere is passed on for lld to
# ignore (C library functions are found in libc.a this way). A stale list costs speed,
# never correctness: the order of functions does not change what the program does.
set -eu
# CLEAVE_ORDER names another list (scripts/symbol-order.sh tries its candidates with it).
order="${CLEAVE_ORDER:-$(dirname "$0")/cleave.order}"
uses_lld=
for a in "$@"; do
    [ "$a" = "-fuse-ld=lld" ] && uses_lld=1
done
if [ -z "$uses_lld" ] || [ ! -r "$order" ] || ! command -v nm >/dev/null || ! command -v c++filt >/dev/null; then
    exec "${CC:-cc}" "$@"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cleave-link.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The Rust objects of this link (with LTO, one), as "mangled<TAB>demangled" lines.
for a in "$@"; do
    case "$a" in
    *.o)
        [ -f "$a" ] || continue
        nm -p --defined-only "$a" 2>/dev/null | awk 'NF == 3 { print $3 }' >"$tmp/m"
        nm -p -C --defined-only "$a" 2>/dev/null | awk 'NF >= 3 { $1 = ""; $2 = ""; sub(/^  /, ""); print }' >"$tmp/d"
        paste "$tmp/m" "$tmp/d" >>"$tmp/syms" ;;
    esac
done
touch "$tmp/syms"
grep -v -e '^#' -e '^$' "$order" >"$tmp/want" || true
c++filt <"$tmp/want" >"$tmp/want-d"
paste "$tmp/want" "$tmp/want-d" | awk -F '\t' '
    FILENAME == ARGV[1] { have[$1] = 1; inst[$2] = inst[$2] $1 "\n"; next }
    {
        if ($1 in have) print $1
        else if ($2 in inst) printf "%s", inst[$2]
        else print $1
    }' "$tmp/syms" - | awk '!seen[$0]++' >"$tmp/order"
"${CC:-cc}" "$@" -Wl,--symbol-ordering-file="$tmp/order" -Wl,--no-warn-symbol-ordering
