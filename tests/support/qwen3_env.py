"""Where the Qwen3-TTS worker environment for tests and benchmarks is cached, and the script
that writes tiny random-weight checkpoints with it (see tests/plugins/tts_qwen3/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from plugins.tts_qwen3.environment import ENVIRONMENT

#: Run with the environment's Python: ``build_tiny_qwen3.py MODELS_DIR [--kind ...]``.
BUILDER = Path(__file__).with_name("build_tiny_qwen3.py")


def cached_env_folder() -> Path:
    root = os.environ.get("VOXGATE_TEST_ENVS_DIR")
    base = Path(root) if root else Path(platformdirs.user_cache_dir("voxgate")) / "test-envs"
    return base / ENVIRONMENT.name
