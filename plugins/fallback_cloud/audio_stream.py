"""Turning a TTS server's byte stream (raw 16-bit PCM, or a WAV) into AudioChunks as it arrives.

Network reads split samples anywhere, so a partial sample is carried over to the next read. A
streamed WAV announces an unknown length, so its header is parsed by hand rather than by a reader
that wants the whole file.
"""

from __future__ import annotations

import struct

import numpy as np

from core.audio.chunk import AudioChunk
from core.engines.errors import EngineUpstreamError

_PCM_FORMAT = 1
_EXTENSIBLE_FORMAT = 0xFFFE
#: A WAV header bigger than this is not a header.
_MAX_HEADER = 64 * 1024


class PcmStream:
    """Little-endian signed 16-bit mono PCM at a known rate."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._carry = b""

    def feed(self, data: bytes) -> AudioChunk | None:
        data = self._carry + data
        usable = len(data) - len(data) % 2
        self._carry = data[usable:]
        if not usable:
            return None
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
        return AudioChunk(samples, self.sample_rate)

    def finish(self) -> None:
        """An odd trailing byte is a cut stream, not audio."""
        if self._carry:
            raise EngineUpstreamError("the audio stream ended in the middle of a sample")


class WavStream:
    """A WAV stream: 16-bit PCM (mono or more channels, down-mixed), header parsed on arrival."""

    def __init__(self) -> None:
        self._head = b""
        self._pcm: PcmStream | None = None
        self._channels = 1
        self._frame_carry = b""

    @property
    def sample_rate(self) -> int | None:
        return self._pcm.sample_rate if self._pcm else None

    def feed(self, data: bytes) -> AudioChunk | None:
        if self._pcm is None:
            self._head += data
            parsed = _parse_header(self._head)
            if parsed is None:
                if len(self._head) > _MAX_HEADER:
                    raise EngineUpstreamError("the server's WAV has no audio data chunk")
                return None
            rate, channels, offset = parsed
            self._pcm = PcmStream(rate)
            self._channels = channels
            data, self._head = self._head[offset:], b""
        if self._channels == 1:
            return self._pcm.feed(data)
        data = self._frame_carry + data
        frame = 2 * self._channels
        usable = len(data) - len(data) % frame
        self._frame_carry = data[usable:]
        if not usable:
            return None
        interleaved = np.frombuffer(data[:usable], dtype="<i2").reshape(-1, self._channels)
        mono = interleaved.astype(np.float32).mean(axis=1, dtype=np.float32) / 32768.0
        return AudioChunk(np.ascontiguousarray(mono), self._pcm.sample_rate)

    def finish(self) -> None:
        if self._pcm is None:
            raise EngineUpstreamError("the server's WAV ended before its audio began")
        self._pcm.finish()
        if self._frame_carry:
            raise EngineUpstreamError("the audio stream ended in the middle of a frame")


def _parse_header(head: bytes) -> tuple[int, int, int] | None:
    """(rate, channels, offset of the samples) once the ``data`` chunk starts, else None."""
    if len(head) < 12:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise EngineUpstreamError("the server did not send a WAV file")
    position = 12
    rate = channels = 0
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        (size,) = struct.unpack("<I", head[position + 4 : position + 8])
        body = position + 8
        if chunk_id == b"data":
            if not rate:
                raise EngineUpstreamError("the server's WAV has no format chunk")
            return rate, channels, body
        if chunk_id == b"fmt ":
            if len(head) < body + 16:
                return None
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", head[body : body + 16])
            if fmt not in (_PCM_FORMAT, _EXTENSIBLE_FORMAT) or bits != 16 or channels < 1:
                raise EngineUpstreamError(
                    f"the server's WAV is not 16-bit PCM (format {fmt}, {bits} bits)"
                )
        position = body + size + (size & 1)
    return None
