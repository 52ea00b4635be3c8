"""Real speech for tests, spoken by hibari-tts's bundled "heart" voice (24 kHz, offline).

Each text is synthesized once per test session (with a fixed seed, so it is the same audio every
run) and handed out read-only.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import numpy as np
import soundfile

from core.audio.chunk import AudioChunk
from core.audio.resample import resample

SAMPLE_RATE = 24_000

#: Plain sentences without digits (so "nine" vs "9" never counts as an error).
SENTENCES = (
    "The weather is lovely today, so we are going to the park.",
    "Please remember to bring a warm jacket and some water.",
    "My brother likes to read books about history and science.",
    "We will meet at the library after lunch tomorrow.",
)


@functools.cache
def _voice() -> Any:
    from hibari import Hibari

    return Hibari(voice="heart", threads=1)


@functools.cache
def speech(text: str, seed: int = 1) -> AudioChunk:
    """``text`` spoken at 24 kHz."""
    samples = np.ascontiguousarray(_voice()(text, seed=seed), dtype=np.float32)
    samples.flags.writeable = False
    return AudioChunk(samples, SAMPLE_RATE)


def at_rate(chunk: AudioChunk, rate: int) -> AudioChunk:
    return AudioChunk(resample(chunk.samples, chunk.sample_rate, rate), rate)


def quiet(seconds: float, rate: int, noise: float = 0.0, seed: int = 0) -> AudioChunk:
    """Digital silence, or white noise of RMS ``noise``."""
    count = round(seconds * rate)
    samples = np.random.default_rng(seed).standard_normal(count).astype(np.float32) * noise
    return AudioChunk(samples, rate)


def joined(*parts: AudioChunk) -> AudioChunk:
    """Chunks one after another, all converted to the first one's rate."""
    rate = parts[0].sample_rate
    return AudioChunk.concat([at_rate(p, rate) if p.sample_rate != rate else p for p in parts])


def wav_bytes(chunk: AudioChunk) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, chunk.samples, chunk.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def voiced_span(chunk: AudioChunk, level: float = 0.02) -> tuple[float, float]:
    """Seconds from the start to the first and last sample louder than ``level``: hibari leaves
    about 0.3 s of quiet before a sentence and 0.5 s after it."""
    loud = np.flatnonzero(np.abs(chunk.samples) > level)
    if len(loud) == 0:
        return 0.0, 0.0
    return loud[0] / chunk.sample_rate, (loud[-1] + 1) / chunk.sample_rate
