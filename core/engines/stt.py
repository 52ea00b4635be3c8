"""Speech-to-text engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from core.audio.chunk import AudioChunk
from core.engines.base import Capability, Engine


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One decoded stretch of speech. Times are seconds from the start of the audio."""

    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    temperature: float | None = None
    #: Language of the audio, when the engine knows it (set on at least the first segment).
    language: str | None = None
    #: gzip-style compression ratio of the text (Whisper's repetition check), when known.
    compression_ratio: float | None = None
    #: Who speaks this stretch ("A", "B"...), from engines that tell speakers apart.
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    """Audio already decoded to mono float32 at the engine's ``sample_rate``."""

    audio: AudioChunk
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    word_timestamps: bool = False
    task: Literal["transcribe", "translate"] = "transcribe"
    #: Label each segment with its speaker (engines with ``supports_diarization`` only).
    diarize: bool = False
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transcription:
    text: str
    segments: tuple[Segment, ...]
    language: str | None
    duration: float


class STTEngine(Engine):
    capability: ClassVar[Capability] = Capability.STT
    #: The rate the API resamples uploads to before calling the engine.
    sample_rate: ClassVar[int] = 16000
    supports_translation: ClassVar[bool] = False
    #: Whether segments can carry ``speaker`` labels (``response_format: diarized_json``).
    supports_diarization: ClassVar[bool] = False

    def transcribe(self, request: TranscriptionRequest) -> AsyncIterator[Segment]:
        """Yield segments as they are decoded. The streaming primitive."""
        raise NotImplementedError

    def languages(self) -> tuple[str, ...]:
        """Languages (ISO 639-1) the engine transcribes; empty when it cannot say (not loaded,
        or a remote service). Front doors that must list languages (Wyoming) use this."""
        return ()


async def collect_transcription(
    segments: AsyncIterator[Segment], duration: float, language: str | None = None
) -> Transcription:
    """Gather a segment stream into one transcription."""
    collected = [s async for s in segments]
    detected = next((s.language for s in collected if s.language), language)
    text = " ".join(s.text.strip() for s in collected if s.text.strip())
    return Transcription(text=text, segments=tuple(collected), language=detected, duration=duration)
