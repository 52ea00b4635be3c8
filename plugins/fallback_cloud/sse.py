"""Reading server-sent events (``data:`` lines) from a streamed HTTP response."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from core.engines.errors import EngineUpstreamError

DONE = "[DONE]"


async def sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """Yield each event's data; multi-line data is joined with newlines, as the spec says."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith(":"):
            continue  # a comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:
        yield "\n".join(lines)


class JsonEvents:
    """The JSON events of one response, up to ``[DONE]``; ``done`` says whether it came.

    The body is read to its end even after ``[DONE]``, so the connection goes back to the pool
    instead of being closed half-read.
    """

    def __init__(self, response: httpx.Response, engine: str) -> None:
        self.response = response
        self.engine = engine
        self.done = False

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async for data in sse_data(self.response):
            if self.done:
                continue
            if data.strip() == DONE:
                self.done = True
                continue
            try:
                event = json.loads(data)
            except ValueError:
                raise EngineUpstreamError(
                    f"{self.engine!r}: the server sent a malformed event"
                ) from None
            if not isinstance(event, dict):
                raise EngineUpstreamError(f"{self.engine!r}: the server sent an unexpected event")
            yield event
