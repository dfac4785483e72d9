#!/usr/bin/env bash
# Runs every test of cleave, as CI does: CI=true turns any skip into a failure.
#
#   scripts/test.sh            # as root (no sudo needed on a root image)
#   sudo scripts/test.sh       # from a normal user's shell
#
# The tests need root (namespaces, cgroups, an unprivileged uid to drop to) and, from
# Debian, what they run besides cleave: setpriv (util-linux) to drop to uid 65534,
# busybox-static for the test rootfs, newuidmap/newgidmap (uidmap) for ranges from
# /etc/subuid, iproute2 to look at a network namespace's loopback, nm (binutils) for
# the child crate's symbol check, zsh and groff (groff-base) to parse the generated completions
# and man pages, and the real clients of the OCI runtime tests
# (crates/cleave-cli/tests/clients.rs): podman (with conmon), docker.io (dockerd), containerd
# (ctr and the runc v2 shim), and runc as the reference runtime those tests can be pointed at
# (CLEAVE_CLIENT_RUNTIME=/usr/sbin/runc), and protoc (protobuf-compiler) to build the CRI
# client of tests/cri.rs (k8s-cri's generated code); scripts/runtime-tools.sh installs Go and
# the Go packages the runtime-tools validation programs build with; bubblewrap, whose view
# from inside the bwrap tests compare with cleave's (crates/cleave-cli/tests/bwrap.rs). The tests start their own
# daemons; the services the
# packages may start are not used. Missing ones are
# installed with apt-get (say so first; note that busybox-static replaces Debian's busybox).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh: run as root (sudo scripts/test.sh): the tests make namespaces and cgroups and drop to uid 65534" >&2
    exit 1
fi
# sudo resets PATH: find the invoking user's rustup toolchain too.
if [ -n "${SUDO_USER:-}" ]; then
    PATH="$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin:$PATH"
fi
export PATH="$HOME/.cargo/bin:$PATH"
need=()
command -v setpriv >/dev/null || need+=(util-linux)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v ip >/dev/null || need+=(iproute2)
command -v nm >/dev/null || need+=(binutils)
command -v zsh >/dev/null || need+=(zsh)
command -v groff >/dev/null || need+=(groff-base)
[ -x /usr/bin/podman ] && [ -x /usr/bin/conmon ] || need+=(podman conmon)
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need+=(docker.io)
[ -x /usr/bin/containerd ] && [ -x /usr/bin/ctr ] || need+=(containerd)
[ -x /usr/sbin/runc ] || need+=(runc)
command -v protoc >/dev/null || need+=(protobuf-compiler)
[ -x /usr/bin/bwrap ] || need+=(bubblewrap)
if ((${#need[@]})); then
    echo "scripts/test.sh: installing from Debian: ${need[*]} (busybox-static replaces busybox)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# CRIU >= 4 for the checkpoint tests (Debian sid's, beside the host's packages).
scripts/install-criu.sh
export CI=true
# The OCI runtime-tools validation programs (tests/conformance.rs runs them): Debian's Go
# and source package, built once into /var/tmp/cleave-runtime-tools (reruns reuse it).
scripts/runtime-tools.sh --build-only
# A preset sandbox mounts a tmpfs over /tmp, which would hide the test probes and the files
# the tests bind in if the build were under /tmp (a checkout in /tmp): build elsewhere then.
target=${CARGO_TARGET_DIR:-$(pwd -P)/target}
case "$target/" in
/tmp/*)
    export CARGO_TARGET_DIR="/var/tmp/cleave-target-$(printf %s "$target" | cksum | cut -d' ' -f1)"
    echo "scripts/test.sh: $target is under /tmp, which the sandbox tests hide: building in $CARGO_TARGET_DIR" >&2
    ;;
esac
exec cargo test --workspace "$@"
