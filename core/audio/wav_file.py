"""Fixing up a streamed WAV once all of it is known (a saved file, a whole clip in a body).

A streamed WAV header says "length unknown" (0xFFFFFFFF) because it is sent before the audio
exists. Most readers cope; some do not, so wherever the whole file is in hand it gets its real
sizes written back.
"""

from __future__ import annotations

import struct
from pathlib import Path

_HEADER_BYTES = 44


def _canonical(header: bytes) -> bool:
    return len(header) >= _HEADER_BYTES and header[:4] == b"RIFF" and header[36:40] == b"data"


def finalize_wav_bytes(data: bytes) -> bytes:
    """The same WAV with its real RIFF and data sizes (other data is returned as it is)."""
    if not _canonical(data[:_HEADER_BYTES]):
        return data
    riff = struct.pack("<I", min(len(data) - 8, 0xFFFFFFFF))
    body = struct.pack("<I", min(len(data) - _HEADER_BYTES, 0xFFFFFFFF))
    return data[:4] + riff + data[8:40] + body + data[_HEADER_BYTES:]


def finalize_wav_file(path: Path) -> None:
    """Write the real RIFF and data sizes into a canonical 44-byte-header WAV file."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        if not _canonical(handle.read(_HEADER_BYTES)):
            return  # not the canonical layout this project writes: leave it alone
        handle.seek(4)
        handle.write(struct.pack("<I", min(size - 8, 0xFFFFFFFF)))
        handle.seek(40)
        handle.write(struct.pack("<I", min(size - _HEADER_BYTES, 0xFFFFFFFF)))
