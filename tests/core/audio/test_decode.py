"""Decoding by content: every container the API accepts, and every kind of bad upload."""

from __future__ import annotations

import io
import struct
import tracemalloc

import av
import numpy as np
import pytest
import soundfile

from core.audio.chunk import AudioChunk
from core.audio.decode import RawFormat, decode_audio, sniff_container
from core.audio.encode import encode_audio
from core.audio.errors import AudioDecodeError, AudioTooLarge
from core.audio.g711 import alaw_encode, ulaw_encode
from tests.support.audio_bombs import silent_flac, wav_declaring

RATE = 16000


def tone(seconds: float = 1.0, rate: int = RATE, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def written(samples: np.ndarray, fmt: str, subtype: str | None = None, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def av_written(samples: np.ndarray, container: str, codec: str, rate: int = 48000) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def dominant_frequency(audio: AudioChunk) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples))
    return float(np.argmax(spectrum) * audio.sample_rate / len(audio.samples))


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_wav_subtypes_decode_to_the_same_tone(subtype: str) -> None:
    audio = decode_audio(written(tone(), "WAV", subtype))
    assert audio.sample_rate == RATE
    assert len(audio.samples) == RATE
    assert dominant_frequency(audio) == pytest.approx(440, abs=2)


def test_stereo_is_down_mixed_and_resampled_to_the_target_rate() -> None:
    stereo = np.stack([tone(rate=44100), tone(rate=44100)], axis=1)
    audio = decode_audio(written(stereo, "WAV", "PCM_16", rate=44100), target_rate=RATE)
    assert audio.sample_rate == RATE
    assert abs(len(audio.samples) - RATE) <= 2
    assert dominant_frequency(audio) == pytest.approx(440, abs=2)


@pytest.mark.parametrize(
    ("data", "container"),
    [
        (lambda: written(tone(), "FLAC"), "flac"),
        (lambda: written(tone(), "OGG", "VORBIS"), "ogg"),
        (lambda: encode_audio(AudioChunk(tone(rate=24000), 24000), "opus"), "ogg"),
        (lambda: encode_audio(AudioChunk(tone(rate=24000), 24000), "mp3"), "mp3"),
        (lambda: av_written(tone(rate=48000), "mp4", "aac"), "mp4"),
        (lambda: av_written(tone(rate=48000), "webm", "libopus"), "webm"),
    ],
    ids=["flac", "vorbis", "opus", "mp3", "m4a", "webm"],
)
def test_compressed_containers_are_recognised_by_content(data, container: str) -> None:  # type: ignore[no-untyped-def]
    payload = data()
    assert sniff_container(payload) == container
    audio = decode_audio(payload, target_rate=RATE)
    assert audio.sample_rate == RATE
    assert 0.9 < audio.duration < 1.2
    assert dominant_frequency(audio) == pytest.approx(440, abs=5)


@pytest.mark.parametrize("encoding", ["pcm_s16le", "f32le", "mulaw", "alaw"])
def test_raw_input_needs_and_uses_the_declared_rate(encoding: str) -> None:
    samples = tone(rate=8000)
    payload = {
        "pcm_s16le": (samples * 32767).astype("<i2").tobytes(),
        "f32le": samples.astype("<f4").tobytes(),
        "mulaw": ulaw_encode(samples),
        "alaw": alaw_encode(samples),
    }[encoding]
    audio = decode_audio(payload, raw=RawFormat(encoding, 8000), target_rate=RATE)  # type: ignore[arg-type]
    assert audio.sample_rate == RATE
    assert dominant_frequency(audio) == pytest.approx(440, abs=2)


def test_too_long_audio_is_refused_before_decoding() -> None:
    with pytest.raises(AudioTooLarge, match="limit"):
        decode_audio(written(tone(3.0), "WAV", "PCM_16"), max_seconds=2)


def wav_header(data_size: int, riff_size: int | None = None) -> bytes:
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    riff = riff_size if riff_size is not None else 36 + data_size
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + fmt
        + b"data"
        + struct.pack("<I", data_size)
    )


BAD_UPLOADS = {
    "empty": b"",
    "text": b"hello, this is not audio at all\n" * 10,
    "json": b'{"audio": "nope"}',
    "random": np.random.default_rng(7).bytes(4096),
    "header_only": wav_header(0),
    "riff_without_fmt": b"RIFF\x04\x00\x00\x00WAVE",
    "truncated_header": wav_header(32000)[:20],
    "fake_mp3_sync": b"\xff\xfb" + b"\x00" * 100,
    "fake_adts_frames": (b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 9) * 20,
    "fake_ogg": b"OggS" + b"\x00" * 60,
    "fake_flac": b"fLaC" + b"\x00" * 60,
}


@pytest.mark.parametrize("name", sorted(BAD_UPLOADS))
def test_bad_uploads_raise_decode_errors_only(name: str) -> None:
    with pytest.raises(AudioDecodeError):
        decode_audio(BAD_UPLOADS[name])


def wav_of_format(tag: int, bits: int) -> bytes:
    """A mono 16 kHz WAV of 1600 bytes whose fmt chunk names format ``tag`` at ``bits``."""
    fmt = struct.pack("<IHHIIHH", 16, tag, 1, RATE, RATE * 2, 2, bits)
    data = b"\x00\x01" * 800
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + fmt
    return header + b"data" + struct.pack("<I", len(data)) + data


@pytest.mark.parametrize(
    ("tag", "bits"), [(1, 0), (0xFFFE, 16)], ids=["pcm_of_0_bits", "extensible_without_extension"]
)
def test_a_codec_without_a_decoder_is_named_as_such(tag: int, bits: int) -> None:
    with pytest.raises(AudioDecodeError) as caught:
        decode_audio(wav_of_format(tag, bits))
    assert str(caught.value) == "could not decode audio: its codec is not supported"


def test_lying_wav_header_decodes_what_is_really_there() -> None:
    body = (tone(0.5) * 32767).astype("<i2").tobytes()
    # Declares ~4 GB of data but carries half a second.
    audio = decode_audio(wav_header(0xFFFFFFF0, riff_size=0xFFFFFFF8) + body, max_seconds=3600)
    assert audio.duration == pytest.approx(0.5, abs=0.01)


def test_truncated_wav_keeps_the_samples_it_has() -> None:
    full = written(tone(1.0), "WAV", "PCM_16")
    audio = decode_audio(full[: len(full) // 2])
    assert 0.4 < audio.duration < 0.6


@pytest.mark.parametrize("container", ["adts", "mp3", "webm"])
def test_a_truncated_compressed_recording_keeps_the_frames_it_has(container: str) -> None:
    # Cut mid-frame, as an upload or a recording that broke off is: the AAC decoder refuses
    # the last, partial frame, which must not cost the whole file.
    codec = {"adts": "aac", "mp3": "libmp3lame", "webm": "libopus"}[container]
    full = av_written(tone(2.0, rate=48000), container, codec)
    audio = decode_audio(full[: len(full) * 7 // 10], target_rate=RATE)
    assert 1.0 < audio.duration < 1.8
    assert dominant_frequency(audio) == pytest.approx(440, abs=5)


@pytest.mark.parametrize("scale", [5.0, 1e30, 3e38])
@pytest.mark.parametrize("raw", [False, True], ids=["wav", "f32le"])
def test_float_samples_beyond_full_scale_are_clipped_before_resampling(
    scale: float, raw: bool
) -> None:
    loud = (tone(1.0, rate=48000) * np.float32(scale)).astype(np.float32)
    loud[::1000] = np.nan
    data = loud.astype("<f4").tobytes() if raw else written(loud, "WAV", "FLOAT", rate=48000)
    declared = RawFormat("f32le", 48000) if raw else None
    audio = decode_audio(data, target_rate=RATE, raw=declared)
    assert np.isfinite(audio.samples).all()
    assert np.abs(audio.samples).max() <= 1.0
    assert dominant_frequency(audio) == pytest.approx(440, abs=2)


def test_a_decode_bomb_costs_no_more_than_its_mono_audio_at_the_rate_asked() -> None:
    """30 s of 8-channel 192 kHz silence is ~50 KB of FLAC and 46 M samples: decoded block by
    block, mixed down and resampled as it goes, it never exists at full size in memory."""
    bomb = silent_flac(30)
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        audio = decode_audio(bomb, max_rate=16000, max_seconds=3600)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert audio.sample_rate == 16000
    assert len(audio.samples) == pytest.approx(30 * 16000, abs=32)
    mono_bytes = audio.samples.nbytes
    # The decoded file at its declared size would be 46 M samples x 4 bytes = 184 MB.
    assert peak < 3 * mono_bytes, (peak, mono_bytes)


@pytest.mark.parametrize("rate", [1, 100, 2_147_483_647, 1_000_000])
def test_absurd_sample_rates_are_refused_before_decoding(rate: int) -> None:
    with pytest.raises(AudioDecodeError, match=f"{rate} Hz"):
        decode_audio(wav_declaring(rate), max_seconds=3600)


def test_absurd_channel_counts_are_refused() -> None:
    with pytest.raises(AudioDecodeError, match="100 channels"):
        decode_audio(wav_declaring(16000, channels=100, data_bytes=4000))


def test_the_length_limit_holds_for_what_the_header_declares() -> None:
    # 10 s at 8 kHz declared by the header: refused before a sample is decoded.
    with pytest.raises(AudioTooLarge):
        decode_audio(wav_declaring(8000, data_bytes=160_000), max_seconds=5)
