"""G.711 must match the reference coder for every possible input value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    # The stdlib module up to 3.12; the audioop-lts backport (a dev dependency) from 3.13 on.
    import audioop

ALL_PCM16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_reference_for_all_65536_values() -> None:
    assert ulaw_encode(ALL_PCM16) == audioop.lin2ulaw(ALL_PCM16.tobytes(), 2)


def test_alaw_encode_matches_reference_for_all_65536_values() -> None:
    assert alaw_encode(ALL_PCM16) == audioop.lin2alaw(ALL_PCM16.tobytes(), 2)


def test_ulaw_decode_matches_reference_for_all_256_codes() -> None:
    assert ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_decode_matches_reference_for_all_256_codes() -> None:
    assert alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)


def test_well_known_code_points() -> None:
    # Silence is 0xFF in mu-law and 0xD5 in A-law; full scale saturates to the end codes.
    assert ulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == b"\xff\x80\x00"
    assert alaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == b"\xd5\xaa\x2a"


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_round_trip_error_is_bounded_by_the_quantiser(encode, decode) -> None:  # type: ignore[no-untyped-def]
    tone = (np.sin(np.linspace(0, 200 * np.pi, 8000)) * 0.8).astype(np.float32)
    back = decode(encode(tone)).astype(np.float32) / 32768.0
    assert np.max(np.abs(back - tone)) < 0.04  # logarithmic steps top out near 1/32 of full scale
