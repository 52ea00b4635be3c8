#!/usr/bin/env bash
# What the container image test (tests/container) needs: Debian's podman to build and run the
# image, debootstrap to make its base image from the package mirror (no image registry is
# needed), and runc, which podman uses where crun refuses the machine's cgroup layout (a v1/v2
# hybrid whose v2 side holds a controller).
# Installs packages only as root with apt-get; elsewhere it says what is missing and goes on
# (the test then fails naming this target).
set -euo pipefail
. "$(dirname "$0")/tools_common.sh"

only_on_linux "container tools: not Linux; the container test needs podman on Linux"

need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v runc >/dev/null || need+=(runc)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if can_apt_install; then
    # podman's recommends bring netavark, aardvark-dns, slirp4netns, fuse-overlayfs and buildah.
    apt_install "${need[@]}"
else
    echo "container tools: missing ${need[*]} (the container test needs them)" >&2
fi
