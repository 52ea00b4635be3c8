"""Where models live: ``<models dir>/<org>/<name>``.

The models directory is the configured one (``models_dir`` in the YAML, which
``VOXGATE_MODELS_DIR`` overrides), else ``VOXGATE_MODELS_DIR``, else ``<data dir>/models``. A
model may name an environment variable of its own (``dir_env``) that replaces the
``<models dir>/<org>`` part, as ``QWEN_TTS_MODELS_DIR`` does for Qwen's models.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.config.paths import default_data_dir
from core.model_store.registry import ModelSpec


def models_root(configured: Path | None = None) -> Path:
    if configured is not None:
        return configured.expanduser()
    override = os.environ.get("VOXGATE_MODELS_DIR")
    if override:
        return Path(override).expanduser()
    return default_data_dir() / "models"


def model_dir(spec: ModelSpec, root: Path) -> Path:
    """The folder the model must be in (whether or not it exists)."""
    if spec.dir_env:
        override = os.environ.get(spec.dir_env)
        if override:
            return Path(override).expanduser() / spec.name
    return root / spec.org / spec.name


def staging_dir(target: Path, purpose: str) -> Path:
    """A hidden sibling of ``target`` (same filesystem, so moving it into place is atomic)."""
    return target.with_name(f".{target.name}.{purpose}")
