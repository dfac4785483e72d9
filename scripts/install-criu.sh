#!/usr/bin/env bash
# Installs a CRIU >= 4 that works on this kernel, from Debian's own packages only, for
# cleave's `checkpoint` and `restore` (and for podman, which runs `criu` from PATH itself):
#
#   scripts/install-criu.sh            # as root; idempotent
#
# Why: bookworm's criu 3.17.1 cannot dump on Linux 6.x (`vdso: Unexpected rt vDSO area
# bounds`; `criu check` fails), and criu 4.1.1 (trixie) cannot dump an inet socket on Linux
# >= 6.16, which refuses SO_PASSCRED on inet sockets. Debian sid's criu (4.2.x) has the fix.
#
# How, without touching the host's packages: a private apt configuration (its own sources,
# lists, cache and an empty dpkg status, so nothing of the host is upgraded or even
# consulted) downloads criu and the whole closure of its library dependencies from sid
# (trixie if sid's fails `criu check`), unpacks them into $PREFIX/<suite>, and writes a
# wrapper $WRAPPER that runs that criu through that suite's own loader and libraries. The
# programs criu itself runs (ip, iptables) are the host's, with the host's libraries.
#
# Environment: CLEAVE_CRIU_PREFIX (default /opt/cleave-criu), CLEAVE_CRIU_WRAPPER (default
# /usr/local/sbin/criu, ahead of /usr/sbin in root's PATH), CLEAVE_CRIU_SUITES (default
# "sid trixie": the first that passes `criu check` wins). Exit code 0 when `criu check`
# passes through the wrapper, 1 otherwise.
set -euo pipefail

prefix=${CLEAVE_CRIU_PREFIX:-/opt/cleave-criu}
wrapper=${CLEAVE_CRIU_WRAPPER:-/usr/local/sbin/criu}
suites=${CLEAVE_CRIU_SUITES:-sid trixie}
mirror=${CLEAVE_CRIU_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")

say() { echo "install-criu: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    say "run as root (sudo $0): it writes $prefix and $wrapper"
    exit 1
fi

# The major version of the criu at $1, or nothing.
major() { "$1" --version 2>/dev/null | sed -n 's/^Version: *\([0-9]*\).*/\1/p'; }

# Already done: the wrapper runs a criu >= 4 whose `check` passes.
if [ -x "$wrapper" ] && [ "$(major "$wrapper")" ] && [ "$(major "$wrapper")" -ge 4 ] &&
    "$wrapper" check >/dev/null 2>&1; then
    say "$wrapper is already criu $("$wrapper" --version | sed -n 's/^Version: *//p') and 'criu check' passes; nothing to do"
    exit 0
fi

[ -r "$keyring" ] || {
    say "installing debian-archive-keyring to verify Debian's archive"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debian-archive-keyring >/dev/null
}

# Writes the wrapper for the tree at $1 to the path $2.
write_wrapper() {
    local root=$1 out=$2 lib="$1/usr/lib/$multiarch" loader
    loader=$(cd "$lib" && ls ld-linux*.so.* | head -n1)
    mkdir -p "$(dirname "$out")"
    cat >"$out.new" <<EOF
#!/bin/sh
# Written by cleave's scripts/install-criu.sh: Debian's criu from $(basename "$root"), run through
# that suite's own loader and libraries under $root (the host's libc is older).
GCONV_PATH=$lib/gconv
export GCONV_PATH
exec $lib/$loader --argv0 criu --library-path $lib $root/usr/sbin/criu "\$@"
EOF
    chmod 755 "$out.new"
    mv -f "$out.new" "$out"
}

for suite in $suites; do
    work="$prefix/apt-$suite"
    root="$prefix/$suite"
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/empty"
    : >"$work/status"
    echo "deb [signed-by=$keyring] $mirror $suite main" >"$work/sources.list"
    apt_opts=(
        -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/empty"
        -o "Dir::Etc::Preferences=$work/empty/none" -o "Dir::Etc::PreferencesParts=$work/empty"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
        -o "Dir::State::status=$work/status" -o "APT::Architecture=$arch"
        -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1"
    )
    say "reading Debian $suite's package lists (a private apt configuration in $work; the host's apt is not touched)"
    if ! apt-get -qq "${apt_opts[@]}" update >/dev/null; then
        say "could not read $suite's package lists from $mirror; trying the next suite"
        continue
    fi
    # criu and every library it needs, resolved against an empty system.
    mapfile -t pkgs < <(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends \
        --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances criu 2>/dev/null |
        grep -v '^ ' | grep -v '[<>]' | sort -u)
    version=$(apt-cache "${apt_opts[@]}" show criu 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
    say "downloading criu $version from $suite with ${#pkgs[@]} packages of its closure: ${pkgs[*]}"
    rm -f "$work/debs/"*.deb
    (cd "$work/debs" && apt-get -qq "${apt_opts[@]}" download "${pkgs[@]}" >/dev/null)
    rm -rf "$root.new"
    mkdir -p "$root.new"
    for deb in "$work/debs/"*.deb; do
        dpkg-deb -x "$deb" "$root.new"
    done
    write_wrapper "$root.new" "$work/criu-try"
    if ! "$work/criu-try" check >"$work/check.log" 2>&1; then
        say "criu $version from $suite fails 'criu check' here ($(tail -n1 "$work/check.log")); trying the next suite"
        rm -rf "$root.new"
        continue
    fi
    rm -rf "$root"
    mv "$root.new" "$root"
    rm -f "$work/criu-try"
    write_wrapper "$root" "$wrapper"
    rm -rf "$work/debs" "$work/cache" "$work/lists"
    say "installed criu $version from Debian $suite in $root (with its own libc and loader), run by $wrapper"
    say "'criu check': $("$wrapper" check 2>&1 | tail -n1)"
    case ":$PATH:" in
    *":$(dirname "$wrapper"):"*) ;;
    *) say "note: $(dirname "$wrapper") is not in PATH; cleave finds criu through PATH or --criu $wrapper" ;;
    esac
    exit 0
done
say "no suite of [$suites] gave a criu that passes 'criu check' here; see $prefix/apt-*/check.log"
exit 1
