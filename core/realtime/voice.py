"""Speaking a reply sentence by sentence through the TTS chain, surviving an engine that dies.

Each sentence is one request along the chain, so an engine that fails before its first audio is
passed over as for any request. One that dies part-way through a sentence is dropped for the
rest of the reply: the sentence is spoken again, whole, by the next engine of the chain, in the
voice closest to the one asked for (the voice chooser's rule), and the reply goes on there. Audio
already sent of the broken sentence stays sent; the listener hears the sentence restart.

A voice that no engine knows (an OpenAI voice name without an alias in ``voices.aliases``)
falls back to the engine's default voice instead of failing the reply.

Sentence audio is trimmed of long silence at its edges (some engines pad each sentence with
several hundred milliseconds), so replies start sooner and sentences follow closely.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import numpy as np
import structlog

from core.api.chain_voices import VoiceChooser
from core.audio.chunk import AudioChunk
from core.engines.base import Capability
from core.engines.errors import InvalidRequest
from core.engines.tts import SpeechRequest, TTSEngine
from core.routing.errors import StreamInterrupted
from core.runtime.generation import Generation

log = structlog.get_logger(__name__)

#: Samples quieter than this (about -40 dBFS) count as silence at a sentence's edges.
_QUIET = 0.01
_KEEP_HEAD_S = 0.03
_KEEP_TAIL_S = 0.15


@dataclass(frozen=True, slots=True)
class SpokenAudio:
    chunk: AudioChunk
    #: Bumped when the sentence starts again on another engine.
    attempt: int
    engine: str


class ReplyVoice:
    """One reply's voice: which engines failed, and which voice each engine speaks in."""

    def __init__(
        self,
        generation: Generation,
        model: str | None,
        voice: str | None,
        *,
        speed: float = 1.0,
        language: str | None = None,
    ) -> None:
        self._generation = generation
        self._model = model
        self._chooser = VoiceChooser(generation, voice)
        self._speed = speed
        self._language = language
        self._dead: set[str] = set()
        self.engines: list[str] = []

    def voice_of(self, engine: str) -> str | None:
        return self._chooser.used.get(engine)

    async def speak(self, text: str) -> AsyncIterator[SpokenAudio]:
        attempt = 0
        while True:
            request = SpeechRequest(text=text, speed=self._speed, language=self._language)

            async def run(
                engine: TTSEngine, request: SpeechRequest = request
            ) -> AsyncIterator[AudioChunk]:
                chosen = await self._chooser.request_for(engine, request)
                async for chunk in engine.synthesize(chosen):
                    yield chunk

            try:
                stream = await self._generation.router.stream(
                    Capability.TTS, self._model, run, skip=frozenset(self._dead)
                )
            except InvalidRequest as exc:
                if exc.param != "voice" or self._chooser.voice is None:
                    raise
                # A voice no engine knows (OpenAI's names without an alias): speak anyway, in
                # the engine's own voice, rather than not at all.
                log.warning("realtime.voice_unknown", voice=self._chooser.requested)
                self._chooser = VoiceChooser(self._generation, None)
                continue
            if stream.engine not in self.engines:
                self.engines.append(stream.engine)
            try:
                async for chunk in trim_edges(stream):
                    yield SpokenAudio(chunk, attempt, stream.engine)
                return
            except StreamInterrupted as exc:
                self._dead.add(stream.engine)
                attempt += 1
                log.warning(
                    "realtime.tts_replaced",
                    engine=stream.engine,
                    error=exc.message,
                    attempt=attempt,
                )


async def trim_edges(chunks: AsyncIterable[AudioChunk]) -> AsyncIterator[AudioChunk]:
    """The stream without the silence before its first sound and after its last (keeping a
    little of each). Sound passes straight through; only trailing quiet is held back until
    it is known whether more sound follows."""
    started = False
    held: AudioChunk | None = None
    async for chunk in chunks:
        samples = chunk.samples
        loud = np.flatnonzero(np.abs(samples) > _QUIET)
        if not started:
            if len(loud) == 0:
                continue
            started = True
            keep = int(_KEEP_HEAD_S * chunk.sample_rate)
            samples = samples[max(int(loud[0]) - keep, 0) :]
            loud = loud - (len(chunk.samples) - len(samples))
        elif len(loud) == 0:
            held = _joined(held, chunk)
            continue
        if held is not None:
            yield held
            held = None
        cut = int(loud[-1]) + 1
        if cut < len(samples):
            yield AudioChunk(np.ascontiguousarray(samples[:cut]), chunk.sample_rate)
            held = AudioChunk(np.ascontiguousarray(samples[cut:]), chunk.sample_rate)
        else:
            yield AudioChunk(np.ascontiguousarray(samples), chunk.sample_rate)
    if held is not None:
        keep = int(_KEEP_TAIL_S * held.sample_rate)
        if keep:
            yield AudioChunk(np.ascontiguousarray(held.samples[:keep]), held.sample_rate)


def _joined(held: AudioChunk | None, chunk: AudioChunk) -> AudioChunk:
    if held is None:
        return chunk
    if held.sample_rate != chunk.sample_rate:
        return chunk
    return AudioChunk(np.concatenate([held.samples, chunk.samples]), chunk.sample_rate)
