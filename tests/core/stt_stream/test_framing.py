"""Decoding raw chunks across arbitrary borders and re-buffering them into 16 kHz VAD frames."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from core.audio.resample import resample
from core.stt_stream.framing import ChunkDecoder, Framer, InputFormat


def split_randomly(data: bytes, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    cuts = sorted(rng.choice(np.arange(1, len(data)), size=40, replace=False).tolist())
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def decode_in_pieces(decoder: ChunkDecoder, data: bytes, seed: int = 0) -> np.ndarray:
    return np.concatenate([decoder.decode(piece) for piece in split_randomly(data, seed)])


def test_pcm16_split_inside_samples_decodes_like_the_whole() -> None:
    pcm = np.random.default_rng(1).integers(-32768, 32767, 999, dtype=np.int16)
    decoder = ChunkDecoder("pcm_s16le")
    decoded = decode_in_pieces(decoder, pcm.astype("<i2").tobytes())
    assert np.array_equal(decoded, pcm.astype(np.float32) / 32768)
    assert decoder.pending_bytes == 0


def test_an_odd_trailing_byte_waits_for_the_next_chunk() -> None:
    decoder = ChunkDecoder("pcm_s16le")
    assert len(decoder.decode(b"\x01\x00\x02")) == 1
    assert decoder.pending_bytes == 1
    assert decoder.decode(b"\x00").tolist() == [2 / 32768]


def test_float32_split_inside_samples_and_bad_values_are_tamed() -> None:
    samples = np.array([0.5, -0.25, np.nan, 7.0, -3.0], dtype="<f4")
    decoded = decode_in_pieces(ChunkDecoder("f32le"), samples.tobytes() * 10)
    assert decoded[:5].tolist() == [0.5, -0.25, 0.0, 1.0, -1.0]
    assert len(decoded) == 50


@pytest.mark.parametrize(
    ("encoding", "encode", "decode"),
    [("mulaw", ulaw_encode, ulaw_decode), ("alaw", alaw_encode, alaw_decode)],
)
def test_g711_chunks_decode_with_the_reference_tables(encoding, encode, decode) -> None:  # type: ignore[no-untyped-def]
    tone = (0.3 * np.sin(np.arange(1600) / 8000 * 2 * np.pi * 440)).astype(np.float32)
    data = encode(tone)
    decoded = decode_in_pieces(ChunkDecoder(encoding), data)
    assert np.array_equal(decoded, decode(data).astype(np.float32) / 32768)
    assert np.abs(decoded - tone).max() < 0.02


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_frames_are_whole_and_carry_the_resampled_stream(rate: int) -> None:
    seconds = 1.3
    t = np.arange(round(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    framer = Framer(rate, 16000, 512)
    frames: list[np.ndarray] = []
    step = rate // 50  # 20 ms chunks, which never line up with 512-sample frames
    for start in range(0, len(tone), step):
        frames.extend(framer.push(tone[start : start + step]))
    frames.extend(framer.flush())
    assert all(len(f) == 512 for f in frames)
    stream = np.concatenate(frames)
    expected = round(seconds * 16000)
    assert expected <= len(stream) < expected + 512
    reference = resample(tone, rate, 16000)
    middle = slice(1000, expected - 1000)  # away from the filter's edges
    assert np.abs(stream[middle] - reference[middle]).max() < 0.01


def test_input_format_is_checked() -> None:
    with pytest.raises(ValueError):
        InputFormat("opus", 16000)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        InputFormat("pcm_s16le", 1000)
