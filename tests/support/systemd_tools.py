"""systemd's own tools for the service tests, as `make systemd-tools` provides them.

On Linux a missing tool fails the test with the command that installs it (never a silent
skip); on other systems, which have no systemd, the tests are skipped with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = "run `make systemd-tools` (as root on Debian) to install systemd's tools"


@dataclass(frozen=True)
class Tool:
    path: str
    version: int
    #: Environment additions (a systemd unpacked under ~/.cache finds its own libraries).
    env: dict[str, str]

    def run(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.path, *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**os.environ, **self.env, **(env or {})},
            check=False,
            timeout=120,
        )


def _require_linux() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("systemd runs on Linux only")


def _version(path: str, env: dict[str, str]) -> int:
    out = subprocess.run(
        [path, "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=30,
    ).stdout
    match = re.match(r"systemd (\d+)", out)
    return int(match.group(1)) if match else 0


def _unpacked_roots() -> list[Path]:
    """systemd builds unpacked (not installed) by tests/support/systemd_tools.sh."""
    cache = Path(
        os.environ.get("VOXGATE_SYSTEMD_TOOLS", Path.home() / ".cache/voxgate/systemd-tools")
    )
    return [binary.parents[2] for binary in sorted(cache.glob("*/usr/bin/systemd-analyze"))]


def library_dir(root: Path) -> Path:
    """Where an unpacked build keeps libsystemd-shared (the multiarch folder varies)."""
    found = sorted(root.glob("usr/lib/*/systemd/libsystemd-shared-*.so"))
    if not found:
        raise FileNotFoundError(f"no libsystemd-shared under {root}")
    return found[0].parent


def _unpacked() -> list[Tool]:
    tools = []
    for root in _unpacked_roots():
        env = {"LD_LIBRARY_PATH": str(library_dir(root))}
        binary = str(root / "usr/bin/systemd-analyze")
        tools.append(Tool(binary, _version(binary, env), env))
    return tools


def systemd_analyze(min_version: int = 0) -> Tool:
    """A systemd-analyze at least ``min_version``: the system's, else an unpacked newer one."""
    _require_linux()
    found = []
    system = shutil.which("systemd-analyze")
    if system is not None:
        found.append(Tool(system, _version(system, {}), {}))
    found += _unpacked()
    for tool in found:
        if tool.version >= min_version:
            return tool
    have = ", ".join(str(t.version) for t in found) or "none"
    pytest.fail(f"needs systemd-analyze >= {min_version} (found: {have}); {INSTALL_HINT}")


def executable(name: str) -> str:
    """A systemd tool on PATH (systemd-socket-activate, systemd-nspawn, nsenter)."""
    _require_linux()
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; {INSTALL_HINT}")
    return path


def system_manager(min_version: int) -> Path | None:
    """A systemd to boot in a container that is at least ``min_version``: None for the host's
    own, else the root of an unpacked newer build (its /lib/systemd and libraries)."""
    _require_linux()
    host = systemd_analyze()
    if host.version >= min_version and not host.env:
        return None
    for tool in _unpacked():
        if tool.version >= min_version:
            return Path(tool.path).parents[2]
    pytest.fail(f"needs a systemd >= {min_version} to boot; {INSTALL_HINT}")
