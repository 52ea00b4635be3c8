"""Sample-rate conversion with soxr, whole-buffer and streaming."""

from __future__ import annotations

import asyncio

import numpy as np
import soxr

from core.audio.chunk import AudioChunk, FloatArray


def resample(samples: FloatArray, from_rate: int, to_rate: int) -> FloatArray:
    """Resample a mono float32 buffer; returns the input unchanged when the rates match."""
    if from_rate == to_rate or len(samples) == 0:
        return samples
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return np.ascontiguousarray(out, dtype=np.float32)


async def at_rate(audio: AudioChunk, rate: int) -> AudioChunk:
    """``audio`` at ``rate``, resampled in a worker thread when the rates differ."""
    if audio.sample_rate == rate:
        return audio
    samples = await asyncio.to_thread(resample, audio.samples, audio.sample_rate, rate)
    return AudioChunk(samples, rate)


class StreamResampler:
    """Resamples a stream chunk by chunk without clicks at the chunk borders."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = (
            None
            if from_rate == to_rate
            else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, samples: FloatArray, last: bool = False) -> FloatArray:
        if self._stream is None:
            return samples
        out = self._stream.resample_chunk(np.ascontiguousarray(samples, dtype=np.float32), last)
        return np.ascontiguousarray(out, dtype=np.float32)

    def flush(self) -> FloatArray:
        return self.process(np.zeros(0, dtype=np.float32), last=True)
