#!/bin/sh
# Builds a small root filesystem from Debian's busybox-static, for cleave's tests, the
# README's examples and the benchmarks:
#
#   scripts/mkrootfs.sh DIR        # installs busybox-static with apt when it is missing
#                                  # (it replaces Debian's busybox package, and says so)
#
# DIR gets /bin/busybox with one symlink per applet, the usual empty mount points
# (/proc /dev /sys /tmp /run /mnt), and a minimal /etc (passwd, group, hostname).
# Running it again on the same DIR refreshes it. Exit code 0 on success, 1 on any failure.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 1
fi
dir=$1
busybox=/bin/busybox
if ! dpkg -s busybox-static >/dev/null 2>&1; then
    if dpkg -s busybox >/dev/null 2>&1; then
        echo "mkrootfs: installing busybox-static, which replaces Debian's busybox package (they conflict; apt removes busybox)" >&2
    else
        echo "mkrootfs: installing busybox-static" >&2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null
fi

mkdir -p "$dir"
cd "$dir"
mkdir -p bin sbin usr/bin usr/sbin etc proc dev sys tmp run mnt root home var/tmp
chmod 1777 tmp var/tmp
cp -f "$busybox" bin/busybox
for applet in $(bin/busybox --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$(dirname "$applet")"
    ln -sf /bin/busybox "$applet"
done
cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo cleave > etc/hostname
echo "mkrootfs: $(bin/busybox --list | wc -l) applets in $(pwd)" >&2
