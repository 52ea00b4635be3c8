"""Decoding an MP3 byte stream (edge-tts sends 24 kHz mono MP3) into float32 mono as it arrives.

Runs PyAV (FFmpeg); only imported by the edge engine's load.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from core.audio.chunk import AudioChunk


def _id3_length(head: bytes) -> int:
    """Bytes taken by a leading ID3v2 tag (the MP3 parser does not take it as audio)."""
    if head[:3] != b"ID3":
        return 0
    size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7
    return 10 + (size | head[9] & 0x7F)


class Mp3Stream:
    def __init__(self) -> None:
        self._codec: Any = av.CodecContext.create("mp3", "r")
        self._mono: Any = av.AudioResampler(format="flt", layout="mono")
        self._started = False
        self._head = b""

    def feed(self, data: bytes) -> list[AudioChunk]:
        if not self._started:
            self._head += data
            if len(self._head) < 10 or len(self._head) < _id3_length(self._head):
                return []
            data = self._head[_id3_length(self._head) :]
            self._head, self._started = b"", True
        return self._decode(self._codec.parse(data))

    def finish(self) -> list[AudioChunk]:
        chunks = self._decode(self._codec.parse(b""))
        chunks += self._frames(self._codec.decode(None))
        return chunks

    def _decode(self, packets: list[Any]) -> list[AudioChunk]:
        chunks: list[AudioChunk] = []
        for packet in packets:
            chunks += self._frames(self._codec.decode(packet))
        return chunks

    def _frames(self, frames: list[Any]) -> list[AudioChunk]:
        chunks = []
        for frame in frames:
            for mono in self._mono.resample(frame):
                samples = np.ascontiguousarray(mono.to_ndarray()[0], dtype=np.float32)
                if len(samples):
                    chunks.append(AudioChunk(samples, int(mono.sample_rate)))
        return chunks
