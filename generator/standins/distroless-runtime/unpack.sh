#!/bin/sh
# unpack.sh DEST PACKAGE...: what the distroless build does with a Debian package:
# download the .deb, unpack its data into DEST (no maintainer scripts run) and
# record its control fields in DEST/var/lib/dpkg/status.d/ for image scanners.
set -eu
dest=$1
shift
work=$(mktemp -d)
cd "$work"
apt-get download "$@"
mkdir -p "$dest/var/lib/dpkg/status.d"
for deb in ./*.deb; do
    dpkg-deb --extract "$deb" "$dest"
    name=$(dpkg-deb --field "$deb" Package)
    dpkg-deb --field "$deb" > "$dest/var/lib/dpkg/status.d/$name"
done
cd /
rm -rf "$work"
