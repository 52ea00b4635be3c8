"""A TTS engine that dies part-way through a reply, for testing how a realtime session replaces
it (the replacement in those tests is a real engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

import numpy as np
from pydantic import Field

from core.audio.chunk import AudioChunk
from core.engines import EngineSettings, EngineUnavailable, SpeechRequest, TTSEngine, Voice
from core.hookspecs import hookimpl

_RATE = 24_000


class DyingSettings(EngineSettings):
    #: Sentences spoken whole before the engine dies in the middle of the next one.
    sentences: int = Field(1, ge=0)


class DyingTTS(TTSEngine):
    Settings: ClassVar[type[EngineSettings]] = DyingSettings
    description = "fake TTS that dies mid-reply (realtime failover tests)"
    settings: DyingSettings

    calls = 0

    async def voices(self) -> list[Voice]:
        return [Voice(id="bella", name="bella", language="en-US", gender="female")]

    def default_voice(self) -> str | None:
        return "bella"

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        self.calls += 1
        # A tone as long as the text would take to say (60 ms a character), in 100 ms chunks.
        chunks = max(2, len(request.text) * 60 // 100)
        t = np.arange(_RATE // 10, dtype=np.float32) / _RATE
        tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
        for index in range(chunks):
            if self.calls > self.settings.sentences and index == 1:
                raise EngineUnavailable("the fake engine died mid-sentence")
            yield AudioChunk(tone, _RATE)


class RealtimeFakes:
    @hookimpl
    def voxgate_tts_engines(self) -> Mapping[str, type[TTSEngine]]:
        return {"dying": DyingTTS}


PLUGIN = RealtimeFakes()
