"""One realtime connection: each client event becomes a session call; a bad one becomes an error
event naming it, and the session goes on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog

from core.api.realtime.client_events import (
    EVENT_MODELS,
    Append,
    ItemCreate,
    ItemRef,
    ItemTruncate,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    validated,
)
from core.api.realtime.dialect import Dialect
from core.api.realtime.render import Renderer, error_event
from core.api.realtime.translate import (
    beta_patch,
    decode_audio,
    ga_patch,
    item_from_client,
    response_request,
)
from core.client_json import UnreadableJson, read_client_json
from core.realtime import events as ev
from core.realtime.errors import RealtimeError
from core.realtime.session import RealtimeSession

log = structlog.get_logger(__name__)

#: Sends one server event (already JSON text) to the client.
Send = Callable[[str], None]


class Connection:
    def __init__(self, dialect: Dialect, send: Send) -> None:
        self.dialect = dialect
        self._send = send
        self.session: RealtimeSession | None = None
        self.renderer: Renderer | None = None

    def attach(self, session: RealtimeSession) -> None:
        self.session = session
        self.renderer = Renderer(session.id, self.dialect)

    def emit(self, event: ev.Event) -> None:
        """The session's events, rendered for this connection's dialect."""
        assert self.renderer is not None
        body = self.renderer.render(event)
        if body is not None:
            self._send(json.dumps(body, ensure_ascii=False, separators=(",", ":")))

    def error(
        self,
        message: str,
        code: str,
        *,
        event_id: str | None = None,
        param: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        """An error event (also before a session exists)."""
        info = ev.ErrorInfo(message, code, type=kind, param=param, event_id=event_id)
        self._send(json.dumps(error_event(info), ensure_ascii=False, separators=(",", ":")))

    async def handle(self, text: str) -> None:
        event_id: str | None = None
        try:
            data = _parse(text)
            raw_id = data.get("event_id")
            event_id = raw_id if isinstance(raw_id, str) else None
            if not isinstance(data.get("type"), str):
                raise RealtimeError(
                    "Missing required parameter: 'type'.",
                    code="missing_required_parameter",
                    param="type",
                )
            await self._dispatch(data)
        except RealtimeError as exc:
            self.error(exc.message, exc.code, event_id=event_id, param=exc.param)
        except Exception as exc:  # a bug must not end the session
            log.exception("realtime.event_failed", error=str(exc) or type(exc).__name__)
            self.error(
                "internal error; see the server log",
                "internal_error",
                event_id=event_id,
                kind="server_error",
            )

    async def _dispatch(self, data: dict[str, Any]) -> None:
        session = self.session
        assert session is not None
        kind = data["type"]
        model = EVENT_MODELS.get(kind)
        if model is None:
            raise RealtimeError(
                f"Invalid value: {kind[:80]!r}. Supported client events: "
                + ", ".join(sorted(EVENT_MODELS)),
                code="unknown_event_type",
                param="type",
            )
        event = validated(model, data)
        beta = self.dialect is Dialect.BETA
        if isinstance(event, SessionUpdate):
            if kind == "transcription_session.update" and session.settings.kind != "transcription":
                raise RealtimeError(
                    "transcription_session.update is for transcription sessions "
                    "(connect with ?intent=transcription)",
                    code="invalid_session_type",
                    param="type",
                )
            patch = (beta_patch if beta else ga_patch)(event.session, session.settings)
            await session.update(patch)
        elif isinstance(event, Append):
            await session.append(decode_audio(event.audio, "audio"))
        elif isinstance(event, ItemCreate):
            item, audio = item_from_client(event.item)
            await session.create_item(item, event.previous_item_id, audio)
        elif isinstance(event, ItemTruncate):
            session.truncate_item(event.item_id, event.content_index, event.audio_end_ms)
        elif isinstance(event, ItemRef):
            if kind == "conversation.item.retrieve":
                session.retrieve_item(event.item_id)
            else:
                session.delete_item(event.item_id)
        elif isinstance(event, ResponseCreate):
            session.create_response(
                response_request(event.response, session.conversation, beta=beta)
            )
        elif isinstance(event, ResponseCancel):
            session.cancel_response(event.response_id)
        elif kind == "input_audio_buffer.commit":
            await session.commit()
        elif kind == "input_audio_buffer.clear":
            await session.clear()
        else:
            raise RealtimeError(
                "output_audio_buffer.clear is for WebRTC and SIP connections; over a WebSocket "
                "send response.cancel and conversation.item.truncate",
                code="unsupported_event",
                param="type",
            )


def _parse(text: str) -> dict[str, Any]:
    try:
        # A lone surrogate would be echoed back in a server event that cannot be sent as UTF-8.
        data = read_client_json(text)
    except UnreadableJson as exc:
        raise RealtimeError(f"the event {exc.reason}", code=exc.code) from None
    if not isinstance(data, dict):
        raise RealtimeError("an event must be a JSON object", code="invalid_event")
    return data
