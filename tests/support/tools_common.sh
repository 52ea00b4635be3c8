# Sourced by the *_tools.sh scripts: where their tools can be had, installing them from the
# system's apt sources where that is allowed, and whether Debian packages can be unpacked here
# (debian_unpack.sh).

# only_on_linux MESSAGE: elsewhere, says MESSAGE and ends the script: the tools are Linux's.
only_on_linux() {
    if [ "$(uname -s)" != Linux ]; then
        echo "$1"
        exit 0
    fi
}

# True where packages can be installed: as root, with apt-get.
can_apt_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
}

# apt_install [OPTION...] PACKAGE...: the package lists are refreshed only when the first try
# fails (a fresh container has none).
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "$@" || { apt-get update -qq && apt-get install -y "$@"; }
}

# True on Debian with apt-get; reads /etc/os-release, so VERSION_CODENAME names the release.
debian_with_apt() {
    . /etc/os-release
    [ "${ID:-}" = debian ] && [ -n "${VERSION_CODENAME:-}" ] && command -v apt-get >/dev/null
}
