"""Routing one STT or TTS request through a generation's chains.

Shared by the OpenAI endpoints and the voice round trip, so a conversation turn gets exactly the
same resampling, voice choice and fallback as the single-capability endpoints.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from core.api.chain_voices import VoiceChooser
from core.audio.chunk import AudioChunk
from core.audio.resample import resample
from core.engines.base import Capability
from core.engines.errors import Unsupported
from core.engines.stt import Segment, STTEngine, TranscriptionRequest
from core.engines.tts import SpeechRequest, TTSEngine
from core.routing.router import Routed, RoutedStream
from core.runtime.generation import Generation


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    word_timestamps: bool = False
    task: Literal["transcribe", "translate"] = "transcribe"
    diarize: bool = False


@dataclass(frozen=True, slots=True)
class SpeakOptions:
    model: str | None = None
    voice: str | None = None
    speed: float = 1.0
    instructions: str | None = None
    language: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


async def transcribe(
    generation: Generation, audio: AudioChunk, options: TranscribeOptions
) -> RoutedStream[Segment]:
    """Start a transcription; each engine gets the audio at its own rate (resampled once)."""
    return await generation.router.stream(
        Capability.STT,
        options.model,
        _stt_call(audio, options),
        extra_time=_reading_time(generation, audio),
    )


async def transcribe_all(
    generation: Generation, audio: AudioChunk, options: TranscribeOptions
) -> Routed[list[Segment]]:
    """The whole transcript before answering, so an engine failing part-way falls back."""
    return await generation.router.gather(
        Capability.STT,
        options.model,
        _stt_call(audio, options),
        extra_time=_reading_time(generation, audio),
    )


def _reading_time(generation: Generation, audio: AudioChunk) -> float:
    """Extra first-result time for a long file (engines read all of it before segment one)."""
    per_second = generation.config.config.policy.stt_timeout_per_audio_second
    return audio.duration * per_second


def _stt_call(
    audio: AudioChunk, options: TranscribeOptions
) -> Callable[[STTEngine], AsyncIterator[Segment]]:
    resampled: dict[int, AudioChunk] = {}

    def audio_for(rate: int) -> AudioChunk:
        if rate not in resampled:
            resampled[rate] = AudioChunk(resample(audio.samples, audio.sample_rate, rate), rate)
        return resampled[rate]

    async def run(engine: STTEngine) -> AsyncIterator[Segment]:
        if options.task == "translate" and not engine.supports_translation:
            raise Unsupported(f"engine {engine.name!r} cannot translate")
        if options.diarize and not engine.supports_diarization:
            raise Unsupported(f"engine {engine.name!r} cannot tell speakers apart")
        request = TranscriptionRequest(
            audio=audio
            if engine.sample_rate == audio.sample_rate
            else await asyncio.to_thread(audio_for, engine.sample_rate),
            language=options.language,
            prompt=options.prompt,
            temperature=options.temperature,
            word_timestamps=options.word_timestamps,
            task=options.task,
            diarize=options.diarize,
        )
        async for segment in engine.transcribe(request):
            yield segment

    return run


async def synthesize(
    generation: Generation,
    text: str,
    options: SpeakOptions,
    *,
    skip: frozenset[str] = frozenset(),
) -> tuple[RoutedStream[AudioChunk], VoiceChooser]:
    """Start speech; the chooser records which voice each engine was given. Engines named in
    ``skip`` are passed over (a front door whose voice belongs to a later engine of the chain)."""
    chooser = VoiceChooser(generation, options.voice)

    async def run(engine: TTSEngine) -> AsyncIterator[AudioChunk]:
        request = await chooser.request_for(
            engine,
            SpeechRequest(
                text=text,
                speed=options.speed,
                instructions=options.instructions,
                language=options.language,
                options=options.options,
            ),
        )
        async for chunk in engine.synthesize(request):
            yield chunk

    stream = await generation.router.stream(Capability.TTS, options.model, run, skip=skip)
    return stream, chooser
