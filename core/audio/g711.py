"""G.711 mu-law and A-law, vectorised with lookup tables.

The tables are computed once from the segment/quantisation rules of ITU-T G.711 and match the
classic reference coder (and Python's former ``audioop``) for every input value.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_ULAW_BIAS = 0x84
_ULAW_CLIP_14BIT = 8159


def _all_pcm16() -> npt.NDArray[np.int64]:
    # Indexed by the uint16 view of a sample, so table[pcm.view(uint16)] encodes it.
    return np.arange(65536, dtype=np.int64).astype(np.uint16).view(np.int16).astype(np.int64)


@cache
def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    value = _all_pcm16() >> 2  # the coder works on 14-bit magnitudes
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _ULAW_CLIP_14BIT) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude, side="left")
    mantissa = (magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | mantissa)
    return (code ^ mask).astype(np.uint8)


@cache
def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int64) & 0xFF
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    value = np.where(code & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS)
    return value.astype(np.int16)


@cache
def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    value = _all_pcm16() >> 3  # the coder works on 13-bit magnitudes
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -value - 1, value)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude, side="left")
    shift = np.where(segment < 2, 1, np.minimum(segment, 7))
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> shift) & 0x0F))
    return (code ^ mask).astype(np.uint8)


@cache
def _alaw_decode_table() -> npt.NDArray[np.int16]:
    code = np.arange(256, dtype=np.int64) ^ 0x55
    segment = (code & 0x70) >> 4
    magnitude = (code & 0x0F) << 4
    magnitude = np.where(
        segment == 0, magnitude + 8, (magnitude + 0x108) << np.maximum(segment - 1, 0)
    )
    value = np.where(code & 0x80, magnitude, -magnitude)
    return value.astype(np.int16)


def _as_pcm16(samples: npt.ArrayLike) -> npt.NDArray[np.int16]:
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        arr = (np.clip(arr, -1.0, 1.0) * 32767.0).round().astype(np.int16)
    return arr


def ulaw_encode(samples: npt.ArrayLike) -> bytes:
    """int16 PCM (or float in [-1, 1]) to mu-law bytes."""
    return _ulaw_encode_table()[_as_pcm16(samples).view(np.uint16)].tobytes()


def alaw_encode(samples: npt.ArrayLike) -> bytes:
    """int16 PCM (or float in [-1, 1]) to A-law bytes."""
    return _alaw_encode_table()[_as_pcm16(samples).view(np.uint16)].tobytes()


def ulaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    return _ulaw_decode_table()[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    return _alaw_decode_table()[np.frombuffer(data, dtype=np.uint8)]
