"""Fixing up a streamed WAV once it has been saved to a file.

A streamed WAV header says "length unknown" (0xFFFFFFFF) because it is sent before the audio
exists. Most readers cope; some do not, so a saved file gets its real sizes written back.
"""

from __future__ import annotations

import struct
from pathlib import Path

_HEADER_BYTES = 44


def finalize_wav_file(path: Path) -> None:
    """Write the real RIFF and data sizes into a canonical 44-byte-header WAV file."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        header = handle.read(_HEADER_BYTES)
        if len(header) < _HEADER_BYTES or header[:4] != b"RIFF" or header[36:40] != b"data":
            return  # not the canonical layout this project writes: leave it alone
        handle.seek(4)
        handle.write(struct.pack("<I", min(size - 8, 0xFFFFFFFF)))
        handle.seek(40)
        handle.write(struct.pack("<I", min(size - _HEADER_BYTES, 0xFFFFFFFF)))
