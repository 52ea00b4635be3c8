"""Building the plugin's engines outside a runtime, and calling the STT engine directly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from core.audio.chunk import AudioChunk
from core.engines.base import Engine, EngineContext
from core.engines.llm import ChatDelta, ChatRequest
from core.engines.stt import (
    STTEngine,
    Transcription,
    TranscriptionRequest,
    collect_transcription,
)
from core.stt_stream.events import TranscribedAudio, Transcriber

E = TypeVar("E", bound=Engine)


class NoServices:
    """Speech engines never call back into the gateway; any attempt fails the test."""

    async def embed(
        self, texts: list[str], *, model: str | None = None, input_type: str | None = None
    ) -> list[list[float]]:
        raise AssertionError("a speech engine asked for embeddings")

    def chat(self, request: ChatRequest, *, model: str | None = None) -> AsyncIterator[ChatDelta]:
        raise AssertionError("a speech engine asked for a chat completion")


def context(root: Path, name: str) -> EngineContext:
    return EngineContext(
        name=name, data_dir=root / "data", models_dir=root / "models", services=NoServices()
    )


def build(cls: type[E], settings: Mapping[str, Any], root: Path, name: str) -> E:
    return cls(cls.Settings.model_validate(settings), context(root, name))


@contextlib.contextmanager
def loaded(cls: type[E], settings: Mapping[str, Any], root: Path, name: str) -> Iterator[E]:
    """An engine built from YAML-style settings and loaded; closed afterwards."""
    engine = build(cls, settings, root, name)
    asyncio.run(engine.load())
    try:
        yield engine
    finally:
        asyncio.run(engine.close())


async def transcribe(engine: STTEngine, audio: AudioChunk, **fields: Any) -> Transcription:
    request = TranscriptionRequest(audio=audio, **fields)
    return await collect_transcription(engine.transcribe(request), audio.duration)


def engine_transcriber(engine: STTEngine) -> Transcriber:
    """A session's transcriber backed by the engine itself (no router)."""

    async def run(audio: AudioChunk, *, final: bool) -> TranscribedAudio:
        options: dict[str, object] = {"vad_filter": False, "temperature_fallback": final}
        request = TranscriptionRequest(audio=audio, options=options)
        return TranscribedAudio(tuple([s async for s in engine.transcribe(request)]), engine.name)

    return run
