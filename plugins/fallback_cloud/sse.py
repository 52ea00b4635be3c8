"""Reading server-sent events (``data:`` lines) from a streamed HTTP response.

Events are cut from the raw bytes as they arrive. The events that came in one read are handed
over together (:meth:`JsonEvents.batches`): a server that sends several at once (a fast model,
a cached reply) then costs one step of the pipeline above instead of one per event, and an event
that arrives alone still goes on at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from core import jsonx
from core.engines.errors import EngineUpstreamError

DONE = b"[DONE]"


class ByteSource(Protocol):
    """A response body read as it arrives."""

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...


class SseParser:
    """Incremental parser: :meth:`feed` bytes, get the data of each event completed by them.

    Lines end with LF or CRLF; an empty line ends an event; comments (``:``) and fields other
    than ``data`` are skipped; multi-line data is joined with newlines, as the spec says.
    """

    __slots__ = ("_data", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        self._pending += chunk
        if b"\n" not in chunk:
            return []
        *lines, self._pending = self._pending.split(b"\n")
        return self._lines(lines)

    def close(self) -> list[bytes]:
        """The last event, when the body ended without the blank line after it."""
        pending, self._pending = self._pending, b""
        events = self._lines([pending]) if pending else []
        if self._data:
            events.append(b"\n".join(self._data))
            self._data = []
        return events

    def _lines(self, lines: list[bytes]) -> list[bytes]:
        events = []
        data = self._data
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    events.append(b"\n".join(data))
                    data.clear()
                continue
            if line.startswith(b":"):
                continue  # a comment / keep-alive
            field, _, value = line.partition(b":")
            if field == b"data":
                data.append(value[1:] if value.startswith(b" ") else value)
        return events


async def sse_data(response: ByteSource) -> AsyncIterator[str]:
    """Yield each event's data as text."""
    parser = SseParser()
    async for chunk in response.aiter_bytes():
        for data in parser.feed(chunk):
            yield data.decode("utf-8", "replace")
    for data in parser.close():
        yield data.decode("utf-8", "replace")


class JsonEvents:
    """The JSON events of one response, up to ``[DONE]``; ``done`` says whether it came.

    The body is read to its end even after ``[DONE]``, so the connection goes back to the pool
    instead of being closed half-read.
    """

    def __init__(self, response: ByteSource, engine: str) -> None:
        self.response = response
        self.engine = engine
        self.done = False

    async def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The events, a list at a time: those that arrived in one read of the body."""
        parser = SseParser()
        async for chunk in self.response.aiter_bytes():
            batch = self._decode(parser.feed(chunk))
            if batch:
                yield batch
        batch = self._decode(parser.close())
        if batch:
            yield batch

    async def singles(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The events one at a time, each in a list of its own (the shape of :meth:`batches`)."""
        async for batch in self.batches():
            for event in batch:
                yield [event]

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async for batch in self.batches():
            for event in batch:
                yield event

    def _decode(self, events: list[bytes]) -> list[dict[str, Any]]:
        decoded = []
        for data in events:
            if self.done:
                continue
            if data.strip() == DONE:
                self.done = True
                continue
            try:
                event = jsonx.loads(data)
            except ValueError:
                raise EngineUpstreamError(
                    f"{self.engine!r}: the server sent a malformed event"
                ) from None
            if not isinstance(event, dict):
                raise EngineUpstreamError(f"{self.engine!r}: the server sent an unexpected event")
            decoded.append(event)
        return decoded
