"""Streaming encoders: every output format decodes back to the audio that went in."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from core.audio.chunk import AudioChunk
from core.audio.decode import decode_audio
from core.audio.encode import OUTPUT_FORMATS, available_formats, encode_audio, open_encoder
from core.audio.errors import UnsupportedFormat
from core.audio.g711 import ulaw_decode
from core.audio.resample import StreamResampler, resample
from core.audio.wav_file import finalize_wav_file

RATE = 24000


def tone(seconds: float = 1.0, rate: int = RATE, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chunks(samples: np.ndarray, size: int = 2400) -> list[AudioChunk]:
    return [AudioChunk(samples[i : i + size], RATE) for i in range(0, len(samples), size)]


def streamed(fmt: str, samples: np.ndarray) -> bytes:
    encoder = open_encoder(fmt, RATE)
    return b"".join(encoder.encode(c) for c in chunks(samples)) + encoder.finish()


def dominant_frequency(audio: AudioChunk) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples))
    return float(np.argmax(spectrum) * audio.sample_rate / len(audio.samples))


def test_every_format_is_available_with_the_codecs_extra() -> None:
    assert set(available_formats()) == set(OUTPUT_FORMATS)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus", "aac"])
def test_streamed_output_decodes_back_to_the_tone(fmt: str) -> None:
    audio = decode_audio(streamed(fmt, tone()))
    assert 0.95 < audio.duration < 1.15
    assert dominant_frequency(audio) == pytest.approx(440, abs=3)


def test_streamed_wav_header_is_open_ended_and_first() -> None:
    encoder = open_encoder("wav", RATE)
    first = encoder.encode(chunks(tone())[0])
    assert first[:4] == b"RIFF" and first[8:16] == b"WAVEfmt "
    channels, rate = struct.unpack("<HI", first[22:28])
    assert (channels, rate) == (1, RATE)
    assert struct.unpack("<I", first[40:44])[0] == 0xFFFFFFFF


def test_pcm_is_16_bit_little_endian_at_the_engine_rate() -> None:
    samples = tone(0.1)
    data = streamed("pcm", samples)
    assert len(data) == 2 * len(samples)
    assert np.allclose(np.frombuffer(data, "<i2") / 32767.0, samples, atol=1e-4)


@pytest.mark.parametrize("fmt", ["mulaw", "alaw"])
def test_g711_output_is_8_khz(fmt: str) -> None:
    encoder = open_encoder(fmt, RATE)
    assert encoder.sample_rate == 8000
    data = streamed(fmt, tone())
    assert abs(len(data) - 8000) <= 16


def test_streamed_mulaw_matches_resampling_the_whole_clip() -> None:
    samples = tone()
    data = streamed("mulaw", samples)
    whole = resample(samples, RATE, 8000)
    got = ulaw_decode(data).astype(np.float32) / 32768.0
    n = min(len(got), len(whole))
    assert np.max(np.abs(got[:n] - whole[:n])) < 0.05


def test_stream_resampler_has_no_seams() -> None:
    samples = tone(1.0, rate=48000)
    converter = StreamResampler(48000, 16000)
    pieces = [converter.process(samples[i : i + 960]) for i in range(0, len(samples), 960)]
    joined = np.concatenate([*pieces, converter.flush()])
    whole = resample(samples, 48000, 16000)
    assert abs(len(joined) - len(whole)) <= 1
    n = min(len(joined), len(whole))
    assert np.max(np.abs(joined[:n] - whole[:n])) < 1e-3


def test_flac_round_trip_is_lossless_at_16_bit() -> None:
    samples = tone(0.5)
    decoded = decode_audio(encode_audio(AudioChunk(samples, RATE), "flac"))
    assert decoded.sample_rate == RATE
    assert np.max(np.abs(decoded.samples - samples)) < 2 / 32768


def test_unknown_format_is_refused() -> None:
    with pytest.raises(UnsupportedFormat):
        open_encoder("vorbis", RATE)


def test_saved_wav_gets_its_real_sizes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "out.wav"
    path.write_bytes(streamed("wav", tone(0.5)))
    finalize_wav_file(path)
    data = path.read_bytes()
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert struct.unpack("<I", data[40:44])[0] == len(data) - 44 == 2 * 12000
