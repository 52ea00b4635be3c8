"""Turning per-frame speech probabilities into stretches of speech (start and end samples).

The rules are Silero's: speech starts on a frame at or above ``threshold``; it ends once the
probability has stayed below ``threshold - 0.15`` for ``min_silence_ms`` (frames in between
neither end nor extend a pause); stretches shorter than ``min_speech_ms`` are dropped. Used
frame by frame on a live stream and over a whole clip alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class EndpointingOptions:
    threshold: float = 0.5
    #: Below this a frame counts as silence; unset means ``threshold - 0.15``.
    neg_threshold: float | None = None
    min_speech_ms: int = 250
    #: Silence that ends speech (the end-of-speech delay of a live stream).
    min_silence_ms: int = 500
    #: Audio kept on each side of a stretch of speech, so word edges are not cut.
    speech_pad_ms: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must be between 0 and 1")
        if self.neg_threshold is not None and not 0 <= self.neg_threshold <= self.threshold:
            raise ValueError("neg_threshold must be between 0 and threshold")
        if min(self.min_speech_ms, self.min_silence_ms, self.speech_pad_ms) < 0:
            raise ValueError("durations must not be negative")

    @property
    def silence_threshold(self) -> float:
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)


class Change(Enum):
    STARTED = "started"
    #: Speech ended and lasted long enough to keep.
    ENDED = "ended"
    #: Speech ended too soon to count (a click, a cough).
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class Transition:
    change: Change
    #: First sample of the speech.
    start: int
    #: First sample after it (for ENDED and DROPPED), else the start.
    end: int


class Endpointer:
    """Feed one probability per frame with :meth:`push`; it reports where speech starts/ends."""

    def __init__(self, options: EndpointingOptions, frame_size: int, sample_rate: int) -> None:
        self.options = options
        self.frame_size = frame_size
        self._min_speech = options.min_speech_ms * sample_rate // 1000
        self._min_silence = options.min_silence_ms * sample_rate // 1000
        self._low = options.silence_threshold
        #: Samples consumed so far (a multiple of ``frame_size``).
        self.position = 0
        self._speech_start: int | None = None
        self._silence_start: int | None = None

    @property
    def in_speech(self) -> bool:
        return self._speech_start is not None

    @property
    def speech_start(self) -> int | None:
        return self._speech_start

    def push(self, probability: float) -> Transition | None:
        frame_start = self.position
        self.position += self.frame_size
        if self._speech_start is None:
            if probability >= self.options.threshold:
                self._speech_start = frame_start
                self._silence_start = None
                return Transition(Change.STARTED, frame_start, frame_start)
            return None
        if probability >= self.options.threshold:
            self._silence_start = None
        elif probability < self._low and self._silence_start is None:
            self._silence_start = frame_start
        if self._silence_start is not None and self.position - self._silence_start >= max(
            self._min_silence, 1
        ):
            return self._close(self._silence_start)
        return None

    def finish(self, total: int | None = None) -> Transition | None:
        """End of the audio: close open speech at ``total`` (or where the frames ended)."""
        if self._speech_start is None:
            return None
        end = self._silence_start if self._silence_start is not None else (total or self.position)
        return self._close(end)

    def cut(self) -> int | None:
        """Close the current speech here and keep going as if new speech began (long speech)."""
        if self._speech_start is None:
            return None
        self._speech_start = self.position
        self._silence_start = None
        return self.position

    def _close(self, end: int) -> Transition:
        start = self._speech_start
        assert start is not None
        self._speech_start = None
        self._silence_start = None
        kept = end - start >= self._min_speech
        return Transition(Change.ENDED if kept else Change.DROPPED, start, end)
