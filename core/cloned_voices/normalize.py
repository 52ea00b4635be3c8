"""Preparing a reference clip for voice cloning: mono, one rate, steady loudness, sensible length.

Cloning models copy what they hear, including a long silence, a whisper-quiet level or a clip cut
mid-word. So: silence is trimmed from both ends, a clip longer than ``max_seconds`` is cut at
the quietest moment near the limit (a pause between words), and the speech is brought to a
common loudness without clipping.
"""

from __future__ import annotations

import numpy as np

from core.audio.chunk import AudioChunk, FloatArray
from core.audio.resample import resample

REFERENCE_RATE = 24_000
_FRAME_SECONDS = 0.02
_SILENCE_DB = -40.0  # frames this far below the loudest frame count as silence
_PAD_SECONDS = 0.1
_TARGET_DBFS = -20.0
_PEAK_LIMIT = 0.95


class ReferenceAudioError(ValueError):
    """The clip cannot serve as a reference (silent or too short once trimmed)."""


def _frame_rms(samples: FloatArray, frame: int) -> FloatArray:
    count = len(samples) // frame
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    frames = samples[: count * frame].reshape(count, frame)
    rms: FloatArray = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)).astype(np.float32)
    return rms


def normalize_reference(
    audio: AudioChunk,
    *,
    rate: int = REFERENCE_RATE,
    min_seconds: float = 1.0,
    max_seconds: float = 15.0,
) -> AudioChunk:
    samples = resample(audio.samples, audio.sample_rate, rate)
    samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    frame = int(rate * _FRAME_SECONDS)
    rms = _frame_rms(samples, frame)
    if len(rms) == 0 or float(rms.max()) < 1e-4:
        raise ReferenceAudioError("the reference audio is silent")

    # Trim silence at both ends, keeping a little air around the speech.
    loud = rms >= rms.max() * 10 ** (_SILENCE_DB / 20)
    active = np.flatnonzero(loud)
    pad = int(_PAD_SECONDS / _FRAME_SECONDS)
    first = max(int(active[0]) - pad, 0)
    last = min(int(active[-1]) + pad + 1, len(rms))
    samples = samples[first * frame : last * frame]
    rms = rms[first:last]

    # Too long: cut in the quietest frame of the last three seconds before the limit.
    limit = int(max_seconds / _FRAME_SECONDS)
    if len(rms) > limit:
        window = rms[max(limit - int(3.0 / _FRAME_SECONDS), 1) : limit]
        cut = limit - len(window) + int(np.argmin(window))
        samples = samples[: cut * frame]
        rms = rms[:cut]

    seconds = len(samples) / rate
    if seconds < min_seconds:
        raise ReferenceAudioError(
            f"the reference has {seconds:.1f} s of sound; at least {min_seconds:.0f} s is needed "
            "(3 s or more clones better)"
        )

    # Loudness of the speech itself (silent frames would drag the average down).
    speech = rms[rms >= rms.max() * 10 ** (_SILENCE_DB / 20)]
    level = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2)))
    gain = 10 ** (_TARGET_DBFS / 20) / max(level, 1e-6)
    peak = float(np.abs(samples).max())
    gain = min(gain, _PEAK_LIMIT / max(peak, 1e-6))
    out = np.ascontiguousarray(samples * gain, dtype=np.float32)
    return AudioChunk(out, rate)
