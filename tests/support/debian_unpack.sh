#!/usr/bin/env bash
# Unpacks Debian packages under CACHE/<version> without installing them: apt reads package lists
# of its own, so the system's apt sources and installed packages stay as they are.
#
#   debian_unpack.sh LABEL CACHE NAMED_BY "SUITE ..." PACKAGE ...
#
# NAMED_BY is the package whose version names the folder; SUITEs are the Debian suites to read
# (space separated); each PACKAGE may name its suite (valkey-server/bookworm-backports).
set -euo pipefail

label=$1 cache=$2 named_by=$3 suites=$4
shift 4

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
for suite in $suites; do
    echo "deb http://deb.debian.org/debian $suite main"
done >"$work/sources.list"
apt_options=(
    -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root
)
apt-get "${apt_options[@]}" update -qq
(cd "$work/debs" && apt-get "${apt_options[@]}" download -qq "$@")
deb_version=$(dpkg-deb -f "$work"/debs/"${named_by}"_*.deb Version)
target="$cache/$deb_version"
rm -rf "$target.partial"
mkdir -p "$target.partial"
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$target.partial"
done
mv "$target.partial" "$target"
echo "$label: $named_by $deb_version unpacked under $target"
