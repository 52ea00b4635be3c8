#!/usr/bin/env bash
# The processes the fleet tests run beside the daemons: HAProxy (Debian's package, installed as
# root) and valkey-server. Debian 12 ships Valkey only in bookworm-backports, so where no
# valkey-server is on PATH its packages are unpacked under ~/.cache/voxgate/fleet-tools (the
# system's apt sources and installed packages stay as they are).
# Installs only as root with apt-get; elsewhere it says what is missing and goes on (the tests
# then fail with the command to run).
set -euo pipefail
. "$(dirname "$0")/tools_common.sh"

cache="${VOXGATE_FLEET_TOOLS:-$HOME/.cache/voxgate/fleet-tools}"
only_on_linux \
    "fleet tools: not Linux; install valkey-server and haproxy yourself for the fleet tests"

if ! command -v haproxy >/dev/null; then
    if can_apt_install; then
        apt_install --no-install-recommends haproxy
    else
        echo "fleet tools: haproxy is missing (the fleet tests need it)" >&2
    fi
fi

if command -v valkey-server >/dev/null || ls "$cache"/*/usr/bin/valkey-server >/dev/null 2>&1; then
    exit 0
fi
if ! debian_with_apt; then
    echo "fleet tools: valkey-server is missing (the fleet tests need it)" >&2
    exit 0
fi

# The server's libraries come from the release itself and are unpacked beside it.
suite="${VERSION_CODENAME}-backports"
exec bash "$(dirname "$0")/debian_unpack.sh" "fleet tools" "$cache" valkey-tools \
    "${VERSION_CODENAME} $suite" "valkey-server/$suite" "valkey-tools/$suite" libjemalloc2 liblzf1
