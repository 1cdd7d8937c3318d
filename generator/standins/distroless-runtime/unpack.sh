#!/bin/sh
# unpack.sh DEST ARCH PACKAGE...: what the distroless build does with a Debian
# package: download the .deb built for ARCH (amd64, arm64), unpack its data into DEST
# (no maintainer scripts run) and record its control fields in
# DEST/var/lib/dpkg/status.d/ for image scanners.
set -eu
dest=$1
arch=$2
shift 2
work=$(mktemp -d)
cd "$work"
for package in "$@"; do
    set -- "$@" "$package:$arch"
    shift
done
apt-get download "$@"
mkdir -p "$dest/var/lib/dpkg/status.d"
for deb in ./*.deb; do
    dpkg-deb --extract "$deb" "$dest"
    name=$(dpkg-deb --field "$deb" Package)
    dpkg-deb --field "$deb" > "$dest/var/lib/dpkg/status.d/$name"
done
cd /
rm -rf "$work"
