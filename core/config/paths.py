"""Default locations, following each operating system's conventions."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "voxgate"


def default_data_dir() -> Path:
    """XDG data dir on Linux, ``~/Library/Application Support`` on macOS, LOCALAPPDATA on
    Windows; ``VOXGATE_DATA_DIR`` overrides."""
    override = os.environ.get("VOXGATE_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_file() -> Path:
    """``VOXGATE_CONFIG``, else ``config/ai_backend.yaml`` in the working directory, else the
    user's config dir (``~/.config/voxgate/ai_backend.yaml`` on Linux)."""
    override = os.environ.get("VOXGATE_CONFIG")
    if override:
        return Path(override).expanduser()
    local = Path("config") / "ai_backend.yaml"
    if local.exists():
        return local
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "ai_backend.yaml"
