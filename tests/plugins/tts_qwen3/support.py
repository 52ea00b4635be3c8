"""Building the qwen3 engine outside a runtime, on a models directory the test chooses."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from plugins.tts_qwen3.engine import Qwen3Engine
from tests.support.engines import engine_context


def make_engine(root: Path, models: Path, **settings: Any) -> Qwen3Engine:
    context = engine_context("qwen", root / "data", models)
    return Qwen3Engine(Qwen3Engine.Settings.model_validate(settings), context)


@contextlib.asynccontextmanager
async def loaded_engine(root: Path, models: Path, **settings: Any) -> AsyncIterator[Qwen3Engine]:
    qwen = make_engine(root, models, **settings)
    await qwen.load()
    try:
        yield qwen
    finally:
        await qwen.close()
