"""Where the Qwen3-TTS worker environment for tests and benchmarks is cached, and the script
that writes tiny random-weight checkpoints with it (see tests/plugins/tts_qwen3/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from plugins.tts_qwen3.environment import ENVIRONMENT
from tests.support import cached_envs

#: Run with the environment's Python: ``build_tiny_qwen3.py MODELS_DIR [--kind ...]``.
BUILDER = Path(__file__).with_name("build_tiny_qwen3.py")


def cached_env_folder() -> Path:
    return cached_envs.cached_env_folder(ENVIRONMENT.name)
