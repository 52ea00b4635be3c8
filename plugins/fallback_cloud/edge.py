"""``edge_tts``: Microsoft Edge's online neural voices (no key), streamed as decoded audio.

edge-tts and PyAV are imported at load. Without the internet the connection fails at once and is
reported as unavailability, so a chain moves on to the next engine without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import structlog

from core.audio.chunk import AudioChunk
from core.cancellation import cancel_and_wait
from core.engines.base import EngineContext, EngineSettings, Location
from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.engines.tts import SpeechRequest, TTSEngine, Voice
from plugins.fallback_cloud.edge_errors import edge_error
from plugins.fallback_cloud.edge_voices import BUILT_IN_VOICES, from_service
from plugins.fallback_cloud.settings import EDGE_VOICE_PATTERN, EdgeSettings

log = structlog.get_logger(__name__)

INSTALL_HINT = "install it with: pip install 'voxgate[fallback_cloud]'"
#: edge-tts accepts rates from -100% (silence) upwards; past +200% speech is unintelligible.
_MIN_RATE, _MAX_RATE = -90, 200
_VOICE_ID = re.compile(EDGE_VOICE_PATTERN)


def _family(language: str | None) -> str | None:
    return language.replace("_", "-").split("-")[0].lower() if language else None


def speaking_rate(base: str, speed: float) -> str:
    """The settings' rate offset with a request's speed folded in (speed 1.5 adds +50%)."""
    percent = int(base.rstrip("%")) + round((speed - 1.0) * 100)
    return f"{min(max(percent, _MIN_RATE), _MAX_RATE):+d}%"


class EdgeTTSEngine(TTSEngine):
    Settings: ClassVar[type[EngineSettings]] = EdgeSettings
    location: ClassVar[Location] = "cloud"
    description: ClassVar[str] = "Microsoft Edge online voices via edge-tts (needs internet)"
    default_max_concurrency: ClassVar[int] = 8

    settings: EdgeSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._voices: list[Voice] = list(BUILT_IN_VOICES)
        self._voice_fetch: asyncio.Task[None] | None = None
        self._edge: Any = None

    async def load(self) -> None:
        try:
            import edge_tts

            from plugins.fallback_cloud import mp3_stream  # noqa: F401  (needs PyAV)
        except ImportError as exc:
            raise EngineUnavailable(f"edge-tts needs {exc.name or exc}; {INSTALL_HINT}") from exc
        self._edge = edge_tts
        if self.settings.fetch_voice_list and self._voice_fetch is None:
            # In the background: listing voices must not hold up the first request.
            self._voice_fetch = asyncio.create_task(self._fetch_voices(), name="edge-voice-list")

    async def _fetch_voices(self) -> None:
        try:
            from plugins.fallback_cloud.edge_connection import connector

            connection = connector(self.settings.resolve_timeout)
            try:
                entries = await asyncio.wait_for(
                    self._edge.list_voices(connector=connection, proxy=self.settings.proxy),
                    self.settings.connect_timeout + self.settings.receive_timeout,
                )
            finally:
                await connection.release()
        except Exception as exc:  # offline: keep the built-in list
            log.info("edge_tts.voice_list_unavailable", engine=self.name, error=type(exc).__name__)
            return
        voices = from_service(entries)
        if voices:
            self._voices = voices
            log.info("edge_tts.voice_list", engine=self.name, voices=len(voices))

    async def close(self) -> None:
        task, self._voice_fetch = self._voice_fetch, None
        await cancel_and_wait(task)

    def info(self) -> dict[str, Any]:
        return {"voice": self.settings.voice, "voices_known": len(self._voices)}

    async def voices(self) -> list[Voice]:
        return list(self._voices)

    def default_voice(self) -> str | None:
        return self.settings.voice

    def voice_for(self, request: SpeechRequest) -> str:
        """The requested voice; with none, the default, or a voice of the requested language."""
        if request.voice:
            if not _VOICE_ID.match(request.voice):
                raise InvalidRequest(
                    f"{request.voice!r} is not an edge voice (such as en-US-AriaNeural; "
                    "see GET /v1/voices)",
                    param="voice",
                )
            return request.voice
        wanted = _family(request.language)
        default = self.settings.voice
        if wanted is None or _family(default) == wanted:
            return default
        for voice in self._voices:
            if _family(voice.language) == wanted:
                return voice.id
        raise Unsupported(f"{self.name!r} knows no voice for language {request.language!r}")

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        if request.reference is not None:
            raise Unsupported(f"{self.name!r} cannot speak with cloned voices")
        if self._edge is None:
            raise EngineUnavailable(f"engine {self.name!r} is not loaded")
        from plugins.fallback_cloud.edge_connection import connector
        from plugins.fallback_cloud.mp3_stream import Mp3Stream

        settings = self.settings
        voice = self.voice_for(request)
        connection = connector(settings.resolve_timeout)
        stream: Any = None
        try:
            stream = self._edge.Communicate(
                request.text,
                voice,
                rate=speaking_rate(settings.rate, request.speed),
                volume=settings.volume,
                pitch=settings.pitch,
                connector=connection,
                proxy=settings.proxy,
                connect_timeout=settings.connect_timeout,
                receive_timeout=settings.receive_timeout,
            ).stream()
            decoder = Mp3Stream()
            while True:
                try:
                    message = await anext(stream)
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    raise edge_error(self.name, exc) from exc
                if message.get("type") != "audio":
                    continue
                for chunk in await asyncio.to_thread(decoder.feed, message["data"]):
                    yield chunk
            for chunk in await asyncio.to_thread(decoder.finish):
                yield chunk
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()
            await connection.release()
