"""Running voxgate's command-line modules as a user would, in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def run_module(
    module: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` with this interpreter; output captured as text, never raises
    on a failing exit code (the tests look at it)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=timeout,
    )


def voxgate(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The ``voxgate`` command with ``args``."""
    return run_module("core.cli.main", *args, env=env)
