"""Where environments that tests build from the package registry once, and reuse, are kept."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cached_env_folder(name: str) -> Path:
    """``$VOXGATE_TEST_ENVS_DIR/<name>``, by default under the user's cache folder."""
    root = os.environ.get("VOXGATE_TEST_ENVS_DIR")
    base = Path(root) if root else Path(platformdirs.user_cache_dir("voxgate")) / "test-envs"
    return base / name


def given_python(variable: str) -> Path | None:
    """The interpreter the environment variable ``variable`` names, to use instead of building
    an environment; ``None`` when it is unset."""
    given = os.environ.get(variable)
    if not given:
        return None
    python = Path(given)
    assert python.exists(), f"{variable}={given} does not exist"
    return python
