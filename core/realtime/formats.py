"""The audio formats of a realtime session, on the way in and out.

Three formats, as OpenAI's realtime API names them: 16-bit little-endian PCM at 24 kHz, and
G.711 mu-law or A-law at 8 kHz (telephony). Input is decoded to float samples (the VAD and the
speech-to-text engine get them resampled to their own rate); engine output of any rate is
resampled and encoded into the session's output format.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from core.audio.chunk import AudioChunk, FloatArray
from core.audio.decode import RawEncoding
from core.audio.g711 import alaw_encode, ulaw_encode
from core.audio.resample import StreamResampler


@dataclass(frozen=True, slots=True)
class _Spec:
    encoding: RawEncoding
    sample_rate: int
    bytes_per_sample: int


class AudioFormat(enum.Enum):
    PCM16 = _Spec("pcm_s16le", 24_000, 2)
    PCMU = _Spec("mulaw", 8000, 1)
    PCMA = _Spec("alaw", 8000, 1)

    @property
    def encoding(self) -> RawEncoding:
        return self.value.encoding

    @property
    def sample_rate(self) -> int:
        return self.value.sample_rate

    @property
    def bytes_per_second(self) -> int:
        return self.value.sample_rate * self.value.bytes_per_sample

    def milliseconds(self, size: int) -> float:
        """How long ``size`` bytes of this format play."""
        return size * 1000 / self.bytes_per_second

    def bytes_for(self, milliseconds: float) -> int:
        """Whole samples' worth of bytes in ``milliseconds`` of audio."""
        samples = int(self.value.sample_rate * milliseconds / 1000)
        return samples * self.value.bytes_per_sample


class OutputEncoder:
    """Engine audio (any rate, possibly changing between engines) to the session's format."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self._resampler: StreamResampler | None = None

    def encode(self, chunk: AudioChunk) -> bytes:
        return self._bytes(self._resampled(chunk))

    def resampled(self, chunk: AudioChunk) -> FloatArray:
        """The chunk at the output rate, as float samples (what :meth:`encode` would encode)."""
        return self._resampled(chunk)

    def to_bytes(self, samples: FloatArray) -> bytes:
        return self._bytes(samples)

    def flush(self) -> bytes:
        """The resampler's tail (a few samples); call between engines and at the end."""
        if self._resampler is None:
            return b""
        tail = self._resampler.flush()
        self._resampler = None
        return self._bytes(tail)

    def _resampled(self, chunk: AudioChunk) -> FloatArray:
        resampler = self._resampler
        tail: FloatArray | None = None
        if resampler is None or resampler.from_rate != chunk.sample_rate:
            # A fallback engine may speak at another rate: the old converter's last samples,
            # then a converter from the new rate.
            if resampler is not None:
                tail = resampler.flush()
            resampler = StreamResampler(chunk.sample_rate, self.format.sample_rate)
            self._resampler = resampler
        out = resampler.process(chunk.samples)
        if tail is not None and len(tail):
            out = np.concatenate([tail, out])
        return out

    def _bytes(self, samples: FloatArray) -> bytes:
        if len(samples) == 0:
            return b""
        if self.format is AudioFormat.PCMU:
            return ulaw_encode(samples)
        if self.format is AudioFormat.PCMA:
            return alaw_encode(samples)
        return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
