"""Reading and writing Wyoming events on a byte stream, within limits.

An event is one JSON header line (``type``, optional ``data``, ``data_length``,
``payload_length``), then ``data_length`` bytes of JSON merged into ``data``, then
``payload_length`` bytes of payload (PCM audio). The ``wyoming`` package's own reader trusts the
lengths a client announces; here every length is checked before a byte of it is read, so a
client cannot make the daemon buffer more than ``max_event_bytes`` for one event.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from wyoming.event import Event, async_write_event

from core.client_json import UnreadableJson, read_client_json
from core.wyoming.errors import Refusal

log = structlog.get_logger(__name__)

#: Event types are short names such as ``audio-chunk``.
_MAX_TYPE_CHARS = 64


class ProtocolViolation(Refusal):
    """The client broke the framing; the connection cannot continue."""

    def __init__(self, message: str, code: str = "bad_event") -> None:
        super().__init__(message, code)


class EventTooLarge(ProtocolViolation):
    def __init__(self, message: str) -> None:
        super().__init__(message, "event_too_large")


def _length(header: dict[str, Any], key: str) -> int:
    value = header.get(key)
    if value is None:
        return 0
    # bool is an int in Python; a length of ``true`` is still a broken header.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolViolation(f"{key} must be a whole number of bytes")
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        # A lone surrogate could not be logged, echoed (ping) or spoken as UTF-8 text.
        value = read_client_json(raw)
    except UnreadableJson as exc:
        raise ProtocolViolation(f"the event {what} {exc.reason}") from None
    if not isinstance(value, dict):
        raise ProtocolViolation(f"the event {what} must be a JSON object")
    return value


class EventReader:
    """Reads one event at a time; ``None`` when the client closed the connection between
    events (or in the middle of one: a client that vanished has nothing more to say)."""

    def __init__(self, reader: asyncio.StreamReader, max_event_bytes: int) -> None:
        self._reader = reader
        self._max = max_event_bytes

    async def read(self) -> Event | None:
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            raise EventTooLarge(
                f"event header longer than the limit of {self._max} bytes"
            ) from None
        header = _json_object(line, "header")
        kind = header.get("type")
        if not isinstance(kind, str) or not 0 < len(kind) <= _MAX_TYPE_CHARS:
            raise ProtocolViolation("the event header needs a short string 'type'")
        data = header.get("data")
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            raise ProtocolViolation("the event 'data' must be a JSON object")
        data_length = _length(header, "data_length")
        payload_length = _length(header, "payload_length")
        if len(line) + data_length + payload_length > self._max:
            raise EventTooLarge(
                f"{kind} event of {len(line) + data_length + payload_length} bytes is larger "
                f"than the limit of {self._max}"
            )
        try:
            if data_length:
                data.update(_json_object(await self._reader.readexactly(data_length), "data"))
            payload = await self._reader.readexactly(payload_length) if payload_length else None
        except asyncio.IncompleteReadError:
            return None
        return Event(type=kind, data=data, payload=payload)


class EventWriter:
    """Writes whole events; tasks of one connection take turns (audio and replies never mix).

    A client that leaves the send buffer full for ``stall_timeout`` seconds (it stopped reading)
    is cut off: waiting on it would hold its connection slot, and the engine producing the
    answer, for good."""

    def __init__(self, writer: asyncio.StreamWriter, stall_timeout: float) -> None:
        self._writer = writer
        self._lock = asyncio.Lock()
        self._stall_timeout = stall_timeout

    async def write(self, event: Event) -> None:
        """Raises ``ConnectionError`` when the client is gone."""
        async with self._lock:
            await self._send(event)

    async def write_all(self, events: list[Event]) -> None:
        async with self._lock:
            for event in events:
                await self._send(event)

    async def _send(self, event: Event) -> None:
        if self._writer.is_closing():
            raise ConnectionResetError("the connection is closed")
        try:
            await asyncio.wait_for(async_write_event(event, self._writer), self._stall_timeout)
        except TimeoutError:
            log.warning("wyoming.client_not_reading", seconds=self._stall_timeout)
            self._writer.transport.abort()  # drops what it could not take
            raise ConnectionResetError("the client stopped reading") from None
