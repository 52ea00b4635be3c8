"""Client events of the OpenAI realtime protocol, validated.

Fields OpenAI's API accepts but voxgate has no use for yet (tracing, prompt, reasoning, ...)
are accepted and reported back; names it does not know are an error naming the parameter, as
OpenAI's own server answers.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.realtime.errors import RealtimeError

Eagerness = Literal["low", "medium", "high", "auto"]
BetaFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
Modalities = list[Literal["text", "audio"]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FormatIn(_Strict):
    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"]
    rate: Literal[24000] | None = None


class TranscriptionIn(_Strict):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    delay: str | None = None
    keywords: list[str] | None = None
    languages: list[str] | None = None


class TurnDetectionIn(_Strict):
    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    idle_timeout_ms: int | None = None
    eagerness: Eagerness | None = None


class NoiseReductionIn(_Strict):
    type: Literal["near_field", "far_field"] | None = None
    strength: float | None = None


class VoiceId(_Strict):
    id: str


class AudioInputIn(_Strict):
    format: FormatIn | None = None
    transcription: TranscriptionIn | None = None
    turn_detection: TurnDetectionIn | None = None
    noise_reduction: NoiseReductionIn | None = None


class AudioOutputIn(_Strict):
    format: FormatIn | None = None
    voice: str | VoiceId | None = None
    speed: float | None = Field(None, ge=0.25, le=4.0)


class AudioIn(_Strict):
    input: AudioInputIn | None = None
    output: AudioOutputIn | None = None


class _Echoed(_Strict):
    """Fields a client may send back from a session object it was given."""

    id: str | None = None
    object: str | None = None
    expires_at: int | None = None
    client_secret: Any = None


class _Instructed(_Strict):
    """What sessions and responses alike may say about the replies to come."""

    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None


class _GAExtras(_Strict):
    """Fields of the GA protocol accepted and reported back, with no use in voxgate yet."""

    prompt: Any = None
    reasoning: Any = None
    parallel_tool_calls: bool | None = None


class SessionGA(_Echoed, _Instructed, _GAExtras):
    type: Literal["realtime", "transcription"] | None = None
    model: str | None = None
    output_modalities: Modalities | None = None
    audio: AudioIn | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    tracing: Any = None
    truncation: Any = None
    include: list[str] | None = None


class SessionBeta(_Echoed, _Instructed):
    model: str | None = None
    modalities: Modalities | None = None
    voice: str | None = None
    input_audio_format: BetaFormat | None = None
    output_audio_format: BetaFormat | None = None
    input_audio_transcription: TranscriptionIn | None = None
    turn_detection: TurnDetectionIn | None = None
    input_audio_noise_reduction: NoiseReductionIn | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_response_output_tokens: int | Literal["inf"] | None = None
    speed: float | None = Field(None, ge=0.25, le=4.0)
    tracing: Any = None
    include: list[str] | None = None


class ContentIn(_Strict):
    type: Literal[
        "input_text",
        "input_audio",
        "input_image",
        "output_text",
        "output_audio",
        "text",
        "audio",
        "item_reference",
    ]
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None
    id: str | None = None
    image_url: str | None = None
    detail: str | None = None


class ItemIn(_Strict):
    id: str | None = Field(None, max_length=64)
    type: Literal["message", "function_call", "function_call_output", "item_reference"] = "message"
    object: Literal["realtime.item"] | None = None
    role: Literal["user", "assistant", "system"] | None = None
    status: Literal["completed", "incomplete", "in_progress"] | None = None
    content: list[ContentIn] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None


class ResponseOutputIn(_Strict):
    format: FormatIn | None = None
    voice: str | VoiceId | None = None


class ResponseAudioIn(_Strict):
    output: ResponseOutputIn | None = None


class _Response(_Instructed):
    conversation: str | None = None
    input: list[ItemIn] | None = None
    metadata: dict[str, str] | None = None


class ResponseGA(_Response, _GAExtras):
    max_output_tokens: int | Literal["inf"] | None = None
    output_modalities: Modalities | None = None
    audio: ResponseAudioIn | None = None


class ResponseBeta(_Response):
    modalities: Modalities | None = None
    voice: str | None = None
    output_audio_format: BetaFormat | None = None
    temperature: float | None = None
    max_response_output_tokens: int | Literal["inf"] | None = None


class _Event(_Strict):
    type: str
    event_id: str | None = Field(None, max_length=512)


class SessionUpdate(_Event):
    session: dict[str, Any]


class Append(_Event):
    audio: str


class NoFields(_Event):
    """commit, clear, output_audio_buffer.clear"""


class ItemCreate(_Event):
    item: ItemIn
    previous_item_id: str | None = None


class ItemRef(_Event):
    """retrieve, delete"""

    item_id: str


class ItemTruncate(_Event):
    item_id: str
    content_index: int = Field(ge=0)
    audio_end_ms: int = Field(ge=0)


class ResponseCreate(_Event):
    response: dict[str, Any] | None = None


class ResponseCancel(_Event):
    response_id: str | None = None


EVENT_MODELS: dict[str, type[_Event]] = {
    "session.update": SessionUpdate,
    "transcription_session.update": SessionUpdate,
    "input_audio_buffer.append": Append,
    "input_audio_buffer.commit": NoFields,
    "input_audio_buffer.clear": NoFields,
    "output_audio_buffer.clear": NoFields,
    "conversation.item.create": ItemCreate,
    "conversation.item.retrieve": ItemRef,
    "conversation.item.delete": ItemRef,
    "conversation.item.truncate": ItemTruncate,
    "response.create": ResponseCreate,
    "response.cancel": ResponseCancel,
}


def validated(model: type[BaseModel], data: Any, prefix: str = "") -> Any:
    """``data`` as ``model``, or a :class:`RealtimeError` naming the first bad parameter."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = _field_path(model, first["loc"])
        path = ".".join(str(p) for p in (prefix, *loc) if p != "")
        if first["type"] == "extra_forbidden":
            message = f"Unknown parameter: '{path}'."
            code = "unknown_parameter"
        elif first["type"] == "missing":
            message = f"Missing required parameter: '{path}'."
            code = "missing_required_parameter"
        else:
            message = f"Invalid value for '{path}': {first['msg']}."
            code = "invalid_value"
        raise RealtimeError(message, code=code, param=path) from None


def _field_path(model: type[BaseModel], loc: Sequence[int | str]) -> list[int | str]:
    """``loc`` without the names pydantic gives the members of a union (``int``, ``str``,
    ``VoiceId``...): the client named a field, not one of the types it may hold."""
    path: list[int | str] = []
    kind: Any = model
    for part in loc:
        members = _union_members(kind)
        while len(members) == 1:  # a field that may be null: no member name in loc
            kind = members[0]
            members = _union_members(kind)
        if members:
            kind = next((m for m in members if getattr(m, "__name__", None) == part), None)
            continue
        path.append(part)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            kind = field.annotation if field is not None else None
        elif get_origin(kind) in (list, dict):
            kind = get_args(kind)[-1]
        else:
            kind = None
    return path


def _union_members(kind: Any) -> list[Any]:
    if get_origin(kind) not in (Union, types.UnionType):
        return []
    return [member for member in get_args(kind) if member is not type(None)]
