"""Speech and pauses in a live stream, one detector frame at a time.

Silero's rules, as in :mod:`core.stt_stream.endpointing`: a frame at or above ``threshold`` is
speech, one below ``threshold - 0.15`` is silence, frames in between change nothing. Speech
counts ("confirmed") once ``confirm`` samples of it were heard without silence between them, so
a click neither starts a turn nor barges in. When a turn ends is not decided here: the session
weighs the length of the current pause against its turn-detection policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Signal(enum.Enum):
    #: Speech is certain; ``sample`` is where it started.
    CONFIRMED = "confirmed"
    #: A pause began in confirmed speech at ``sample``.
    PAUSED = "paused"
    #: Speech came back after a pause that began at ``sample``.
    RESUMED = "resumed"


@dataclass(frozen=True, slots=True)
class Change:
    signal: Signal
    sample: int


class _State(enum.Enum):
    SILENT = "silent"
    PENDING = "pending"
    SPEAKING = "speaking"
    PAUSED = "paused"


class VoiceActivity:
    def __init__(self, threshold: float, confirm_samples: int) -> None:
        self.threshold = threshold
        self._low = max(threshold - 0.15, 0.01)
        self._confirm = max(confirm_samples, 1)
        self._state = _State.SILENT
        self._start = 0
        self._heard = 0
        self._pause_start = 0

    @property
    def speaking(self) -> bool:
        """Confirmed speech is going on (pauses included)."""
        return self._state in (_State.SPEAKING, _State.PAUSED)

    @property
    def pending(self) -> bool:
        return self._state is _State.PENDING

    @property
    def speech_start(self) -> int:
        return self._start

    @property
    def pause_start(self) -> int | None:
        return self._pause_start if self._state is _State.PAUSED else None

    def push(self, probability: float, frame_start: int, frame_size: int) -> Change | None:
        loud = probability >= self.threshold
        quiet = probability < self._low
        state = self._state
        if state is _State.SILENT:
            if not loud:
                return None
            self._state, self._start, self._heard = _State.PENDING, frame_start, 0
            return self._count(frame_size)
        if state is _State.PENDING:
            if quiet:
                self._state = _State.SILENT
                return None
            return self._count(frame_size) if loud else None
        if state is _State.SPEAKING:
            if quiet:
                self._state, self._pause_start = _State.PAUSED, frame_start
                return Change(Signal.PAUSED, frame_start)
            return None
        if loud:
            self._state = _State.SPEAKING
            return Change(Signal.RESUMED, self._pause_start)
        return None

    def reset(self) -> None:
        """Back to silence (a turn ended, the buffer was cleared)."""
        self._state = _State.SILENT

    def _count(self, frame_size: int) -> Change | None:
        self._heard += frame_size
        if self._heard < self._confirm:
            return None
        self._state = _State.SPEAKING
        return Change(Signal.CONFIRMED, self._start)
