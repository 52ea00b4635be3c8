"""``WS /v1/audio/transcriptions/stream``: live transcription over a WebSocket.

The client sends raw audio as binary frames (``input_format`` and ``sample_rate`` in the query)
and ``{"type": "end"}`` as a text frame when it is done; the server answers with JSON text frames
``transcript.partial`` (an utterance still going on), ``transcript.final`` (an utterance ended at
a pause) and ``error``, then closes normally after the last final. Utterances are transcribed by
the ``stt`` route (or ``model``), cut by a detector from the ``vad`` route (or ``vad``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from starlette.datastructures import QueryParams
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from core.api.audio_upload import number_in_range
from core.api.context import generation_of, limits_of, runtime_of
from core.api.errors import ApiError, as_api_error, error_body
from core.api.live_sessions import LiveSessions, SessionsFull
from core.client_json import UnreadableJson, read_client_json
from core.config.schema import LimitsConfig
from core.engines.base import Capability
from core.routing.errors import UnknownModel
from core.runtime.generation import Generation
from core.stt_stream.endpointing import EndpointingOptions
from core.stt_stream.events import (
    FinalTranscript,
    PartialTranscript,
    SessionEvent,
)
from core.stt_stream.framing import ENCODINGS, InputFormat
from core.stt_stream.routed import RoutedDetector, routed_detector, routed_transcriber
from core.stt_stream.session import SessionOptions, TranscriptionSession

log = structlog.get_logger(__name__)

#: WebSocket close codes: done, the client's request was wrong, the server could not serve,
#: the server is restarting, the server is full for now.
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_SERVER_ERROR = 1000, 1008, 1011
CLOSE_RESTART, CLOSE_TRY_LATER = 1012, 1013


@dataclass(frozen=True, slots=True)
class StreamParams:
    model: str | None
    vad: str | None
    language: str | None
    prompt: str | None
    word_timestamps: bool
    session: SessionOptions


def _text(query: QueryParams, name: str) -> str | None:
    value = query.get(name)
    return value.strip() or None if value is not None else None


def _number(query: QueryParams, name: str, default: float, low: float, high: float) -> float:
    raw = _text(query, name)
    return default if raw is None else number_in_range(raw, name, low, high)


def _flag(query: QueryParams, name: str, default: bool) -> bool:
    raw = (_text(query, name) or str(default)).lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, f"{name} must be true or false", param=name)
    return raw in ("true", "1")


def parse_params(query: QueryParams) -> StreamParams:
    encoding = _text(query, "input_format") or "pcm_s16le"
    if encoding not in ENCODINGS:
        raise ApiError(
            400, f"input_format must be one of {', '.join(ENCODINGS)}", param="input_format"
        )
    rate = _number(query, "sample_rate", 16000, 4000, 192_000)
    if rate != int(rate):
        raise ApiError(400, "sample_rate must be a whole number", param="sample_rate")
    partials = _flag(query, "partials", True)
    endpointing = EndpointingOptions(
        threshold=_number(query, "threshold", 0.5, 0.05, 0.95),
        min_silence_ms=int(_number(query, "silence_ms", 500, 100, 5000)),
    )
    session = SessionOptions(
        input=InputFormat(encoding, int(rate)),
        endpointing=endpointing,
        partial_interval=_number(query, "partial_interval", 1.0, 0.2, 30) if partials else 0.0,
    )
    return StreamParams(
        model=_text(query, "model"),
        vad=_text(query, "vad"),
        language=_text(query, "language"),
        prompt=_text(query, "prompt"),
        word_timestamps=_flag(query, "word_timestamps", False),
        session=session,
    )


def _seconds(value: float) -> float:
    return round(value, 3)


def event_json(event: SessionEvent, words: bool) -> dict[str, Any]:
    if isinstance(event, PartialTranscript):
        return {
            "type": "transcript.partial",
            "utterance": event.utterance,
            "text": event.text,
            "start": _seconds(event.start),
            "end": _seconds(event.end),
        }
    if isinstance(event, FinalTranscript):
        body: dict[str, Any] = {
            "type": "transcript.final",
            "utterance": event.utterance,
            "text": event.text,
            "start": _seconds(event.start),
            "end": _seconds(event.end),
            "language": event.language,
            "engine": event.engine,
            "segments": [
                {
                    "start": _seconds(s.start),
                    "end": _seconds(s.end),
                    "text": s.text.strip(),
                }
                for s in event.segments
            ],
        }
        if words:
            body["words"] = [
                {"word": w.word.strip(), "start": _seconds(w.start), "end": _seconds(w.end)}
                for s in event.segments
                for w in s.words
            ]
        return body
    return {
        **_error_event(event.error),
        "utterance": event.utterance,
        "final": event.final,
    }


def _error_event(exc: BaseException) -> dict[str, Any]:
    error = as_api_error(exc)
    return {"type": "error", **error_body(error.status, error.message, error.param, error.code)}


class _Sender:
    """Serializes sends from the event forwarder and the receive loop; ignores a gone client."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._lock = asyncio.Lock()

    async def send(self, body: Mapping[str, Any]) -> bool:
        async with self._lock:
            if self._websocket.application_state is not WebSocketState.CONNECTED:
                return False
            try:
                await self._websocket.send_text(json.dumps(body, ensure_ascii=False))
            except (WebSocketDisconnect, RuntimeError, OSError):
                return False
            return True

    async def close(self, code: int, reason: str = "") -> None:
        async with self._lock:
            if self._websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                    await self._websocket.close(code, reason[:120])


async def _forward(session: TranscriptionSession, sender: _Sender, words: bool) -> None:
    async for event in session.events():
        await sender.send(event_json(event, words))


#: Why the audio stopped coming: the client said so, left, went quiet, sent too much, or the
#: daemon is stopping.
Ending = Literal["end", "left", "idle", "too_long", "shutdown"]


async def _receive_audio(
    websocket: WebSocket,
    session: TranscriptionSession,
    sender: _Sender,
    *,
    idle_seconds: float,
    max_bytes: int,
    stopping: asyncio.Event,
) -> Ending:
    """Feed binary frames until ``{"type": "end"}``, the client leaves, a limit is hit or the
    daemon begins to stop."""
    received = 0
    stop_wait = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            receiving = asyncio.ensure_future(websocket.receive())
            done, _ = await asyncio.wait(
                {receiving, stop_wait}, timeout=idle_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            if receiving not in done:
                receiving.cancel()
                with contextlib.suppress(BaseException):
                    await receiving
                return "shutdown" if stop_wait in done else "idle"
            ending = await _take(receiving.result(), session, sender, max_bytes - received)
            if isinstance(ending, int):
                received += ending
                continue
            return ending
    finally:
        stop_wait.cancel()


async def _take(
    message: Mapping[str, Any], session: TranscriptionSession, sender: _Sender, room: int
) -> Ending | int:
    """Handle one client message: the bytes of audio taken, or why the session ends."""
    if message["type"] == "websocket.disconnect":
        return "left"
    data = message.get("bytes")
    if data is not None:
        if len(data) > room:
            return "too_long"
        await session.feed(data)
        return len(data)
    try:
        kind = read_client_json(message.get("text") or "").get("type")
    except (UnreadableJson, AttributeError):  # not readable JSON, or not an object
        kind = None
    if kind == "end":
        return "end"
    await sender.send(
        _error_event(
            ApiError(
                400,
                'text frames must be {"type": "end"}; send audio as binary frames',
                code="invalid_message",
            )
        )
    )
    return 0


async def transcription_stream(websocket: WebSocket) -> None:
    await websocket.accept()
    sender = _Sender(websocket)
    sessions: LiveSessions = websocket.app.state.live_sessions
    try:
        with sessions.hold(limits_of(websocket).max_live_sessions) as stopping:
            await _serve(websocket, sender, stopping)
    except SessionsFull as exc:
        full = ApiError(429, f"{exc}", code="busy")
        await sender.send(_error_event(full))
        await sender.close(CLOSE_TRY_LATER, full.message)
        log.warning("stt_stream.refused", open_sessions=sessions.count)


async def _serve(websocket: WebSocket, sender: _Sender, stopping: asyncio.Event) -> None:
    generation = generation_of(websocket)
    try:
        params = parse_params(websocket.query_params)
        vad = await _detector(generation, params.vad)
        # Refused now, not at every utterance of a session that would go on hearing nothing.
        generation.router.chain(Capability.STT, params.model)
    except Exception as exc:
        error = as_api_error(exc)
        await sender.send(_error_event(exc))
        await sender.close(
            CLOSE_POLICY if error.status < 500 else CLOSE_SERVER_ERROR, error.message
        )
        return
    # Each utterance leases the configuration current at that moment: a reload reaches a live
    # session between utterances, and an old model is not kept alive by an open socket.
    transcriber = routed_transcriber(
        runtime_of(websocket),
        model=params.model,
        language=params.language,
        prompt=params.prompt,
        word_timestamps=params.word_timestamps,
    )
    log.info(
        "stt_stream.opened",
        vad=vad.engine,
        input_format=params.session.input.encoding,
        sample_rate=params.session.input.sample_rate,
    )
    limits = limits_of(websocket)
    ending: Ending = "left"
    async with TranscriptionSession(
        transcriber, vad.detector, params.session, detector_rate=vad.sample_rate
    ) as session:
        forwarder = asyncio.create_task(_forward(session, sender, params.word_timestamps))
        try:
            ending = await _receive_audio(
                websocket,
                session,
                sender,
                idle_seconds=limits.live_idle_timeout,
                max_bytes=int(limits.max_audio_seconds * params.session.input.bytes_per_second),
                stopping=stopping,
            )
            if ending != "left":
                # What was heard is still transcribed before the session ends.
                await session.finish()
                await forwarder
                if ending == "end":
                    await sender.close(CLOSE_NORMAL)
                elif ending == "shutdown":
                    await sender.close(CLOSE_RESTART, "the server is restarting")
                else:
                    limit = _limit_error(ending, limits)
                    await sender.send(_error_event(limit))
                    await sender.close(CLOSE_POLICY, limit.message)
        except Exception as exc:
            log.exception("stt_stream.failed", error=str(exc) or type(exc).__name__)
            await sender.send(_error_event(exc))
            await sender.close(CLOSE_SERVER_ERROR, "transcription failed")
        finally:
            if not forwarder.done():
                forwarder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forwarder
    log.info("stt_stream.closed", ending=ending)


async def _detector(generation: Generation, name: str | None) -> RoutedDetector:
    try:
        return await routed_detector(generation, name)
    except UnknownModel as exc:
        # The query parameter that named it is ``vad``, not ``model``.
        raise ApiError(404, exc.message, param="vad", code="model_not_found") from None


def _limit_error(ending: Ending, limits: LimitsConfig) -> ApiError:
    if ending == "idle":
        return ApiError(
            408,
            f"no audio for {limits.live_idle_timeout:g} seconds; the session has ended",
            code="session_idle",
        )
    return ApiError(
        413,
        f"a live session takes at most {limits.max_audio_seconds:g} seconds of audio",
        code="audio_too_long",
    )


routes = [WebSocketRoute("/v1/audio/transcriptions/stream", transcription_stream)]
