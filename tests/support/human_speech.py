"""Recorded human speech shipped with the tests: five LibriVox clips (public domain) with the
words their reader speaks. See tests/data/speech/librivox/README.md for where they come from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from core.audio.chunk import AudioChunk

LIBRIVOX = Path(__file__).resolve().parents[1] / "data" / "speech" / "librivox"


@dataclass(frozen=True)
class SpokenClip:
    name: str
    audio: AudioChunk
    #: What the reader says, word for word (lowercase, no punctuation, disfluencies kept).
    text: str


def librivox_clips() -> list[SpokenClip]:
    """The clips in file order: 24 s of one adult reader at 16 kHz, 79 words."""
    clips = []
    for line in (LIBRIVOX / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
        name, text = line.split("\t")
        samples, rate = soundfile.read(LIBRIVOX / name, dtype="float32")
        clips.append(SpokenClip(name, AudioChunk(np.ascontiguousarray(samples), int(rate)), text))
    return clips
