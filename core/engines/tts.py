"""Text-to-speech engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import Field

from core.audio.chunk import AudioChunk
from core.engines.base import Capability, Engine, EngineSettings
from core.engines.errors import InvalidRequest
from core.text.segment import DEFAULT_MAX_CHARS, DEFAULT_MIN_CHARS, split_sentences

Gender = Literal["female", "male", "neutral"]


class SegmentedSpeechSettings(EngineSettings):
    """Settings of engines that speak long text sentence by sentence (core/text/segment.py)."""

    #: Longest piece of text synthesized at once (characters).
    max_segment_chars: int = Field(DEFAULT_MAX_CHARS, ge=20, le=2000)
    #: Shorter pieces are joined to the next one.
    min_segment_chars: int = Field(DEFAULT_MIN_CHARS, ge=0, le=200)


def sentences_to_speak(text: str, settings: SegmentedSpeechSettings) -> list[str]:
    """The pieces a request's text is spoken in; a text with nothing to speak is refused."""
    pieces = split_sentences(
        text, max_chars=settings.max_segment_chars, min_chars=settings.min_segment_chars
    )
    if not pieces:
        raise InvalidRequest("input has nothing to speak", param="input")
    return pieces


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice an engine can speak with."""

    id: str
    name: str = ""
    language: str | None = None
    gender: Gender | None = None
    description: str = ""
    #: ``preset`` voices ship with the engine; ``cloned`` ones come from the voice store.
    kind: Literal["preset", "cloned", "file"] = "preset"


@dataclass(frozen=True, slots=True)
class ReferenceVoice:
    """A cloned voice from the voice store, resolved for the engine."""

    id: str
    audio: AudioChunk
    text: str | None = None
    language: str | None = None
    gender: Gender | None = None


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    text: str
    #: An id from :meth:`TTSEngine.voices`, or ``None`` for the engine's default.
    voice: str | None = None
    #: Set when ``voice`` names a cloned voice from the voice store.
    reference: ReferenceVoice | None = None
    language: str | None = None
    speed: float = 1.0
    instructions: str | None = None
    options: dict[str, object] = field(default_factory=dict)


class TTSEngine(Engine):
    capability: ClassVar[Capability] = Capability.TTS
    #: Whether ``instructions`` (style/emotion prompts) are honoured.
    supports_instructions: ClassVar[bool] = False
    #: Whether reference-audio cloning (voice store voices) is supported.
    supports_cloning: ClassVar[bool] = False

    def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        """Yield audio as it is synthesized; the first chunk as early as the model allows."""
        raise NotImplementedError

    async def voices(self) -> list[Voice]:
        """Voices this engine offers (may need the engine loaded)."""
        return []

    def default_voice(self) -> str | None:
        return None
