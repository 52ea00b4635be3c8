"""``openai_tts``: speech from an OpenAI-compatible server, decoded to audio as bytes arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from core.audio.chunk import AudioChunk
from core.engines.base import EngineContext, EngineSettings
from core.engines.errors import Unsupported
from core.engines.tts import SpeechRequest, TTSEngine, Voice
from plugins.fallback_cloud.audio_stream import PcmStream, WavStream
from plugins.fallback_cloud.cloud_engine import CloudEngine
from plugins.fallback_cloud.settings import SpeechSettings
from plugins.fallback_cloud.voices import describe

#: Fields the engine sets itself; a client's copy of them is not passed on.
_OWN_FIELDS = frozenset(
    {"model", "input", "voice", "response_format", "speed", "instructions", "stream_format"}
)


class OpenAITTSEngine(CloudEngine, TTSEngine):
    Settings: ClassVar[type[EngineSettings]] = SpeechSettings
    description: ClassVar[str] = "speech through any OpenAI-compatible server (streamed PCM/WAV)"
    supports_instructions: ClassVar[bool] = True
    default_max_concurrency: ClassVar[int] = 32

    settings: SpeechSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._voices = describe(self.settings.voices)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "response_format": self.settings.response_format}

    async def voices(self) -> list[Voice]:
        return list(self._voices)

    def default_voice(self) -> str | None:
        return self.settings.voice

    def payload(self, request: SpeechRequest) -> dict[str, Any]:
        settings = self.settings
        body: dict[str, Any] = {k: v for k, v in request.options.items() if k not in _OWN_FIELDS}
        body.update(
            model=settings.model,
            input=request.text,
            voice=request.voice or settings.voice,
            response_format=settings.response_format,
        )
        if request.speed != 1.0:
            body["speed"] = request.speed
        if request.instructions and settings.send_instructions:
            body["instructions"] = request.instructions
        if request.language and settings.send_language:
            body["language"] = request.language
        return body

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        if request.reference is not None:
            raise Unsupported(f"{self.name!r} cannot speak with cloned voices")
        async with self._http.stream("audio/speech", json=self.payload(request)) as response:
            decoder: PcmStream | WavStream
            if self.settings.response_format == "wav":
                decoder = WavStream()
            else:
                decoder = PcmStream(_rate(response.headers) or self.settings.sample_rate)
            async for data in response.aiter_bytes():
                chunk = decoder.feed(data)
                if chunk is not None:
                    yield chunk
            decoder.finish()


def _rate(headers: Mapping[str, str]) -> int | None:
    """The PCM rate a voxgate server announces (OpenAI's PCM is always 24 kHz, unannounced)."""
    value = headers.get("x-sample-rate", "")
    return int(value) if value.isdigit() and int(value) > 0 else None
