"""``WS /v1/realtime``: OpenAI realtime sessions (voice in, spoken replies out).

``?model=`` picks the session profile (``realtime.models`` maps OpenAI's realtime model names;
a profile's own name works too; anything else gets the default profile). ``?intent=transcription``
opens a transcription-only session. Auth is the gateway's (``Authorization: Bearer``); browsers,
which cannot set headers on a WebSocket, send the key as the subprotocol
``openai-insecure-api-key.<key>`` next to ``realtime``.

The session does not hold the connection's configuration lease: each turn leases the generation
current when it starts, so a reload takes effect at the next turn instead of at the next
connection, and old engines are not kept alive by a long call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from core.api.context import generation_of, runtime_of
from core.api.live_sessions import LiveSessions, SessionsFull
from core.api.realtime.connection import Connection
from core.api.realtime.dialect import BETA_SUBPROTOCOL, dialect_of
from core.config.schema import RealtimeLimits
from core.realtime.failures import failure_info
from core.realtime.session import RealtimeSession
from core.realtime.settings import SessionKind, initial_settings

log = structlog.get_logger(__name__)

CLOSE_NORMAL, CLOSE_POLICY, CLOSE_SERVER_ERROR = 1000, 1008, 1011
CLOSE_RESTART, CLOSE_TRY_LATER = 1012, 1013


def _subprotocols(websocket: WebSocket) -> list[str]:
    offered: list[str] = []
    for name, value in websocket.scope["headers"]:
        if name == b"sec-websocket-protocol":
            offered += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    return offered


def _chosen(offered: list[str]) -> str | None:
    """The subprotocol the server answers with (a browser refuses a reply without one)."""
    for name in ("realtime", BETA_SUBPROTOCOL):
        if name in offered:
            return name
    return None


#: Events a session keeps for a client that is not reading them, at least: past it the session
#: ends, so a client that sends without reading cannot make the daemon buffer without bound.
_OUTBOX_MIN_BYTES = 16 * 1024 * 1024


def _outbox_limit(limits: RealtimeLimits) -> int:
    """Room for a few of the largest events (an echoed item is as big as the client's event)."""
    return max(_OUTBOX_MIN_BYTES, 4 * limits.max_event_bytes)


class _Outbox:
    """Server events in order, written by one task; a client gone or slow never blocks the
    session (events then wait here, up to ``limit`` characters; past it ``overflowed`` is set
    and nothing more is kept)."""

    def __init__(self, websocket: WebSocket, limit: int) -> None:
        self._websocket = websocket
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queued = 0
        self._limit = limit
        self.overflowed = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="realtime-outbox")

    def send(self, text: str) -> None:
        if self.overflowed.is_set():
            return
        self._queued += len(text)
        if self._queued > self._limit:
            log.warning("realtime.client_not_reading", queued=self._queued, limit=self._limit)
            self.overflowed.set()
            return
        self._queue.put_nowait(text)

    async def _run(self) -> None:
        while (text := await self._queue.get()) is not None:
            self._queued -= len(text)
            if self._websocket.application_state is not WebSocketState.CONNECTED:
                continue
            try:
                await self._websocket.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError):
                continue

    async def close(self, code: int, reason: str = "") -> None:
        """Send what is queued, then close; a client that stopped reading gets nothing more."""
        if self.overflowed.is_set():
            self._task.cancel()
        else:
            self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self._websocket.close(code, reason[:120])


async def realtime(websocket: WebSocket) -> None:
    offered = _subprotocols(websocket)
    dialect = dialect_of(websocket.scope["headers"], offered)
    await websocket.accept(subprotocol=_chosen(offered))
    limits = runtime_of(websocket).current.config.config.realtime.limits
    outbox = _Outbox(websocket, _outbox_limit(limits))
    connection = Connection(dialect, outbox.send)
    code, reason = await _open(websocket, connection, outbox.overflowed)
    await outbox.close(code, reason)


async def _open(
    websocket: WebSocket, connection: Connection, overflowed: asyncio.Event
) -> tuple[int, str]:
    runtime = runtime_of(websocket)
    config = runtime.current.config.config
    limits = config.realtime.limits
    query = websocket.query_params
    intent = (query.get("intent") or "").strip()
    if intent not in ("", "transcription", "conversation"):
        connection.error(
            f"unknown intent {intent[:40]!r} (use transcription)", "invalid_value", param="intent"
        )
        return CLOSE_POLICY, "unknown intent"
    if query.get("call_id"):
        connection.error(
            "joining calls (call_id) needs WebRTC or SIP; this server speaks WebSocket",
            "unsupported",
            param="call_id",
        )
        return CLOSE_POLICY, "call_id is not supported"
    model = (query.get("model") or "").strip()
    profile_name, profile = config.realtime.profile_for(model or None)
    kind: SessionKind = "transcription" if intent == "transcription" else "realtime"
    settings = initial_settings(kind, model or profile_name, profile_name, profile)
    sessions: LiveSessions = websocket.app.state.live_sessions
    try:
        with sessions.hold(limits.max_sessions, kind="realtime") as stopping:
            session = RealtimeSession(
                runtime,
                settings,
                connection.emit,
                limits=limits,
                context_messages=config.conversation.max_history_messages,
            )
            connection.attach(session)
            # Turns lease generations themselves (see the module docstring).
            connection_lease = generation_of(websocket)
            connection_lease.release()
            runtime.metrics.realtime_sessions.inc()
            try:
                return await _serve(websocket, connection, session, limits, stopping, overflowed)
            finally:
                runtime.metrics.realtime_sessions.dec()
                await session.close()
                connection_lease.acquire()
    except SessionsFull as exc:
        connection.error(str(exc), "busy", kind="rate_limit_error")
        log.warning("realtime.refused", open_sessions=sessions.count)
        return CLOSE_TRY_LATER, "too many sessions"


async def _serve(
    websocket: WebSocket,
    connection: Connection,
    session: RealtimeSession,
    limits: RealtimeLimits,
    stopping: asyncio.Event,
    overflowed: asyncio.Event,
) -> tuple[int, str]:
    idle_timeout, max_session = limits.idle_timeout, limits.max_session
    try:
        await session.start()
    except Exception as exc:
        info = failure_info(exc)
        log.warning("realtime.start_failed", error=info.message)
        connection.error(info.message, info.code, kind=info.type)
        return CLOSE_SERVER_ERROR, "session could not start"
    deadline = time.monotonic() + max_session
    stop_wait = asyncio.ensure_future(stopping.wait())
    overflow_wait = asyncio.ensure_future(overflowed.wait())
    try:
        while True:
            left = deadline - time.monotonic()
            # The session's end comes before the idle limit: a timeout is then the end, however
            # the loop's timer rounds (uvloop's is in whole milliseconds and may fire early).
            ending = left <= idle_timeout
            if left <= 0:
                connection.error(
                    f"the session reached its maximum length of {max_session:g} seconds",
                    "session_expired",
                )
                return CLOSE_POLICY, "session expired"
            receiving = asyncio.ensure_future(websocket.receive())
            done, _ = await asyncio.wait(
                {receiving, stop_wait, overflow_wait},
                timeout=min(idle_timeout, left),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if overflow_wait in done:
                receiving.cancel()
                with contextlib.suppress(BaseException):
                    await receiving
                return CLOSE_POLICY, "client is not reading events"
            if receiving not in done:
                receiving.cancel()
                with contextlib.suppress(BaseException):
                    await receiving
                if stop_wait in done:
                    # The daemon is stopping: the reply being spoken ends, then goodbye.
                    await session.finish_reply()
                    connection.error("the server is restarting; connect again", "server_restarting")
                    return CLOSE_RESTART, "the server is restarting"
                if ending:
                    deadline = min(deadline, time.monotonic())
                    continue
                connection.error(
                    f"no client event for {idle_timeout:g} seconds; the session has ended",
                    "session_idle",
                )
                return CLOSE_POLICY, "session idle"
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                return CLOSE_NORMAL, ""
            text = message.get("text")
            if text is None:
                connection.error(
                    "binary frames are not part of the protocol: send audio as "
                    "input_audio_buffer.append events",
                    "invalid_event",
                )
                continue
            if len(text) > limits.max_event_bytes:
                connection.error(
                    f"an event may be at most {limits.max_event_bytes} bytes, "
                    f"this one is {len(text)}",
                    "event_too_large",
                )
                continue
            await connection.handle(text)
    finally:
        stop_wait.cancel()
        overflow_wait.cancel()


routes = [WebSocketRoute("/v1/realtime", realtime)]
