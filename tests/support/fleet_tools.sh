#!/usr/bin/env bash
# The processes the fleet tests run beside the daemons: HAProxy (Debian's package, installed as
# root) and valkey-server. Debian 12 ships Valkey only in bookworm-backports, so where no
# valkey-server is on PATH its packages are unpacked under ~/.cache/voxgate/fleet-tools (the
# system's apt sources and installed packages stay as they are).
# Installs only as root with apt-get; elsewhere it says what is missing and goes on (the tests
# then fail with the command to run).
set -euo pipefail

cache="${VOXGATE_FLEET_TOOLS:-$HOME/.cache/voxgate/fleet-tools}"
if [ "$(uname -s)" != Linux ]; then
    echo "fleet tools: not Linux; install valkey-server and haproxy yourself for the fleet tests"
    exit 0
fi

if ! command -v haproxy >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends haproxy ||
            { apt-get update -qq && apt-get install -y --no-install-recommends haproxy; }
    else
        echo "fleet tools: haproxy is missing (the fleet tests need it)" >&2
    fi
fi

if command -v valkey-server >/dev/null || ls "$cache"/*/usr/bin/valkey-server >/dev/null 2>&1; then
    exit 0
fi
. /etc/os-release
if [ "${ID:-}" != debian ] || [ -z "${VERSION_CODENAME:-}" ] || ! command -v apt-get >/dev/null; then
    echo "fleet tools: valkey-server is missing (the fleet tests need it)" >&2
    exit 0
fi

# apt with its own package lists, so the system's sources and state stay as they are. The
# server's libraries come from the release itself and are unpacked beside it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
{
    echo "deb http://deb.debian.org/debian ${VERSION_CODENAME} main"
    echo "deb http://deb.debian.org/debian ${VERSION_CODENAME}-backports main"
} >"$work/sources.list"
apt_options=(
    -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root
)
apt-get "${apt_options[@]}" update -qq
suite="${VERSION_CODENAME}-backports"
(cd "$work/debs" && apt-get "${apt_options[@]}" download -qq \
    "valkey-server/$suite" "valkey-tools/$suite" libjemalloc2 liblzf1)
deb_version=$(dpkg-deb -f "$work"/debs/valkey-tools_*.deb Version)
target="$cache/$deb_version"
rm -rf "$target.partial"
mkdir -p "$target.partial"
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$target.partial"
done
mv "$target.partial" "$target"
echo "fleet tools: valkey-server $deb_version unpacked under $target"
