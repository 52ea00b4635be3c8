"""From raw audio chunks of any size, rate and encoding to fixed VAD frames at 16 kHz.

Network chunks rarely line up with anything: a PCM16 chunk may end in the middle of a sample and
a 20 ms telephony chunk (160 samples at 8 kHz) is not a Silero frame (512 samples at 16 kHz).
:class:`ChunkDecoder` keeps incomplete samples for the next chunk; :class:`Framer` resamples
continuously and hands out whole frames, keeping the remainder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.audio.chunk import FloatArray
from core.audio.decode import RawEncoding
from core.audio.g711 import alaw_decode, ulaw_decode
from core.audio.resample import StreamResampler

ENCODINGS: tuple[RawEncoding, ...] = ("pcm_s16le", "f32le", "mulaw", "alaw")
_SAMPLE_BYTES: dict[RawEncoding, int] = {"pcm_s16le": 2, "f32le": 4, "mulaw": 1, "alaw": 1}
_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class InputFormat:
    encoding: RawEncoding = "pcm_s16le"
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
        if not 4000 <= self.sample_rate <= 192_000:
            raise ValueError("sample_rate must be between 4000 and 192000")

    @property
    def bytes_per_second(self) -> int:
        return _SAMPLE_BYTES[self.encoding] * self.sample_rate


class ChunkDecoder:
    """Bytes of headerless mono audio to float32 samples, across arbitrary chunk borders."""

    def __init__(self, encoding: RawEncoding) -> None:
        self.encoding = encoding
        self._width = _SAMPLE_BYTES[encoding]
        self._carry = b""

    def decode(self, data: bytes) -> FloatArray:
        if self._carry:
            data = self._carry + data
        usable = len(data) - len(data) % self._width
        self._carry = data[usable:]
        if usable == 0:
            return _EMPTY
        body = data[:usable]
        if self.encoding == "pcm_s16le":
            return np.frombuffer(body, dtype="<i2").astype(np.float32) / np.float32(32768.0)
        if self.encoding == "f32le":
            samples = np.frombuffer(body, dtype="<f4").astype(np.float32)
            # A client's NaN or 1e30 must not poison the detector's recurrent state.
            return np.clip(np.nan_to_num(samples, nan=0.0), -1.0, 1.0)
        codes = ulaw_decode(body) if self.encoding == "mulaw" else alaw_decode(body)
        return codes.astype(np.float32) / np.float32(32768.0)

    @property
    def pending_bytes(self) -> int:
        return len(self._carry)


class Framer:
    """Resamples a stream to ``frame_rate`` and cuts it into ``frame_size``-sample frames."""

    def __init__(self, input_rate: int, frame_rate: int, frame_size: int) -> None:
        self.frame_size = frame_size
        self._resampler = StreamResampler(input_rate, frame_rate)
        self._pending = _EMPTY

    def push(self, samples: FloatArray) -> list[FloatArray]:
        """The whole frames now available (each a fresh array)."""
        return self._cut(self._resampler.process(samples))

    def flush(self, *, pad: bool = True) -> list[FloatArray]:
        """The resampler's tail and the last partial frame, zero-padded to a whole frame
        unless ``pad`` is false."""
        frames = self._cut(self._resampler.flush())
        if len(self._pending):
            last = self._pending
            if pad:
                last = np.zeros(self.frame_size, dtype=np.float32)
                last[: len(self._pending)] = self._pending
            self._pending = _EMPTY
            frames.append(last)
        return frames

    def _cut(self, fresh: FloatArray) -> list[FloatArray]:
        if len(fresh) == 0:
            return []
        buffered = np.concatenate([self._pending, fresh]) if len(self._pending) else fresh
        whole = len(buffered) // self.frame_size * self.frame_size
        self._pending = buffered[whole:].copy()
        return [buffered[i : i + self.frame_size].copy() for i in range(0, whole, self.frame_size)]
