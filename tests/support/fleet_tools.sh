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

# The server's libraries come from the release itself and are unpacked beside it.
suite="${VERSION_CODENAME}-backports"
exec bash "$(dirname "$0")/debian_unpack.sh" "fleet tools" "$cache" valkey-tools \
    "${VERSION_CODENAME} $suite" "valkey-server/$suite" "valkey-tools/$suite" libjemalloc2 liblzf1
