"""Speaker reference files in a voices directory, described by their names.

A file named ``{lang}-{name}_{gender}.wav`` (``zh-Xinran_woman.wav``, ``en-Frank_man.flac``)
says the speaker's language and gender, which voice matching uses when a request falls back to
another engine. Both parts are optional: ``Narrator.mp3`` is a voice too. The voice id is the
file name without its suffix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.engines.tts import Gender, Voice

SUFFIXES = frozenset({".wav", ".mp3", ".flac"})

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}$")
_GENDERS: dict[str, Gender] = {
    "woman": "female",
    "female": "female",
    "girl": "female",
    "f": "female",
    "man": "male",
    "male": "male",
    "boy": "male",
    "m": "male",
    "neutral": "neutral",
}


@dataclass(frozen=True)
class VoiceFile:
    path: Path
    id: str
    name: str
    language: str | None
    gender: Gender | None

    def describe(self) -> Voice:
        return Voice(
            id=self.id,
            name=self.name,
            language=self.language,
            gender=self.gender,
            description=f"reference file {self.path.name}",
            kind="file",
        )


def parse_name(path: Path) -> VoiceFile:
    stem = path.stem
    language: str | None = None
    rest = stem
    head, dash, tail = stem.partition("-")
    if dash and tail and _LANGUAGE.match(head):
        language, rest = head.lower(), tail
    gender: Gender | None = None
    name, underscore, word = rest.rpartition("_")
    if underscore and name and word.lower() in _GENDERS:
        gender = _GENDERS[word.lower()]
        rest = name
    return VoiceFile(path=path, id=stem, name=rest, language=language, gender=gender)


def scan(folder: Path) -> list[VoiceFile]:
    """Every reference file directly in ``folder``, sorted by id (hidden files skipped)."""
    found: list[VoiceFile] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
                continue
            if entry.is_file():
                found.append(parse_name(path))
    return sorted(found, key=lambda v: v.id.lower())


def find(voices: list[VoiceFile], wanted: str) -> VoiceFile | None:
    """By id, then id ignoring case, then speaker name ignoring case when only one has it."""
    for voice in voices:
        if voice.id == wanted:
            return voice
    folded = wanted.casefold()
    for voice in voices:
        if voice.id.casefold() == folded:
            return voice
    named = [v for v in voices if v.name.casefold() == folded]
    return named[0] if len(named) == 1 else None
