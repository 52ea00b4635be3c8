"""The one audio type that flows between engines and the API."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono audio samples as float32 in [-1, 1] at ``sample_rate``.

    Engines yield these; the API layer resamples and encodes once, on the way out.
    """

    samples: FloatArray
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.dtype != np.float32 or self.samples.ndim != 1:
            raise ValueError("AudioChunk samples must be a 1-D float32 array")
        if self.sample_rate <= 0:
            raise ValueError("sample_rate must be positive")

    @classmethod
    def from_array(cls, samples: npt.ArrayLike, sample_rate: int) -> AudioChunk:
        """Build from any numeric array: int16 PCM is scaled, stereo is down-mixed."""
        arr = np.asarray(samples)
        if arr.dtype == np.int16:
            arr = arr.astype(np.float32) / 32768.0
        elif arr.dtype == np.int32:
            arr = arr.astype(np.float32) / 2147483648.0
        arr = arr.astype(np.float32, copy=False)
        if arr.ndim == 2:
            arr = arr.mean(axis=1, dtype=np.float32)
        return cls(np.ascontiguousarray(arr.reshape(-1)), int(sample_rate))

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def to_pcm16(self) -> bytes:
        """Little-endian signed 16-bit PCM, clipped."""
        clipped = np.clip(self.samples, -1.0, 1.0)
        return (clipped * 32767.0).round().astype("<i2").tobytes()

    @staticmethod
    def concat(chunks: list[AudioChunk]) -> AudioChunk:
        if not chunks:
            raise ValueError("no audio chunks to join")
        rate = chunks[0].sample_rate
        if any(c.sample_rate != rate for c in chunks):
            raise ValueError("cannot join chunks of different sample rates")
        return AudioChunk(np.concatenate([c.samples for c in chunks]), rate)
