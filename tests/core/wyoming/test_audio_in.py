"""A command's audio: formats Home Assistant sends are taken, others refused with a code."""

from __future__ import annotations

import numpy as np
import pytest

from core.wyoming.audio_in import AudioRefused, IncomingAudio, PcmFormat

MONO = PcmFormat(16000, 2, 1)


def pcm(values: list[int]) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"rate": 16000, "width": 1, "channels": 1}, "unsupported_audio"),
        ({"rate": 16000, "width": 2, "channels": 3}, "unsupported_audio"),
        ({"rate": 4000, "width": 2, "channels": 1}, "unsupported_audio"),
        ({"rate": 16000, "width": 2}, "bad_audio_format"),
        ({"rate": 16000.0, "width": 2, "channels": 1}, "bad_audio_format"),
        ({"rate": True, "width": 2, "channels": 1}, "bad_audio_format"),
    ],
)
def test_formats_other_than_16_bit_pcm_are_refused(data: dict[str, object], code: str) -> None:
    with pytest.raises(AudioRefused) as refused:
        PcmFormat.of(data)
    assert refused.value.code == code


def test_chunks_split_mid_sample_join_up() -> None:
    audio = IncomingAudio(MONO, max_seconds=1)
    data = pcm([100, -200, 300])
    assert audio.add(MONO, data[:3]) == data[:2]  # half a sample waits for the next chunk
    assert audio.add(MONO, data[3:]) == data[2:]
    chunk = audio.chunk()
    assert chunk.sample_rate == 16000
    assert np.allclose(chunk.samples * 32768, [100, -200, 300])


def test_stereo_is_mixed_down() -> None:
    stereo = PcmFormat(22050, 2, 2)
    audio = IncomingAudio(stereo, max_seconds=1)
    assert audio.add(stereo, pcm([100, 300, -50, -150])) == pcm([200, -100])
    assert np.allclose(audio.chunk().samples * 32768, [200, -100])
    assert audio.seconds == pytest.approx(2 / 22050)


def test_the_length_cap_and_a_change_of_format() -> None:
    audio = IncomingAudio(MONO, max_seconds=0.5)
    audio.add(MONO, bytes(16000))  # exactly 0.5 s
    with pytest.raises(AudioRefused) as refused:
        audio.add(MONO, bytes(2))
    assert refused.value.code == "audio_too_long"
    with pytest.raises(AudioRefused) as refused:
        audio.add(PcmFormat(8000, 2, 1), bytes(2))
    assert refused.value.code == "unsupported_audio"
    assert IncomingAudio(MONO, 1).empty
