"""The Qwen3-TTS worker environment, tiny random-weight checkpoints and an engine on them.

The environment is the real one ``voxgate plugins install tts_qwen3`` builds (torch 2.13 CPU,
qwen-tts 0.1.1, the torchaudio repair). It is built once into a cache folder and reused:
``$VOXGATE_TEST_QWEN_PYTHON`` names an existing interpreter instead; otherwise the folder is
``$VOXGATE_TEST_ENVS_DIR/tts_qwen3`` (default ``<user cache dir>/voxgate/test-envs``). The first
build downloads about 1.9 GB from PyPI; ``make qwen-test-env`` does it ahead of the tests. Set
``VOXGATE_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu`` where PyPI's torch would be
the (much larger) CUDA build.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from core.workers.install import install_environment
from plugins.tts_qwen3.engine import Qwen3Engine
from plugins.tts_qwen3.environment import ENVIRONMENT
from tests.plugins.tts_qwen3.support import loaded_engine
from tests.support.cached_envs import given_python
from tests.support.qwen3_env import BUILDER, cached_env_folder


@pytest.fixture(scope="session")
def qwen_python() -> Path:
    given = given_python("VOXGATE_TEST_QWEN_PYTHON")
    if given:
        return given
    index = os.environ.get("VOXGATE_TORCH_INDEX_URL") or None  # e.g. PyTorch's CPU index
    return install_environment(ENVIRONMENT, cached_env_folder(), first_index_url=index)


@pytest.fixture(scope="session")
def tiny_models(qwen_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory holding tiny CustomVoice and Base checkpoints where the real ones go
    (so ``custom_0_6b`` and ``base_0_6b`` resolve to them)."""
    root = tmp_path_factory.mktemp("qwen-models")
    subprocess.run(
        [str(qwen_python), str(BUILDER), str(root)],
        check=True,
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return root


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine(
    qwen_python: Path,
    tiny_models: Path,
    engine_settings: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Qwen3Engine]:
    """One loaded engine per test module, on the tiny checkpoints and cloning with the tiny Base
    one; the module's ``engine_settings`` fixture gives the rest of its settings."""
    async with loaded_engine(
        tmp_path_factory.mktemp("qwen-engine"),
        tiny_models,
        python=str(qwen_python),
        clone_model="base_0_6b",
        **engine_settings,
    ) as qwen:
        yield qwen
