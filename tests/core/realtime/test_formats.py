"""Session audio formats: engine audio of any rate out as PCM16 24 kHz or G.711 8 kHz."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio.chunk import AudioChunk
from core.audio.g711 import alaw_decode, ulaw_decode
from core.realtime.formats import PCM16, PCMA, PCMU, AudioFormat, OutputEncoder


def tone(rate: int, seconds: float = 0.5) -> AudioChunk:
    t = np.arange(int(rate * seconds), dtype=np.float32) / rate
    return AudioChunk((0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)


@pytest.mark.parametrize(
    ("fmt", "rate", "width"),
    [(PCM16, 24_000, 2), (PCMU, 8000, 1), (PCMA, 8000, 1)],
)
def test_formats_and_their_clock(fmt: AudioFormat, rate: int, width: int) -> None:
    assert fmt.sample_rate == rate
    assert fmt.bytes_per_second == rate * width
    assert fmt.milliseconds(rate * width) == 1000
    assert fmt.bytes_for(20) == rate // 50 * width


@pytest.mark.parametrize("fmt", [PCM16, PCMU, PCMA])
def test_engine_audio_of_changing_rates_is_encoded_at_the_format_rate(fmt: AudioFormat) -> None:
    encoder = OutputEncoder(fmt)
    data = encoder.encode(tone(24_000)) + encoder.encode(tone(16_000)) + encoder.flush()
    seconds = fmt.milliseconds(len(data)) / 1000
    assert seconds == pytest.approx(1.0, abs=0.02)
    if fmt == PCM16:
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
    else:
        decode = ulaw_decode if fmt == PCMU else alaw_decode
        samples = decode(data).astype(np.float32) / 32768
    # Still a 440 Hz tone of the same loudness.
    spectrum = np.abs(np.fft.rfft(samples[: fmt.sample_rate // 2]))
    peak = np.argmax(spectrum) * 2  # bins of 2 Hz over half a second
    assert peak == pytest.approx(440, abs=4)
    assert np.sqrt(np.mean(samples**2)) == pytest.approx(0.4 / np.sqrt(2), rel=0.05)
