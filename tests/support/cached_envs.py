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
