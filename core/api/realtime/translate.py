"""Validated client objects to the session's own terms: session patches, items, reply requests."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import ValidationError

from core.api.realtime.client_events import (
    ContentIn,
    FormatIn,
    ItemIn,
    ResponseBeta,
    ResponseGA,
    SessionBeta,
    SessionGA,
    TranscriptionIn,
    TurnDetectionIn,
    VoiceId,
    validated,
)
from core.config.schema import SemanticVadSettings, ServerVadSettings
from core.realtime.conversation import Content, Conversation, Item, new_id
from core.realtime.errors import RealtimeError
from core.realtime.formats import PCM16, PCMA, PCMU
from core.realtime.replies import ResponseRequest
from core.realtime.settings import (
    UNSET,
    Modality,
    SessionPatch,
    SessionSettings,
    TranscriptionSettings,
    TurnDetection,
)
from core.realtime.tools import check_tool_choice, check_tools

_GA_FORMATS = {
    "audio/pcm": PCM16,
    "audio/pcmu": PCMU,
    "audio/pcma": PCMA,
}
_BETA_FORMATS = {
    "pcm16": PCM16,
    "g711_ulaw": PCMU,
    "g711_alaw": PCMA,
}


def decode_audio(data: str, param: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RealtimeError(f"{param} is not valid base64", param=param) from None


def _voice(value: str | VoiceId | None) -> Any:
    if value is None:
        return UNSET
    return value.id if isinstance(value, VoiceId) else value


def _ga_format(value: FormatIn | None) -> Any:
    return UNSET if value is None else _GA_FORMATS[value.type]


def _modalities(value: list[Modality] | None, param: str) -> Any:
    if value is None:
        return UNSET
    if not value:
        raise RealtimeError("at least one output modality is needed", param=param)
    # Audio replies always come with their transcript, as OpenAI's do.
    return ("audio",) if "audio" in value else ("text",)


def _transcription(
    value: TranscriptionIn | None, current: TranscriptionSettings, given: bool
) -> Any:
    if not given:
        return UNSET
    if value is None:
        # Transcripts are always made (the reply needs words); null keeps the defaults.
        return TranscriptionSettings(language=current.language)
    return TranscriptionSettings(model=value.model, language=value.language, prompt=value.prompt)


def turn_detection(
    value: TurnDetectionIn | None, current: TurnDetection, param: str
) -> TurnDetection:
    """The client's turn detection over the current one (fields not sent keep their value when
    the type stays, else take their defaults)."""
    if value is None:
        return None
    given = value.model_dump(exclude_none=True, exclude={"type"})
    kind = value.type
    if kind == "server_vad":
        base = current.model_dump() if isinstance(current, ServerVadSettings) else {}
        given.pop("eagerness", None)
        cls: type[ServerVadSettings] | type[SemanticVadSettings] = ServerVadSettings
    else:
        base = current.model_dump() if isinstance(current, SemanticVadSettings) else {}
        for name in ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            given.pop(name, None)
        cls = SemanticVadSettings
    try:
        return cls.model_validate({**base, **given, "type": kind})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise RealtimeError(
            f"Invalid value for '{param}.{name}': {first['msg']}.", param=f"{param}.{name}"
        ) from None


def _max_tokens(value: int | str | None, param: str) -> Any:
    if value is None:
        return UNSET
    if value == "inf":
        return None
    assert isinstance(value, int)
    if not 1 <= value <= 4096:
        raise RealtimeError("max output tokens must be between 1 and 4096, or 'inf'", param=param)
    return value


def _tools(value: list[dict[str, Any]] | None, param: str) -> Any:
    if value is None:
        return UNSET
    check_tools(value, param)
    return tuple({"type": "function", **tool} for tool in value)


def _tool_choice(value: str | dict[str, Any] | None, param: str) -> Any:
    """``auto`` / ``none`` / ``required``, or the name of a function (GA and beta both send
    ``{"type": "function", "name": ...}``)."""
    if value is None:
        return UNSET
    if isinstance(value, str):
        return value
    name = value.get("name")
    if value.get("type") != "function" or not isinstance(name, str):
        raise RealtimeError(
            'tool_choice must be "auto", "none", "required" or {"type": "function", "name": ...}',
            param=param,
        )
    return name


def checked_tools(tools: Any, choice: Any, current: SessionSettings, param: str) -> tuple[Any, Any]:
    """Tools and choice after a change, checked together (a choice may name a new tool)."""
    final_tools = current.tools if tools is UNSET else tools
    final_choice = current.tool_choice if choice is UNSET else choice
    if tools is not UNSET or choice is not UNSET:
        check_tool_choice(final_choice, final_tools, f"{param}.tool_choice")
    return tools, choice


def _session_tools(session: SessionGA | SessionBeta, current: SessionSettings) -> tuple[Any, Any]:
    return checked_tools(
        _tools(session.tools, "session.tools"),
        _tool_choice(session.tool_choice, "session.tool_choice"),
        current,
        "session",
    )


def ga_patch(raw: dict[str, Any], current: SessionSettings) -> SessionPatch:
    session: SessionGA = validated(SessionGA, raw, "session")
    given = session.model_fields_set
    audio = session.audio
    audio_in = audio.input if audio else None
    audio_out = audio.output if audio else None
    in_given = audio_in.model_fields_set if audio_in else set()
    passthrough: dict[str, Any] = {
        name: getattr(session, name)
        for name in ("tracing", "truncation", "include", "prompt")
        if name in given
    }
    if audio_in is not None and "noise_reduction" in in_given:
        nr = audio_in.noise_reduction
        passthrough["noise_reduction"] = nr.model_dump(exclude_none=True) if nr else None
    tools, choice = _session_tools(session, current)
    return SessionPatch(
        kind=session.type or UNSET,
        instructions=session.instructions if session.instructions is not None else UNSET,
        output_modalities=_modalities(session.output_modalities, "session.output_modalities"),
        input_format=_ga_format(audio_in.format if audio_in else None),
        output_format=_ga_format(audio_out.format if audio_out else None),
        voice=_voice(audio_out.voice if audio_out else None),
        speed=audio_out.speed if audio_out and audio_out.speed is not None else UNSET,
        transcription=_transcription(
            audio_in.transcription if audio_in else None,
            current.transcription,
            "transcription" in in_given,
        ),
        turn_detection=turn_detection(
            audio_in.turn_detection, current.turn_detection, "session.audio.input.turn_detection"
        )
        if audio_in is not None and "turn_detection" in in_given
        else UNSET,
        max_output_tokens=_max_tokens(session.max_output_tokens, "session.max_output_tokens"),
        tools=tools,
        tool_choice=choice,
        passthrough=passthrough or UNSET,
    )


def beta_patch(raw: dict[str, Any], current: SessionSettings) -> SessionPatch:
    session: SessionBeta = validated(SessionBeta, raw, "session")
    given = session.model_fields_set
    passthrough: dict[str, Any] = {
        name: getattr(session, name) for name in ("tracing", "include") if name in given
    }
    if "input_audio_noise_reduction" in given:
        nr = session.input_audio_noise_reduction
        passthrough["noise_reduction"] = nr.model_dump(exclude_none=True) if nr else None
    tools, choice = _session_tools(session, current)
    return SessionPatch(
        instructions=session.instructions if session.instructions is not None else UNSET,
        output_modalities=_modalities(session.modalities, "session.modalities"),
        input_format=_BETA_FORMATS[session.input_audio_format]
        if session.input_audio_format
        else UNSET,
        output_format=_BETA_FORMATS[session.output_audio_format]
        if session.output_audio_format
        else UNSET,
        voice=session.voice or UNSET,
        speed=session.speed if session.speed is not None else UNSET,
        transcription=_transcription(
            session.input_audio_transcription,
            current.transcription,
            "input_audio_transcription" in given,
        ),
        turn_detection=turn_detection(
            session.turn_detection, current.turn_detection, "session.turn_detection"
        )
        if "turn_detection" in given
        else UNSET,
        max_output_tokens=_max_tokens(
            session.max_response_output_tokens, "session.max_response_output_tokens"
        ),
        temperature=session.temperature if session.temperature is not None else UNSET,
        tools=tools,
        tool_choice=choice,
        passthrough=passthrough or UNSET,
    )


def item_from_client(item: ItemIn, param: str = "item") -> tuple[Item, bytes | None]:
    """A client's item and the audio to transcribe for it (if it brings audio without a
    transcript)."""
    item_id = item.id or new_id("item")
    if item.type == "function_call":
        if not item.name:
            raise RealtimeError("a function_call item needs a name", param=f"{param}.name")
        return Item(
            item_id,
            type="function_call",
            call_id=item.call_id or new_id("call"),
            name=item.name,
            arguments=item.arguments or "",
        ), None
    if item.type == "function_call_output":
        if not item.call_id:
            raise RealtimeError(
                "a function_call_output item needs a call_id", param=f"{param}.call_id"
            )
        return Item(
            item_id, type="function_call_output", call_id=item.call_id, output=item.output or ""
        ), None
    if item.type == "item_reference":
        raise RealtimeError(
            "item references are only allowed in response.input", param=f"{param}.type"
        )
    if item.role is None:
        raise RealtimeError("a message item needs a role", param=f"{param}.role")
    if not item.content:
        raise RealtimeError("a message item needs content", param=f"{param}.content")
    parts: list[Content] = []
    audio: bytes | None = None
    for index, part in enumerate(item.content):
        where = f"{param}.content.{index}"
        content, clip = _content(item.role, part, where)
        if clip is not None:
            if audio is not None:
                raise RealtimeError("one audio part per item", param=where)
            audio = clip
        parts.append(content)
    return Item(item_id, role=item.role, content=parts), audio


def _content(role: str, part: ContentIn, where: str) -> tuple[Content, bytes | None]:
    kind = part.type
    if role == "assistant":
        if kind in ("output_text", "text"):
            return Content("output_text", text=part.text or ""), None
        if kind in ("output_audio", "audio"):
            return Content("output_audio", transcript=part.transcript or ""), None
    elif kind == "input_text":
        return Content("input_text", text=part.text or ""), None
    elif kind == "input_audio" and role == "user":
        if part.transcript is not None or not part.audio:
            return Content("input_audio", transcript=part.transcript or ""), None
        return Content("input_audio"), decode_audio(part.audio, f"{where}.audio")
    raise RealtimeError(
        f"content type {kind!r} is not supported in a {role} message", param=f"{where}.type"
    )


def response_request(
    raw: dict[str, Any] | None, conversation: Conversation, *, beta: bool
) -> ResponseRequest:
    if raw is None:
        return ResponseRequest()
    if beta:
        b: ResponseBeta = validated(ResponseBeta, raw, "response")
        return ResponseRequest(
            instructions=b.instructions,
            modalities=_modalities(b.modalities, "response.modalities")
            if b.modalities is not None
            else None,
            voice=b.voice,
            output_format=_BETA_FORMATS[b.output_audio_format] if b.output_audio_format else None,
            max_output_tokens=_response_tokens(b.max_response_output_tokens, "response"),
            in_conversation=_in_conversation(b.conversation),
            input=_input_items(b.input, conversation),
            metadata=b.metadata,
            **_response_tools(b.tools, b.tool_choice),
        )
    g: ResponseGA = validated(ResponseGA, raw, "response")
    output = g.audio.output if g.audio else None
    return ResponseRequest(
        instructions=g.instructions,
        modalities=_modalities(g.output_modalities, "response.output_modalities")
        if g.output_modalities is not None
        else None,
        voice=_voice(output.voice) if output and output.voice else None,
        output_format=_GA_FORMATS[output.format.type] if output and output.format else None,
        max_output_tokens=_response_tokens(g.max_output_tokens, "response"),
        in_conversation=_in_conversation(g.conversation),
        input=_input_items(g.input, conversation),
        metadata=g.metadata,
        **_response_tools(g.tools, g.tool_choice),
    )


def _response_tools(
    tools: list[dict[str, Any]] | None, choice: str | dict[str, Any] | None
) -> dict[str, Any]:
    """A response's own tools and choice (None: the session's)."""
    given_tools = _tools(tools, "response.tools")
    given_choice = _tool_choice(choice, "response.tool_choice")
    if given_choice is not UNSET and given_tools is not UNSET:
        check_tool_choice(given_choice, given_tools, "response.tool_choice")
    return {
        "tools": None if given_tools is UNSET else given_tools,
        "tool_choice": None if given_choice is UNSET else given_choice,
    }


def _response_tokens(value: int | str | None, param: str) -> Any:
    tokens = _max_tokens(value, f"{param}.max_output_tokens")
    if tokens is UNSET:
        return None
    return "inf" if tokens is None else tokens


def _in_conversation(value: str | None) -> bool:
    if value in (None, "auto"):
        return True
    if value == "none":
        return False
    raise RealtimeError("conversation must be 'auto' or 'none'", param="response.conversation")


def _input_items(items: list[ItemIn] | None, conversation: Conversation) -> tuple[Item, ...] | None:
    if items is None:
        return None
    resolved: list[Item] = []
    for index, raw in enumerate(items):
        if raw.type == "item_reference" or (raw.id and raw.content is None and raw.role is None):
            if not raw.id:
                raise RealtimeError(
                    "an item reference needs an id", param=f"response.input.{index}.id"
                )
            resolved.append(conversation.find(raw.id, f"response.input.{index}.id"))
            continue
        item, audio = item_from_client(raw, f"response.input.{index}")
        if audio is not None:
            raise RealtimeError(
                "audio in response.input needs a transcript",
                param=f"response.input.{index}.content",
            )
        resolved.append(item)
    return tuple(resolved)
