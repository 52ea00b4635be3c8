"""The audio formats of a realtime session, on the way in and out.

OpenAI's realtime API has three: 16-bit little-endian PCM at 24 kHz, and G.711 mu-law or A-law
at 8 kHz (telephony). Input is decoded to float samples (the VAD and the
speech-to-text engine get them resampled to their own rate); engine output of any rate is
resampled and encoded into the session's output format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.audio.chunk import AudioChunk, FloatArray
from core.audio.decode import RawEncoding
from core.audio.g711 import alaw_encode, ulaw_encode
from core.audio.resample import StreamResampler

_SAMPLE_BYTES: dict[RawEncoding, int] = {"pcm_s16le": 2, "f32le": 4, "mulaw": 1, "alaw": 1}


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Headerless mono audio: an encoding and a rate. The OpenAI protocol's three are
    :data:`PCM16`, :data:`PCMU` and :data:`PCMA`; other front doors may use others (16 kHz
    PCM, say)."""

    encoding: RawEncoding
    sample_rate: int

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * _SAMPLE_BYTES[self.encoding]

    def milliseconds(self, size: int) -> float:
        """How long ``size`` bytes of this format play."""
        return size * 1000 / self.bytes_per_second

    def bytes_for(self, milliseconds: float) -> int:
        """Whole samples' worth of bytes in ``milliseconds`` of audio."""
        samples = int(self.sample_rate * milliseconds / 1000)
        return samples * _SAMPLE_BYTES[self.encoding]


PCM16 = AudioFormat("pcm_s16le", 24_000)
PCMU = AudioFormat("mulaw", 8000)
PCMA = AudioFormat("alaw", 8000)


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
        encoding = self.format.encoding
        if encoding == "mulaw":
            return ulaw_encode(samples)
        if encoding == "alaw":
            return alaw_encode(samples)
        if encoding == "f32le":
            return np.clip(samples, -1.0, 1.0).astype("<f4").tobytes()
        return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
