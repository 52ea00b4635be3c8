"""What a streaming transcription session reports, and what it needs from a speech-to-text side."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.audio.chunk import AudioChunk
from core.engines.stt import Segment


@dataclass(frozen=True, slots=True)
class TranscribedAudio:
    """An engine's answer for one stretch of audio (times relative to that audio)."""

    segments: tuple[Segment, ...]
    #: The engine that served it, when known (the router names it).
    engine: str | None = None


class Transcriber(Protocol):
    """Transcribes one utterance (mono float32 at the session's detector rate).

    ``final`` is False for a partial transcript of an utterance still going on: a transcriber
    may then trade accuracy for speed (the final one replaces it anyway).
    """

    def __call__(self, audio: AudioChunk, *, final: bool) -> Awaitable[TranscribedAudio]: ...


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    """The text of an utterance that is still going on; later partials and the final replace it."""

    utterance: int
    text: str
    #: Seconds from the start of the stream.
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class FinalTranscript:
    """An utterance that has ended (at a pause, a length cap or the end of the stream)."""

    utterance: int
    text: str
    start: float
    end: float
    #: Times are seconds from the start of the stream.
    segments: tuple[Segment, ...]
    language: str | None
    engine: str | None


@dataclass(frozen=True, slots=True)
class TranscriptFailed:
    utterance: int
    #: Whether the final transcript is lost (a failed partial only costs an update).
    final: bool
    error: Exception


SessionEvent = PartialTranscript | FinalTranscript | TranscriptFailed


def joined_text(segments: Sequence[Segment]) -> str:
    return " ".join(piece for piece in (s.text.strip() for s in segments) if piece)


def shifted(segment: Segment, offset: float) -> Segment:
    """``segment`` with its times (and its words' times) moved by ``offset`` seconds."""
    words = tuple(
        dataclasses.replace(w, start=w.start + offset, end=w.end + offset) for w in segment.words
    )
    return dataclasses.replace(
        segment, start=segment.start + offset, end=segment.end + offset, words=words
    )
