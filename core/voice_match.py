"""Choosing a voice on an engine: aliases, per-engine maps, and the closest match on fallback."""

from __future__ import annotations

from collections.abc import Iterable

from core.engines.tts import Voice


def language_family(language: str | None) -> str | None:
    """The language without its region, lower case: ``en_US`` and ``en-GB`` are both ``en``."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].lower()


def closest_voice(target: Voice, candidates: Iterable[Voice]) -> Voice | None:
    """The candidate most like ``target``: same language and gender, then same language (exact
    region before family), then same gender, then the first candidate."""
    best: Voice | None = None
    best_score = -1
    family = language_family(target.language)
    for voice in candidates:
        score = 0
        if target.language and voice.language:
            if voice.language.lower() == target.language.lower():
                score += 4
            elif language_family(voice.language) == family:
                score += 3
        if target.gender and voice.gender == target.gender:
            score += 2
        if score > best_score:
            best, best_score = voice, score
    return best
