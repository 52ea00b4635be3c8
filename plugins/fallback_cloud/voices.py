"""The voices an OpenAI-compatible TTS server offers, described for closest-voice fallback.

OpenAI's voices speak many languages; they are listed as English (their main language) with the
gender they are usually described with, so a fallback from a local English voice keeps the
speaker's gender. A server with other voices lists them in the engine's ``voices`` setting.
"""

from __future__ import annotations

from core.engines.tts import Gender, Voice
from plugins.fallback_cloud.settings import VoiceSpec

_OPENAI: tuple[tuple[str, Gender], ...] = (
    ("alloy", "neutral"),
    ("ash", "male"),
    ("ballad", "male"),
    ("coral", "female"),
    ("echo", "male"),
    ("fable", "neutral"),
    ("nova", "female"),
    ("onyx", "male"),
    ("sage", "female"),
    ("shimmer", "female"),
    ("verse", "male"),
    ("marin", "female"),
    ("cedar", "male"),
)

OPENAI_VOICES: tuple[VoiceSpec, ...] = tuple(
    VoiceSpec(id=name, language="en", gender=gender) for name, gender in _OPENAI
)


def describe(specs: list[VoiceSpec] | None) -> list[Voice]:
    chosen = OPENAI_VOICES if specs is None else specs
    return [
        Voice(id=s.id, name=s.id, language=s.language, gender=s.gender, description=s.description)
        for s in chosen
    ]
