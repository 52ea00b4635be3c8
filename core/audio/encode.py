"""Encode engine audio for the client, incrementally so speech streams as it is made.

wav/pcm/G.711 are written by hand (trivial framing); mp3, opus and aac go through PyAV (FFmpeg)
when the ``codecs`` extra is installed. FLAC is written whole at the end: a streamed FLAC cannot
carry its length (the header comes first), and common readers then refuse the file.
"""

from __future__ import annotations

import io
import struct
from functools import cache
from typing import Protocol

import numpy as np
import soundfile

from core.audio.chunk import AudioChunk, FloatArray
from core.audio.errors import UnsupportedFormat
from core.audio.g711 import alaw_encode, ulaw_encode
from core.audio.resample import StreamResampler
from core.audio.wav_file import finalize_wav_bytes

# Same order as OpenAI's documentation lists them, then the telephony formats.
OUTPUT_FORMATS: tuple[str, ...] = ("mp3", "opus", "aac", "flac", "wav", "pcm", "mulaw", "alaw")

_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
    "mulaw": "audio/basic",
    "alaw": "audio/x-alaw-basic",
}

# FFmpeg muxer, encoder and the sample rates each encoder accepts.
_AV_FORMATS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "mp3": ("mp3", "libmp3lame", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "opus": ("ogg", "libopus", (8000, 12000, 16000, 24000, 48000)),
    "aac": ("adts", "aac", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
}
_TELEPHONY_RATE = 8000


class StreamEncoder(Protocol):
    """Turns a stream of chunks into the bytes of one output format."""

    @property
    def sample_rate(self) -> int: ...

    def encode(self, chunk: AudioChunk) -> bytes: ...

    def finish(self) -> bytes: ...


def content_type(fmt: str) -> str:
    return _CONTENT_TYPES[fmt]


@cache
def available_formats() -> tuple[str, ...]:
    """Formats whose encoder is importable on this machine."""
    found = ["wav", "pcm", "mulaw", "alaw", "flac"]
    try:
        import av
    except ImportError:
        return tuple(f for f in OUTPUT_FORMATS if f in found)
    for fmt, (_, codec, _) in _AV_FORMATS.items():
        try:
            av.codec.Codec(codec, "w")
        except Exception:  # noqa: S112 - an FFmpeg build without this encoder
            continue
        found.append(fmt)
    return tuple(f for f in OUTPUT_FORMATS if f in found)


def open_encoder(fmt: str, input_rate: int) -> StreamEncoder:
    """A fresh encoder for ``fmt`` fed with chunks at ``input_rate``."""
    if fmt not in OUTPUT_FORMATS:
        raise UnsupportedFormat(f"unknown audio format {fmt!r}")
    if fmt not in available_formats():
        raise UnsupportedFormat(f"no encoder for {fmt!r} is installed (needs the codecs extra)")
    if fmt == "wav":
        return WavEncoder(input_rate)
    if fmt == "pcm":
        return PcmEncoder(input_rate)
    if fmt in ("mulaw", "alaw"):
        return G711Encoder(fmt, input_rate)
    if fmt == "flac":
        return FlacEncoder(input_rate)
    return AvEncoder(fmt, input_rate)


def encode_audio(chunk: AudioChunk, fmt: str) -> bytes:
    """Encode a whole clip in one call (a WAV gets its real sizes: its length is known)."""
    encoder = open_encoder(fmt, chunk.sample_rate)
    data = encoder.encode(chunk) + encoder.finish()
    return finalize_wav_bytes(data) if fmt == "wav" else data


class _RateMatched:
    """Shared part: convert every chunk to the encoder's rate before framing it."""

    def __init__(self, input_rate: int, output_rate: int) -> None:
        self._output_rate = output_rate
        self._resampler = StreamResampler(input_rate, output_rate)
        self._input_rate = input_rate

    @property
    def sample_rate(self) -> int:
        return self._output_rate

    def _samples(self, chunk: AudioChunk) -> FloatArray:
        if chunk.sample_rate != self._input_rate:
            # An engine changed rate mid-stream: restart the converter from the new rate.
            self._resampler.flush()
            self._input_rate = chunk.sample_rate
            self._resampler = StreamResampler(chunk.sample_rate, self._output_rate)
        return self._resampler.process(chunk.samples)

    def _tail(self) -> FloatArray:
        return self._resampler.flush()


def _pcm16(samples: FloatArray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


class PcmEncoder(_RateMatched):
    """Raw 16-bit little-endian PCM at the engine's rate (rate sent in a header)."""

    def __init__(self, input_rate: int) -> None:
        super().__init__(input_rate, input_rate)

    def encode(self, chunk: AudioChunk) -> bytes:
        return _pcm16(self._samples(chunk))

    def finish(self) -> bytes:
        return _pcm16(self._tail())


class WavEncoder(PcmEncoder):
    """A streaming WAV: the header goes first with an open-ended length, as OpenAI sends it."""

    def __init__(self, input_rate: int) -> None:
        super().__init__(input_rate)
        self._header_sent = False

    def _header(self) -> bytes:
        rate = self.sample_rate
        unknown = 0xFFFFFFFF
        return (
            b"RIFF"
            + struct.pack("<I", unknown)
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data"
            + struct.pack("<I", unknown)
        )

    def encode(self, chunk: AudioChunk) -> bytes:
        body = super().encode(chunk)
        if self._header_sent:
            return body
        self._header_sent = True
        return self._header() + body

    def finish(self) -> bytes:
        tail = super().finish()
        return tail if self._header_sent else self._header() + tail


class G711Encoder(_RateMatched):
    """8 kHz mu-law or A-law for telephony."""

    def __init__(self, law: str, input_rate: int) -> None:
        super().__init__(input_rate, _TELEPHONY_RATE)
        self._encode = ulaw_encode if law == "mulaw" else alaw_encode

    def encode(self, chunk: AudioChunk) -> bytes:
        return self._encode(self._samples(chunk))

    def finish(self) -> bytes:
        return self._encode(self._tail())


class FlacEncoder(_RateMatched):
    """Collects the stream and writes one FLAC file (16-bit) with a complete header."""

    def __init__(self, input_rate: int) -> None:
        super().__init__(input_rate, input_rate)
        self._parts: list[FloatArray] = []

    def encode(self, chunk: AudioChunk) -> bytes:
        self._parts.append(self._samples(chunk))
        return b""

    def finish(self) -> bytes:
        samples = np.concatenate([*self._parts, self._tail()]) if self._parts else self._tail()
        buffer = io.BytesIO()
        soundfile.write(buffer, samples, self.sample_rate, format="FLAC", subtype="PCM_16")
        return buffer.getvalue()


class _Sink:
    """A write-only file object that hands back whatever the muxer wrote since the last call."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class AvEncoder(_RateMatched):
    """FFmpeg encoders through PyAV, muxed into a non-seekable stream."""

    def __init__(self, fmt: str, input_rate: int) -> None:
        import av

        muxer, codec, rates = _AV_FORMATS[fmt]
        output_rate = (
            input_rate if not rates or input_rate in rates else _nearest(rates, input_rate)
        )
        super().__init__(input_rate, output_rate)
        self._av = av
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=muxer)
        stream = self._container.add_stream(codec, rate=output_rate, layout="mono")
        assert isinstance(stream, av.audio.stream.AudioStream)
        self._stream = stream
        self._pts = 0

    def _mux(self, samples: FloatArray | None) -> bytes:
        if samples is not None:
            if len(samples) == 0:
                return self._sink.drain()
            frame = self._av.AudioFrame.from_ndarray(
                samples.reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate = self.sample_rate
            frame.pts = self._pts
            self._pts += len(samples)
            packets = self._stream.encode(frame)
        else:
            packets = self._stream.encode(None)
        self._container.mux(packets)
        return self._sink.drain()

    def encode(self, chunk: AudioChunk) -> bytes:
        return self._mux(self._samples(chunk))

    def finish(self) -> bytes:
        out = self._mux(self._tail()) + self._mux(None)
        self._container.close()
        return out + self._sink.drain()


def _nearest(rates: tuple[int, ...], rate: int) -> int:
    higher = [r for r in rates if r >= rate]
    return min(higher) if higher else max(rates)
