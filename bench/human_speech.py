"""Recorded human speech with a reference transcript, for word error rates that mean something.

The clip is the 30 s two-speaker telephone conversation that ships inside the pyannote.audio
wheel (an MIT-licensed package) as ``pyannote/audio/sample/sample.wav``, with its word
transcript ``sample.stm`` (speaker, start, end, words per line). It is not committed here: the
wheel is fetched from the package registry once (``pip download``, no dependencies) and the two
files are kept under ``~/.cache/voxgate/bench-data``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from core.audio.chunk import AudioChunk

WHEEL = "pyannote.audio==4.0.7"
MEMBERS = ("pyannote/audio/sample/sample.wav", "pyannote/audio/sample/sample.stm")
CACHE = Path.home() / ".cache" / "voxgate" / "bench-data" / "pyannote-sample"


@dataclass(frozen=True)
class Utterance:
    speaker: str
    start: float
    end: float
    text: str


def fetch() -> tuple[Path, Path]:
    """The recording and its transcript, downloaded once."""
    wav, stm = (CACHE / Path(member).name for member in MEMBERS)
    if wav.exists() and stm.exists():
        return wav, stm
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", tmp],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            for member, target in zip(MEMBERS, (wav, stm), strict=True):
                target.write_bytes(archive.read(member))
    return wav, stm


def recording() -> tuple[AudioChunk, list[Utterance]]:
    wav, stm = fetch()
    samples, rate = soundfile.read(wav, dtype="float32")
    utterances = []
    for line in stm.read_text(encoding="utf-8").splitlines():
        _, _, speaker, start, end, *words = line.split()
        utterances.append(Utterance(speaker, float(start), float(end), " ".join(words)))
    return AudioChunk(np.ascontiguousarray(samples), int(rate)), utterances


def cut(audio: AudioChunk, start: float, end: float, margin: float = 0.15) -> AudioChunk:
    rate = audio.sample_rate
    first = max(0, round((start - margin) * rate))
    last = min(len(audio.samples), round((end + margin) * rate))
    return AudioChunk(audio.samples[first:last].copy(), rate)
