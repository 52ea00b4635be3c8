"""Session objects as JSON, in the shape of each dialect: items, content parts, the session, a
response."""

from __future__ import annotations

import time
from typing import Any

from core.api.realtime.dialect import Dialect
from core.config.schema import SemanticVadSettings, ServerVadSettings
from core.realtime.conversation import Content, Item
from core.realtime.events import ErrorInfo, ResponseInfo
from core.realtime.formats import PCM16, PCMA, PCMU, AudioFormat
from core.realtime.settings import SessionSettings, TurnDetection

GA_FORMATS = {
    PCM16: "audio/pcm",
    PCMU: "audio/pcmu",
    PCMA: "audio/pcma",
}
BETA_FORMATS = {
    PCM16: "pcm16",
    PCMU: "g711_ulaw",
    PCMA: "g711_alaw",
}
#: The model names the beta session object may carry (its schema lists them).
_BETA_MODELS = frozenset(
    {
        "gpt-realtime",
        "gpt-realtime-2025-08-28",
        "gpt-4o-realtime-preview",
        "gpt-4o-realtime-preview-2024-10-01",
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-4o-realtime-preview-2025-06-03",
        "gpt-4o-mini-realtime-preview",
        "gpt-4o-mini-realtime-preview-2024-12-17",
    }
)
_BETA_TRANSCRIBE_MODELS = frozenset({"gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1"})
#: How long a session is promised to last (reported as ``expires_at``).
SESSION_SECONDS = 3600


def format_json(fmt: AudioFormat, dialect: Dialect) -> Any:
    if dialect is Dialect.BETA:
        return BETA_FORMATS[fmt]
    body: dict[str, Any] = {"type": GA_FORMATS[fmt]}
    if fmt == PCM16:
        body["rate"] = fmt.sample_rate
    return body


def part_json(part: Content, dialect: Dialect) -> dict[str, Any]:
    """A content part inside an item."""
    kind: str = part.kind
    if dialect is Dialect.BETA and kind in ("output_text", "output_audio"):
        kind = "text" if kind == "output_text" else "audio"
    if part.kind in ("input_text", "output_text"):
        return {"type": kind, "text": part.text or ""}
    return {"type": kind, "transcript": part.transcript}


def event_part_json(part: Content) -> dict[str, Any]:
    """A content part in ``response.content_part.*`` events (``text`` or ``audio`` in both)."""
    if part.kind == "output_text":
        return {"type": "text", "text": part.text or ""}
    return {"type": "audio", "transcript": part.transcript or ""}


def item_json(item: Item, dialect: Dialect) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": item.id,
        "object": "realtime.item",
        "type": item.type,
        "status": item.status,
    }
    if item.type == "message":
        body["role"] = item.role
        body["content"] = [part_json(p, dialect) for p in item.content]
    elif item.type == "function_call":
        body.update(call_id=item.call_id, name=item.name or "", arguments=item.arguments or "")
    else:
        body.update(call_id=item.call_id or "", output=item.output or "")
    return body


def error_json(error: ErrorInfo) -> dict[str, Any]:
    return {
        "type": error.type,
        "code": error.code,
        "message": error.message,
        "param": error.param,
        "event_id": error.event_id,
    }


def turn_detection_json(detection: TurnDetection, dialect: Dialect) -> dict[str, Any] | None:
    if detection is None:
        return None
    if isinstance(detection, ServerVadSettings):
        body = detection.model_dump()
        if dialect is Dialect.BETA:
            body.pop("idle_timeout_ms")
        return body
    assert isinstance(detection, SemanticVadSettings)
    return detection.model_dump()


def _transcription_json(settings: SessionSettings, *, beta_transcription: bool) -> dict[str, Any]:
    t = settings.transcription
    model = t.model
    if beta_transcription and model not in _BETA_TRANSCRIBE_MODELS:
        model = None
    body: dict[str, Any] = {"model": model or settings.engines.stt or "stt"}
    if beta_transcription and model is None:
        body.pop("model")
    if t.language:
        body["language"] = t.language
    if t.prompt:
        body["prompt"] = t.prompt
    return body


def session_json(session_id: str, settings: SessionSettings, dialect: Dialect) -> dict[str, Any]:
    expires = int(time.time()) + SESSION_SECONDS
    if dialect is Dialect.BETA:
        return _beta_session(session_id, settings, expires)
    extra = settings.passthrough
    audio_input: dict[str, Any] = {
        "format": format_json(settings.input_format, dialect),
        "transcription": _transcription_json(settings, beta_transcription=False),
        "turn_detection": turn_detection_json(settings.turn_detection, dialect),
        "noise_reduction": extra.get("noise_reduction"),
    }
    if settings.kind == "transcription":
        return {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": session_id,
            "expires_at": expires,
            "audio": {"input": audio_input},
            "include": extra.get("include"),
        }
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": settings.model,
        "expires_at": expires,
        "output_modalities": list(settings.output_modalities),
        "instructions": settings.instructions,
        "audio": {
            "input": audio_input,
            "output": {
                "format": format_json(settings.output_format, dialect),
                "voice": settings.voice,
                "speed": settings.speed,
            },
        },
        "max_output_tokens": "inf"
        if settings.max_output_tokens is None
        else settings.max_output_tokens,
        "tools": list(settings.tools),
        "tool_choice": settings.tool_choice,
        "tracing": extra.get("tracing"),
        "truncation": extra.get("truncation", "auto"),
        "include": extra.get("include"),
    }


def _beta_session(session_id: str, settings: SessionSettings, expires: int) -> dict[str, Any]:
    extra = settings.passthrough
    modalities = ["text"] if not settings.speaks else ["audio", "text"]
    body: dict[str, Any] = {
        "id": session_id,
        "object": "realtime.session",
        "expires_at": expires,
        "modalities": modalities if settings.kind == "realtime" else ["text"],
        "instructions": settings.instructions,
        "voice": settings.voice,
        "input_audio_format": BETA_FORMATS[settings.input_format],
        "output_audio_format": BETA_FORMATS[settings.output_format],
        "input_audio_transcription": _transcription_json(settings, beta_transcription=False),
        "turn_detection": turn_detection_json(settings.turn_detection, Dialect.BETA),
        "input_audio_noise_reduction": extra.get("noise_reduction"),
        "tools": list(settings.tools),
        "tool_choice": settings.tool_choice,
        "temperature": settings.temperature if settings.temperature is not None else 0.8,
        "max_response_output_tokens": "inf"
        if settings.max_output_tokens is None
        else settings.max_output_tokens,
        "speed": settings.speed,
        "tracing": extra.get("tracing"),
    }
    if settings.model in _BETA_MODELS:
        body["model"] = settings.model
    return body


def beta_transcription_session_json(settings: SessionSettings) -> dict[str, Any]:
    """The object of beta's ``transcription_session.updated`` (its schema wants a client
    secret; a WebSocket session has none, so it is empty)."""
    return {
        "client_secret": {"value": "", "expires_at": int(time.time()) + SESSION_SECONDS},
        "input_audio_format": BETA_FORMATS[settings.input_format],
        "input_audio_transcription": _transcription_json(settings, beta_transcription=True),
        "modalities": ["text"],
        "turn_detection": turn_detection_json(settings.turn_detection, Dialect.BETA),
    }


def response_json(
    response: ResponseInfo, dialect: Dialect, *, conversation_id: str
) -> dict[str, Any]:
    output_format = response.output_format
    details: dict[str, Any] | None = None
    if response.status in ("cancelled", "incomplete", "failed"):
        details = {"type": response.status, "reason": response.reason}
        if response.error is not None:
            error = response.error
            details["error"] = {"type": error.type, "code": error.code, "message": error.message}
    body: dict[str, Any] = {
        "id": response.id,
        "object": "realtime.response",
        "status": response.status,
        "status_details": details,
        "output": [item_json(i, dialect) for i in response.output],
        "conversation_id": conversation_id if response.conversation_id else None,
        "max_output_tokens": "inf"
        if response.max_output_tokens is None
        else response.max_output_tokens,
        "metadata": response.metadata,
        "usage": _usage_json(response),
    }
    if dialect is Dialect.BETA:
        body["modalities"] = ["audio", "text"] if "audio" in response.modalities else ["text"]
        body["voice"] = response.voice
        body["output_audio_format"] = BETA_FORMATS[output_format]
    else:
        body["output_modalities"] = list(response.modalities)
        body["audio"] = {
            "output": {"format": format_json(output_format, dialect), "voice": response.voice}
        }
    return body


def _usage_json(response: ResponseInfo) -> dict[str, Any] | None:
    if response.status == "in_progress":
        return None
    usage = response.usage
    prompt = usage.prompt_tokens if usage else 0
    completion = usage.completion_tokens if usage else 0
    return {
        "total_tokens": prompt + completion,
        "input_tokens": prompt,
        "output_tokens": completion,
        "input_token_details": {"text_tokens": prompt, "audio_tokens": 0, "cached_tokens": 0},
        "output_token_details": {"text_tokens": completion, "audio_tokens": 0},
    }
