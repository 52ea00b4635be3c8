#!/usr/bin/env bash
# systemd's own tools for the service tests (tests/core/service): systemd-analyze,
# systemd-socket-activate and systemd-nspawn from the distribution, and, where its systemd is
# older than 253 (Debian 12 has 252), a systemd-analyze from Debian backports unpacked under
# ~/.cache/voxgate/systemd-tools (not installed) to verify Type=notify-reload units.
# Installs packages only as root with apt-get; elsewhere it says what is missing and goes on.
set -euo pipefail
. "$(dirname "$0")/tools_common.sh"

cache="${VOXGATE_SYSTEMD_TOOLS:-$HOME/.cache/voxgate/systemd-tools}"
only_on_linux "systemd tools: not Linux, nothing to install"

need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v systemd-socket-activate >/dev/null || need+=(systemd)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v nsenter >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    if can_apt_install; then
        apt_install --no-install-recommends "${need[@]}"
    else
        echo "systemd tools: missing ${need[*]} (the service tests need them)" >&2
        exit 0
    fi
fi

version=$(systemd-analyze --version | awk 'NR == 1 {print $2}')
if [ "$version" -ge 253 ] || ls "$cache"/*/usr/bin/systemd-analyze >/dev/null 2>&1; then
    exit 0
fi
if ! debian_with_apt; then
    echo "systemd tools: systemd $version cannot verify Type=notify-reload units" >&2
    exit 0
fi

suite="${VERSION_CODENAME}-backports"
exec bash "$(dirname "$0")/debian_unpack.sh" "systemd tools" "$cache" systemd "$suite" \
    "systemd/$suite" "libsystemd-shared/$suite"
