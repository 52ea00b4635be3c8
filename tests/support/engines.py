"""Engines built outside a runtime, for tests and benchmarks: a context whose services fail any
call back into the gateway, and building or loading an engine from YAML-style settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from core.engines.base import Engine, EngineContext

E = TypeVar("E", bound=Engine)


class NoServices:
    """For engines that never call back into the gateway: any attempt fails loudly."""

    async def embed(
        self, texts: list[str], *, model: str | None = None, input_type: str | None = None
    ) -> list[list[float]]:
        raise AssertionError("the engine asked the gateway for embeddings")


def engine_context(name: str, data_dir: Path, models_dir: Path) -> EngineContext:
    return EngineContext(name=name, data_dir=data_dir, models_dir=models_dir, services=NoServices())


def build_engine(cls: type[E], settings: Mapping[str, Any], root: Path, name: str) -> E:
    """``cls`` with YAML-style ``settings``, its data and models under ``root``."""
    context = engine_context(name, root / "data", root / "models")
    return cls(cls.Settings.model_validate(settings), context)


@contextlib.contextmanager
def loaded_engine(cls: type[E], settings: Mapping[str, Any], root: Path, name: str) -> Iterator[E]:
    """:func:`build_engine`, loaded; closed afterwards. The engine keeps no event-loop state,
    so callers may use loops of their own in between."""
    engine = build_engine(cls, settings, root, name)
    asyncio.run(engine.load())
    try:
        yield engine
    finally:
        asyncio.run(engine.close())
