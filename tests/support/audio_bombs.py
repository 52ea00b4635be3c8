"""Uploads that are small on the wire and enormous when decoded, or that declare sample rates
or channel counts no recording has: shared by the decode tests and bench/bench_hostile.py."""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile


def silent_flac(seconds: float, channels: int = 8, rate: int = 192_000) -> bytes:
    """Silence compresses to almost nothing: 120 s of 8-channel 192 kHz is ~180 KiB."""
    buffer = io.BytesIO()
    block = np.zeros((rate, channels), dtype=np.int16)
    with soundfile.SoundFile(
        buffer, "w", samplerate=rate, channels=channels, format="FLAC", subtype="PCM_16"
    ) as out:
        for _ in range(int(seconds)):
            out.write(block)
    return buffer.getvalue()


def wav_declaring(rate: int, *, channels: int = 1, data_bytes: int = 3600) -> bytes:
    """A PCM16 WAV whose header declares ``rate`` (and ``channels``), with ``data_bytes`` of
    samples: at 1 Hz, 3.6 KB of samples claim half an hour of audio."""
    block_align = 2 * channels
    fmt = struct.pack(
        "<IHHIIHH", 16, 1, channels, rate, (rate * block_align) & 0xFFFFFFFF, block_align, 16
    )
    data = (np.sin(np.arange(data_bytes // 2) / 3) * 8000).astype("<i2").tobytes()
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
