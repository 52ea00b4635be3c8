"""The effective settings of one realtime session: the profile it started from, as changed by the
client's ``session.update`` events. Protocol-neutral; the front door maps its own field names
onto :class:`SessionPatch`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from core.config.schema import (
    EchoGuardConfig,
    RealtimeProfile,
    SemanticVadSettings,
    ServerVadSettings,
)
from core.realtime.formats import PCM16, AudioFormat

SessionKind = Literal["realtime", "transcription"]
Modality = Literal["text", "audio"]
TurnDetection = ServerVadSettings | SemanticVadSettings | None


@dataclass(frozen=True, slots=True)
class TranscriptionSettings:
    #: The model the client named (reported back); engines come from the profile's ``stt``.
    model: str | None = None
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Engines:
    """Route, engine or alias per step (None: the capability's route)."""

    stt: str | None
    llm: str | None
    tts: str | None
    vad: str | None


@dataclass(frozen=True, slots=True)
class SessionSettings:
    kind: SessionKind
    model: str
    profile: str
    engines: Engines
    instructions: str
    output_modalities: tuple[Modality, ...]
    input_format: AudioFormat
    output_format: AudioFormat
    voice: str
    speed: float
    transcription: TranscriptionSettings
    turn_detection: TurnDetection
    max_output_tokens: int | None
    #: The profile's cap, which ``max_output_tokens: inf`` means.
    token_cap: int
    temperature: float | None
    speech_confirm: float
    output_lead: float | None
    echo_guard: EchoGuardConfig
    #: Function tools as the client sent them, and ``auto``/``none``/``required``/a name.
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str = "auto"
    #: Fields accepted for compatibility and reported back unchanged (noise_reduction, tracing,
    #: truncation, include, prompt).
    passthrough: dict[str, Any] = field(default_factory=dict)

    @property
    def speaks(self) -> bool:
        return "audio" in self.output_modalities

    @property
    def reply_tokens(self) -> int:
        if self.max_output_tokens is None:
            return self.token_cap
        return min(self.max_output_tokens, self.token_cap)

    @property
    def create_response(self) -> bool:
        td = self.turn_detection
        return self.kind == "realtime" and td is not None and td.create_response

    @property
    def interrupt_response(self) -> bool:
        td = self.turn_detection
        return td is not None and td.interrupt_response

    def apply(self, patch: SessionPatch) -> SessionSettings:
        changes = {
            f.name: getattr(patch, f.name)
            for f in dataclasses.fields(patch)
            if getattr(patch, f.name) is not _UNSET
        }
        passthrough = changes.pop("passthrough", None)
        updated = dataclasses.replace(self, **changes)
        if passthrough:
            updated = dataclasses.replace(updated, passthrough={**self.passthrough, **passthrough})
        return updated


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: A field the client did not send (distinct from null, which turns turn detection off).
_UNSET: Any = _Unset()
UNSET: Any = _UNSET


@dataclass(frozen=True, slots=True)
class SessionPatch:
    """What a ``session.update`` changes; fields left UNSET keep their value."""

    kind: Any = _UNSET
    instructions: Any = _UNSET
    output_modalities: Any = _UNSET
    input_format: Any = _UNSET
    output_format: Any = _UNSET
    voice: Any = _UNSET
    speed: Any = _UNSET
    transcription: Any = _UNSET
    turn_detection: Any = _UNSET
    max_output_tokens: Any = _UNSET
    temperature: Any = _UNSET
    tools: Any = _UNSET
    tool_choice: Any = _UNSET
    passthrough: Any = _UNSET


def initial_settings(
    kind: SessionKind, model: str, profile_name: str, profile: RealtimeProfile
) -> SessionSettings:
    return SessionSettings(
        kind=kind,
        model=model,
        profile=profile_name,
        engines=Engines(profile.stt, profile.llm, profile.tts, profile.vad),
        instructions=profile.instructions,
        output_modalities=("audio",),
        input_format=PCM16,
        output_format=PCM16,
        voice=profile.voice,
        speed=profile.speed,
        transcription=TranscriptionSettings(model=None, language=profile.language),
        turn_detection=profile.turn_detection,
        max_output_tokens=None,
        token_cap=profile.max_output_tokens,
        temperature=profile.temperature,
        speech_confirm=profile.speech_confirm,
        output_lead=profile.output_lead,
        echo_guard=profile.echo_guard,
    )
