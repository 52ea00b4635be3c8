"""Decoding short clips against a shorter window than Whisper's 30 s.

faster-whisper pads every window's features to 3,000 frames (30 s) with all-zero columns and the
encoder's cost grows with the frames it is given: for a 3 s question nine tenths of the work is
padding. CTranslate2 accepts fewer frames, so a short clip is followed by real silence up to a
shorter window (the model has seen silence after speech in training; all-zero columns it has
not), and the encoder gets only that.

The model was trained on full windows. With the clip plus one second it often repeats the
sentence until it runs out of tokens; with a window of about 10 s of silence-padded audio it
transcribed 40 spoken requests (clean and with noise) as the full window did. What slips
through is caught here and decoded again with the full window: Whisper's own checks (gzip
compression ratio, average log probability) and a sentence said twice in a row, which is what
the failure looks like when it stops early.

Imported only when an engine loads (it imports faster-whisper).
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from faster_whisper import WhisperModel

from core.audio.chunk import FloatArray

SAMPLE_RATE = 16000
FULL_WINDOW_SECONDS = 30.0
#: Silence kept after the clip whatever the window: the model expects the speech to end.
TAIL_SECONDS = 1.0
#: Whisper's own thresholds for a window decoded wrongly (openai-whisper's transcribe defaults).
COMPRESSION_RATIO_LIMIT = 2.4
LOG_PROB_FLOOR = -1.0


class WindowedWhisperModel(WhisperModel):  # type: ignore[misc]
    """A WhisperModel whose encoder skips the all-zero padding columns when ``trim_padding``."""

    trim_padding = False

    def encode(self, features: np.ndarray) -> Any:
        if self.trim_padding:
            features = without_padding(features)
        return super().encode(features)

    def trimming(self) -> WindowedWhisperModel:
        """A view of this model (same weights, no copy) that trims; for one call's use."""
        view = copy.copy(self)
        view.trim_padding = True
        return view


def without_padding(features: np.ndarray) -> np.ndarray:
    """``features`` (mels x frames, or 1 x mels x frames) cut after their last non-zero column.

    The log-mel features of any audio, digital silence included, are never exactly zero, so the
    zero columns are exactly what faster-whisper's padding added."""
    columns = np.flatnonzero(np.any(features != 0, axis=-2))
    end = int(columns[-1]) + 1 if columns.size else features.shape[-1]
    end += end % 2  # the encoder's first layer halves the frames
    return features[..., : min(end, features.shape[-1])]


def padded_for_window(samples: FloatArray, window_seconds: float) -> FloatArray | None:
    """The clip followed by silence up to its window, or None when it needs the full window."""
    if window_seconds >= FULL_WINDOW_SECONDS:
        return None
    seconds = max(window_seconds, len(samples) / SAMPLE_RATE + TAIL_SECONDS)
    if seconds >= FULL_WINDOW_SECONDS:
        return None
    silence = np.zeros(round(seconds * SAMPLE_RATE) - len(samples), dtype=np.float32)
    return np.concatenate([samples.astype(np.float32, copy=False), silence])


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NOT_WORD = re.compile(r"[^\w\s]")


def looks_wrong(segments: Sequence[Any], no_speech_threshold: float) -> str | None:
    """Why a short-window result should be decoded again with the full window, if it should."""
    for segment in segments:
        if segment.compression_ratio > COMPRESSION_RATIO_LIMIT:
            return "compression_ratio"
        if segment.avg_logprob < LOG_PROB_FLOOR and segment.no_speech_prob <= no_speech_threshold:
            return "avg_logprob"
    text = " ".join(segment.text.strip() for segment in segments)
    sentences = [
        " ".join(_NOT_WORD.sub(" ", part).lower().split()) for part in _SENTENCE_END.split(text)
    ]
    for first, second in itertools.pairwise(sentences):
        if first and first == second:
            return "repeated_sentence"
    return None
