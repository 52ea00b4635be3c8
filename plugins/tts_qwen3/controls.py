"""Turning a speech request's knobs into what Qwen3-TTS understands.

- language: ISO codes (``zh``, ``en-US``) or names map onto the model's language names.
- speakers: the CustomVoice presets, with the language and gender clients choose by.
- style: ``instructions``, the seeds' ``emotion`` option and ``speed`` become one natural-language
  instruction, which only some models follow (1.7B CustomVoice, VoiceDesign).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.engines.tts import Gender, Voice

_ISO_TO_NAME = {
    "zh": "chinese",
    "en": "english",
    "ja": "japanese",
    "ko": "korean",
    "de": "german",
    "fr": "french",
    "ru": "russian",
    "pt": "portuguese",
    "es": "spanish",
    "it": "italian",
}
_NAME_TO_ISO = {name: code for code, name in _ISO_TO_NAME.items()}


def model_language(requested: str | None, supported: list[str]) -> str | None:
    """The model's name for a language (``auto`` when unspecified); None if it has no such one."""
    if not requested or requested.lower() == "auto":
        return "auto"
    value = requested.strip().lower().replace("_", "-")
    name = _ISO_TO_NAME.get(value.split("-")[0], value)
    return name if name in supported else None


@dataclass(frozen=True)
class SpeakerFacts:
    language: str
    gender: Gender
    description: str


#: What is known of the official CustomVoice presets (others are listed without facts).
SPEAKERS: Mapping[str, SpeakerFacts] = {
    "vivian": SpeakerFacts("zh", "female", "bright young female voice"),
    "serena": SpeakerFacts("zh", "female", "warm, gentle female voice"),
    "uncle_fu": SpeakerFacts("zh", "male", "mellow, low older male voice"),
    "dylan": SpeakerFacts("zh", "male", "youthful male voice, Beijing dialect"),
    "eric": SpeakerFacts("zh", "male", "lively male voice, Sichuan dialect"),
    "ryan": SpeakerFacts("en", "male", "dynamic male voice"),
    "aiden": SpeakerFacts("en", "male", "clear, sunny male voice"),
    "ono_anna": SpeakerFacts("ja", "female", "playful female voice"),
    "sohee": SpeakerFacts("ko", "female", "warm female voice"),
}


def describe_speaker(speaker: str) -> Voice:
    facts = SPEAKERS.get(speaker.lower())
    name = "_".join(part.capitalize() for part in speaker.split("_"))
    if facts is None:
        return Voice(id=speaker.lower(), name=name, description="Qwen3-TTS preset speaker")
    return Voice(
        id=speaker.lower(),
        name=name,
        language=facts.language,
        gender=facts.gender,
        description=f"Qwen3-TTS preset: {facts.description}",
    )


def _intensity(value: float) -> str:
    if value >= 0.7:
        return "strong "
    if value >= 0.35:
        return ""
    return "a little "


def emotion_phrase(emotion: object) -> str | None:
    """The seeds' ``emotion`` option as words: ``"happy"`` or ``{"happiness": 0.8, "energy": 1.2}``.

    Emotion weights are 0..1; ``energy`` (and ``pitch``) are factors around 1.0.
    """
    if emotion is None:
        return None
    if isinstance(emotion, str):
        return f"Speak in a {emotion.strip()} tone." if emotion.strip() else None
    if not isinstance(emotion, Mapping):
        raise ValueError("emotion must be a word or an object of emotion weights")
    parts = []
    for name, raw in emotion.items():
        if not isinstance(raw, int | float) or isinstance(raw, bool):
            raise ValueError(f"emotion {name!r} must be a number")
        value = float(raw)
        if name in ("energy", "pitch"):
            if value > 1.1:
                parts.append("more energetic" if name == "energy" else "higher pitched")
            elif value < 0.9:
                parts.append("calmer" if name == "energy" else "lower pitched")
        elif value > 0.05:
            parts.append(f"{_intensity(value)}{name}".strip())
    if not parts:
        return None
    return "Speak with " + ", ".join(parts) + "."


def speed_phrase(speed: float) -> str | None:
    if speed >= 1.6:
        return "Speak very fast."
    if speed > 1.1:
        return "Speak a little faster than usual."
    if speed <= 0.6:
        return "Speak very slowly."
    if speed < 0.9:
        return "Speak a little slower than usual."
    return None
