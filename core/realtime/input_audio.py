"""The session's incoming audio: decoded, resampled to the detector's rate, cut into its frames,
scored by the voice activity detector and kept while it may still be needed.

Positions are sample indexes at the detector's rate (16 kHz) counted from the start of the
session, so they are also the session's audio clock (OpenAI's ``audio_start_ms`` and friends).
:meth:`InputAudio.analyse` is blocking (resampling and ~1 ms of detector time per 32 ms frame):
the session runs it in a worker thread, one call at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.engines.vad import SpeechDetector
from core.realtime.formats import AudioFormat
from core.stt_stream.framing import ChunkDecoder, Framer
from core.stt_stream.recording import Recording

_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Frame:
    start: int
    #: Speech probability, or None when no detector runs (manual turns).
    probability: float | None


class InputAudio:
    def __init__(
        self, fmt: AudioFormat, detector: SpeechDetector | None, rate: int, frame_size: int
    ) -> None:
        self.rate = rate
        self.frame_size = frame_size
        self.detector = detector
        self.recording = Recording()
        self._set_format(fmt)

    @property
    def position(self) -> int:
        return self.recording.end

    def ms(self, sample: int) -> int:
        return int(sample * 1000 // self.rate)

    def samples(self, milliseconds: float) -> int:
        return int(milliseconds * self.rate / 1000)

    def set_format(self, fmt: AudioFormat) -> None:
        """A new input format from the next append on (a half-sample left over is dropped)."""
        if fmt is not self.format:
            self._set_format(fmt)

    def _set_format(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self._decoder = ChunkDecoder(fmt.encoding)
        self._framer = Framer(fmt.sample_rate, self.rate, self.frame_size)

    def flush(self) -> None:
        """Record what the resampler and the last partial frame still hold back (~30 ms), so
        that a commit takes all the audio appended so far, no more. The next append starts a
        fresh stream."""
        for frame in self._framer.flush(pad=False):
            self.recording.append(frame)
        self._set_format(self.format)

    def analyse(self, data: bytes) -> list[Frame]:
        """Decode ``data`` and score each whole frame now available. Blocking."""
        samples = self._decoder.decode(data)
        if len(samples) == 0:
            return []
        frames: list[Frame] = []
        for frame in self._framer.push(samples):
            start = self.recording.end
            probability = None if self.detector is None else self.detector.probability(frame)
            self.recording.append(frame)
            frames.append(Frame(start, probability))
        return frames
