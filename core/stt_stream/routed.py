"""A session's transcriber and detector taken from a configuration generation's routes.

Every utterance is its own routed call on the configuration current at that moment, so it gets
the STT chain's fallback and circuit breakers and follows reloads; the detector comes from the
``vad`` route once per session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from core.audio.chunk import AudioChunk
from core.audio.resample import at_rate
from core.engines.base import Capability
from core.engines.stt import Segment, STTEngine, TranscriptionRequest
from core.engines.vad import SpeechDetector, VADEngine
from core.runtime.generation import Generation
from core.runtime.runtime import Runtime
from core.stt_stream.events import TranscribedAudio, Transcriber

#: Request options telling an engine the audio is one utterance already cut by a VAD, so its own
#: silence trimming (``vad_filter`` of faster_whisper) would only cost time, and that someone is
#: waiting for it live (faster_whisper then encodes a shorter window).
ALREADY_TRIMMED: dict[str, object] = {"vad_filter": False, "live": True}
#: ... and, for a partial transcript, that one decoding pass is enough (no temperature fallback).
QUICK_PASS: dict[str, object] = {**ALREADY_TRIMMED, "temperature_fallback": False}


@dataclass(frozen=True, slots=True)
class RoutedDetector:
    detector: SpeechDetector
    sample_rate: int
    engine: str


def routed_transcriber(
    runtime: Runtime,
    *,
    model: str | None = None,
    language: str | None = None,
    prompt: str | None = None,
    word_timestamps: bool = False,
) -> Transcriber:
    async def transcribe(audio: AudioChunk, *, final: bool) -> TranscribedAudio:
        async def run(engine: STTEngine) -> AsyncIterator[Segment]:
            chunk = await at_rate(audio, engine.sample_rate)
            request = TranscriptionRequest(
                audio=chunk,
                language=language,
                prompt=prompt,
                word_timestamps=word_timestamps,
                options=dict(ALREADY_TRIMMED if final else QUICK_PASS),
            )
            async for segment in engine.transcribe(request):
                yield segment

        async with runtime.lease() as generation:
            stream = await generation.router.stream(Capability.STT, model, run)
            segments = tuple([segment async for segment in stream])
        return TranscribedAudio(segments, stream.engine)

    return transcribe


async def routed_detector(generation: Generation, model: str | None = None) -> RoutedDetector:
    """A fresh detector from the first VAD engine of the route (or the one ``model`` names)."""

    async def make(engine: VADEngine) -> tuple[SpeechDetector, int]:
        # Building one may read a model file: not on the event loop.
        return await asyncio.to_thread(engine.detector), engine.sample_rate

    routed = await generation.router.call(Capability.VAD, model, make)
    detector, rate = routed.value
    return RoutedDetector(detector, rate, routed.engine)
