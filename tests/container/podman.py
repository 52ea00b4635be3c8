"""Podman for the container image test: the engine's settings this machine needs, a Debian base
image made without any registry, and the wheels the image build may reuse.

No image registry is needed anywhere: the base image is debootstrapped from the Debian mirror
the machine's apt uses and imported; everything else comes from that mirror and PyPI during the
build. Slow, one-time results are cached under ``~/.cache/voxgate/container``.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.plugin_dist import REPO_ROOT

CACHE = Path(os.environ.get("VOXGATE_CONTAINER_CACHE", Path.home() / ".cache/voxgate/container"))
BASE_IMAGE = "localhost/voxgate-test-base:bookworm"
SUITE = "bookworm"  # Python 3.11, like the wheels this project pins
INSTALL_HINT = "run `make container-tools` (as root on Debian) to install podman and debootstrap"
#: Podman lowers its own process limit to this before it starts a container.
PODMAN_NPROC = 32768
#: Debian's debian:bookworm-slim leaves these out of every package it installs; so does ours.
SLIM_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""


def require_tools() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the container test runs podman on Linux only")
    missing = [tool for tool in ("podman", "debootstrap") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed; {INSTALL_HINT}")


def _cap_sys_resource() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 24))
    return False


def _crun_refuses_cgroups() -> bool:
    """crun (Debian 12's 1.8) refuses a v1/v2 hybrid cgroup layout whose v2 side has any
    controller ("cgroups in hybrid mode not supported"); runc runs there."""
    controllers = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    return controllers.exists() and bool(controllers.read_text().strip())


def engine_config(folder: Path) -> dict[str, str]:
    """Environment for every podman command: a containers.conf with only what this machine
    needs. Without CAP_SYS_RESOURCE (a sandboxed root), podman's default limits for containers
    (1048576 files, more processes than its own limit) cannot be set, so each container gets its
    caller's own; where crun refuses the cgroup layout, runc runs the containers."""
    lines = []
    if not _cap_sys_resource():
        files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        procs = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        files = 1048576 if files == resource.RLIM_INFINITY else files
        procs = PODMAN_NPROC if procs == resource.RLIM_INFINITY else min(procs, PODMAN_NPROC)
        lines += [
            "[containers]",
            f'default_ulimits = ["nofile={files}:{files}", "nproc={procs}:{procs}"]',
        ]
    if _crun_refuses_cgroups():
        if shutil.which("runc") is None:
            pytest.fail(f"crun cannot run containers here and runc is missing; {INSTALL_HINT}")
        lines += ["[engine]", 'runtime = "runc"']
    path = folder / "containers.conf"
    path.write_text("\n".join(lines) + "\n")
    return {**os.environ, "CONTAINERS_CONF": str(path)}


class Podman:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["podman", *args],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def logged(self, args: Sequence[str], log: Path, timeout: float) -> int:
        """A long command (a build) with its output in ``log``; its exit code."""
        with log.open("wb") as out:
            return subprocess.run(
                ["podman", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                check=False,
                timeout=timeout,
            ).returncode


# -- the base image ------------------------------------------------------------------------------


def debian_sources() -> list[tuple[str, str]]:
    """(mirror URL, suite) pairs of this machine's apt sources for the base image's suites, so
    that the base image is built from (and later updated from) the mirror this machine reaches."""
    wanted = {SUITE, f"{SUITE}-updates", f"{SUITE}-security"}
    found: list[tuple[str, str]] = []
    apt = Path("/etc/apt")
    for path in sorted(apt.glob("sources.list.d/*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
            if "deb" not in fields.get("Types", "").split():
                continue
            for uri in fields.get("URIs", "").split():
                found += [(uri, s) for s in fields.get("Suites", "").split() if s in wanted]
    for path in [apt / "sources.list", *sorted(apt.glob("sources.list.d/*.list"))]:
        if path.exists():
            for match in re.finditer(
                r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", path.read_text(), re.MULTILINE
            ):
                if match[2] in wanted:
                    found.append((match[1], match[2]))
    if not any(suite == SUITE for _, suite in found):
        found.insert(0, ("http://deb.debian.org/debian", SUITE))
    return list(dict.fromkeys(found))


def _slim(root: Path, sources: list[tuple[str, str]]) -> None:
    """What debian:bookworm-slim does: no manuals, docs (but copyrights) or translations, now
    or in packages installed later, and no package caches; apt reads the same mirrors."""
    (root / "etc/dpkg/dpkg.cfg.d/slim").write_text(SLIM_EXCLUDES)
    (root / "etc/apt/apt.conf.d/no-cache").write_text('APT::Keep-Downloaded-Packages "false";\n')
    for folder in (
        "usr/share/man",
        "usr/share/info",
        "usr/share/lintian",
        "var/cache/apt",
        "var/lib/apt/lists",
    ):
        shutil.rmtree(root / folder, ignore_errors=True)
    for folder in ("var/cache/apt/archives/partial", "var/lib/apt/lists/partial"):
        (root / folder).mkdir(parents=True)
    for path in (root / "usr/share/doc").rglob("*"):
        if path.name != "copyright" and (path.is_symlink() or path.is_file()):
            path.unlink()
    for path in (root / "usr/share/locale").iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        elif path.name != "locale.alias":
            path.unlink()
    lines = [f"deb {uri} {suite} main" for uri, suite in sources]
    (root / "etc/apt/sources.list").write_text("\n".join(lines) + "\n")


def _bootstrap(tarball: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "making the base image needs root (debootstrap); or import any Debian 12 image as "
            f"{BASE_IMAGE}"
        )
    sources = debian_sources()
    mirror = next(uri for uri, suite in sources if suite == SUITE)
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent) as scratch:
        root = Path(scratch) / "root"
        log = Path(scratch) / "debootstrap.log"
        with log.open("wb") as out:
            code = subprocess.run(
                ["debootstrap", "--variant=minbase", SUITE, str(root), mirror],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=1200,
            ).returncode
        assert code == 0, f"debootstrap failed:\n{log.read_text()[-3000:]}"
        _slim(root, sources)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.replace(tarball)


def base_image(podman: Podman) -> str:
    """A minimal Debian 12 image: already in podman's store, else imported from the cached
    root file system, else debootstrapped first (about 2 minutes)."""
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return BASE_IMAGE
    tarball = CACHE / f"debian-{SUITE}-minbase.tar"
    if not tarball.exists():
        _bootstrap(tarball)
    podman("import", "--change", 'CMD ["/bin/bash"]', str(tarball), BASE_IMAGE, timeout=600)
    return BASE_IMAGE


# -- what the build may reuse ---------------------------------------------------------------------


def containerfile_arg(name: str) -> str:
    """An ARG's default in the Containerfile."""
    text = (REPO_ROOT / "Containerfile").read_text()
    match = re.search(rf'^ARG {name}=("?)(.*)\1$', text, re.MULTILINE)
    assert match, f"no ARG {name} in the Containerfile"
    return match[2]


def make_variable_lines(target: str) -> list[str]:
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), target],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.splitlines()


def _link(source: Path, folder: Path) -> None:
    target = folder / source.name
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _torch_wheel() -> Path | None:
    """The CPU build of torch the Containerfile pins, as pip on this machine finds it (once)."""
    spec = containerfile_arg("TORCH_SPEC")
    version = spec.split("==", 1)[1]
    folder = CACHE / "torch"
    cached = sorted(folder.glob(f"torch-{version}-*.whl"))
    if cached:
        return cached[0]
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(folder),
            spec,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    cached = sorted(folder.glob(f"torch-{version}-*.whl"))
    # Without it the build downloads it from the Containerfile's TORCH_INDEX instead.
    return cached[0] if result.returncode == 0 and cached else None


def _same_release_as_base() -> bool:
    """A wheel compiled here runs in the image only if this machine is the image's release (the
    image's C library must be as new as the one it was built against)."""
    release = Path("/etc/os-release")
    return release.exists() and f"VERSION_CODENAME={SUITE}" in release.read_text().split()


def wheels_context(folder: Path) -> tuple[Path, str]:
    """A folder for ``--build-context wheels=``: torch's CPU wheel, and the llama-cpp-python
    wheel `make install` compiled when it suits the image; with the CMake flags that wheel was
    built with (the build compiles with the same flags when there is none)."""
    folder.mkdir(parents=True)
    torch = _torch_wheel()
    if torch is not None:
        _link(torch, folder)
    wheels_dir, flags = make_variable_lines("llama-wheel-info")
    if _same_release_as_base():
        for wheel in Path(wheels_dir).glob("llama_cpp_python-*.whl"):
            _link(wheel, folder)
    return folder, flags


def ca_bundle() -> Path | None:
    """The CA certificates pip here trusts, for pip in the build (a TLS-inspecting proxy between
    this machine and PyPI signs with its own authority)."""
    for name in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(name)
        if value and Path(value).is_file():
            return Path(value)
    default = ssl.get_default_verify_paths().openssl_cafile
    return Path(default) if default and Path(default).is_file() else None
