"""Building a ``llama_cpp`` engine outside a runtime and collecting its replies."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.engines.llm import ChatDelta, ChatMessage, ChatRequest
from plugins.llm_local.engine import LlamaCppEngine
from tests.support import engines

# bench/bench_llm.py still imports it from here.
from tests.support.engines import NoServices as NoServices


def build_engine(settings: Mapping[str, Any], root: Path, name: str = "llm") -> LlamaCppEngine:
    return engines.build_engine(LlamaCppEngine, settings, root, name)


def loaded_engine(
    settings: Mapping[str, Any], root: Path, name: str = "llm"
) -> contextlib.AbstractContextManager[LlamaCppEngine]:
    """Loaded for a whole module; the engine keeps no event-loop state, so tests may use theirs."""
    return engines.loaded_engine(LlamaCppEngine, settings, root, name)


def ask(text: str, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage("user", text),), **fields)


async def collect(engine: LlamaCppEngine, request: ChatRequest) -> list[ChatDelta]:
    return [delta async for delta in engine.chat(request)]


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.text for delta in deltas)
