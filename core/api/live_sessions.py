"""The long-lived sessions a daemon holds (live transcription, realtime conversations).

They are counted against a cap, and told when the daemon is stopping: before the server closes
their sockets, each session gets to finish what it heard (transcribe the last utterance, end the
reply) and says goodbye itself. Only sessions that take longer than the drain time are cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import structlog

log = structlog.get_logger(__name__)


class SessionsFull(Exception):
    """The cap on open sessions is reached."""


class LiveSessions:
    def __init__(self) -> None:
        self._open = 0
        #: Open sessions per kind (each kind has its own cap).
        self._kinds: dict[str, int] = {}
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return self._open

    @property
    def stopping(self) -> asyncio.Event:
        """Set when the daemon begins to stop: sessions wind down and close themselves."""
        return self._stopping

    @contextlib.contextmanager
    def hold(self, limit: int, kind: str = "live") -> Iterator[asyncio.Event]:
        """Count one session of ``kind`` for its life; :class:`SessionsFull` past ``limit``
        sessions of that kind."""
        if self._stopping.is_set():
            raise SessionsFull("the server is shutting down")
        if self._kinds.get(kind, 0) >= limit:
            noun = "live" if kind == "live" else kind
            raise SessionsFull(f"{limit} {noun} sessions are open; try again later")
        self._open += 1
        self._kinds[kind] = self._kinds.get(kind, 0) + 1
        self._idle.clear()
        try:
            yield self._stopping
        finally:
            self._open -= 1
            self._kinds[kind] -= 1
            if self._open == 0:
                self._idle.set()

    async def wind_down(self, timeout: float) -> bool:
        """Ask every session to finish and wait up to ``timeout``; True when all did."""
        self._stopping.set()
        if self._open == 0:
            return True
        log.info("sessions.winding_down", open=self._open)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("sessions.wind_down_timeout", open=self._open)
            return False
        return True
