"""Building a ``llama_cpp`` engine outside a runtime and collecting its replies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from core.engines.base import EngineContext
from core.engines.llm import ChatDelta, ChatMessage, ChatRequest
from plugins.llm_local.engine import LlamaCppEngine


class NoServices:
    """The engine never calls back into the gateway; any attempt is a test failure."""

    async def embed(
        self, texts: list[str], *, model: str | None = None, input_type: str | None = None
    ) -> list[list[float]]:
        raise AssertionError("the LLM engine asked for embeddings")

    def chat(self, request: ChatRequest, *, model: str | None = None) -> AsyncIterator[ChatDelta]:
        raise AssertionError("the LLM engine asked the gateway for a chat completion")


def build_engine(settings: Mapping[str, Any], root: Path, name: str = "llm") -> LlamaCppEngine:
    context = EngineContext(
        name=name, data_dir=root / "data", models_dir=root / "models", services=NoServices()
    )
    return LlamaCppEngine(LlamaCppEngine.Settings.model_validate(settings), context)


@contextlib.contextmanager
def loaded_engine(
    settings: Mapping[str, Any], root: Path, name: str = "llm"
) -> Iterator[LlamaCppEngine]:
    """Loaded for a whole module; the engine keeps no event-loop state, so tests may use theirs."""
    engine = build_engine(settings, root, name)
    asyncio.run(engine.load())
    try:
        yield engine
    finally:
        asyncio.run(engine.close())


def ask(text: str, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage("user", text),), **fields)


async def collect(engine: LlamaCppEngine, request: ChatRequest) -> list[ChatDelta]:
    return [delta async for delta in engine.chat(request)]


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.text for delta in deltas)
