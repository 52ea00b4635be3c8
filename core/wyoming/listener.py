"""The Wyoming TCP listener: admits clients, runs a :class:`Connection` for each, and winds them
down when the daemon stops.

Admission happens before a byte is read: the client's address must be in
``wyoming.allowed_clients`` (others are disconnected without an answer) and fewer than
``wyoming.max_connections`` may be open (one more gets a ``busy`` error event). Settings other
than ``enabled``, ``host``, ``port`` and ``zeroconf`` are read as each connection opens, so they
follow reloads; a reload that changes those four is logged as needing a restart.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from wyoming.error import Error

from core.api.live_sessions import LiveSessions, SessionsFull
from core.config.schema import WyomingConfig
from core.runtime.reload_result import ReloadResult
from core.runtime.runtime import Runtime
from core.wyoming.access import AllowList
from core.wyoming.advertise import Advertisement, default_name
from core.wyoming.connection import Connection
from core.wyoming.context import FRONT_DOOR, Context
from core.wyoming.framing import EventReader, EventWriter

log = structlog.get_logger(__name__)

#: How long a closing connection waits for the client to take its last bytes and stop sending.
_CLOSE_GRACE = 1.0


class WyomingListener:
    def __init__(self, runtime: Runtime, settings: WyomingConfig) -> None:
        self._runtime = runtime
        self._host = settings.host
        self._requested_port = settings.port
        announce = settings.zeroconf
        self._zeroconf_name = (settings.zeroconf_name or default_name()) if announce else None
        self._sessions = LiveSessions()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._advertisement: Advertisement | None = None
        #: The bound port (the requested one, or the one picked for port 0).
        self.port = settings.port

    def _settings(self) -> WyomingConfig:
        return self._runtime.config.config.wyoming

    # -- reloads (a ReloadObserver) ------------------------------------------------------------

    def reload_started(self, trigger: str) -> None:
        pass

    def reload_finished(self, result: ReloadResult) -> None:
        """Say so when a reload changed what only a restart applies."""
        if not result.ok or result.skipped:
            return
        now = self._settings()
        started = {
            "enabled": True,
            "host": self._host,
            "port": self._requested_port,
            "zeroconf": self._zeroconf_name is not None,
        }
        changed = [key for key, value in started.items() if getattr(now, key) != value]
        if changed:
            log.warning("wyoming.restart_needed", changed=changed)

    async def start(self) -> None:
        """Bind and listen; ``OSError`` when the address cannot be bound."""
        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.StreamReaderProtocol:
            # The reader's buffer limit is the event size limit in force when the client came.
            reader = asyncio.StreamReader(limit=self._settings().max_event_bytes, loop=loop)
            return asyncio.StreamReaderProtocol(reader, self._accepted, loop=loop)

        self._server = await loop.create_server(protocol, self._host, self._requested_port)
        self._runtime.add_reload_observer(self)
        self.port = int(self._server.sockets[0].getsockname()[1])
        settings = self._settings()
        log.info(
            "wyoming.listening",
            host=self._host,
            port=self.port,
            allowed_clients=settings.allowed_clients,
            max_connections=settings.max_connections,
        )
        if self._zeroconf_name is not None:
            self._advertisement = Advertisement(self._zeroconf_name, self._host, self.port)
            self._advertisement.start()

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer), name="wyoming-connection")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
        structlog.contextvars.bind_contextvars(front_door=FRONT_DOOR, client=client)
        settings = self._settings()
        try:
            if AllowList(settings.allowed_clients).admits(peer):
                await self._admit(reader, writer, settings)
            else:
                self._refused("not_allowed")
                log.warning(
                    "wyoming.refused",
                    reason="not_allowed",
                    advice="add the client's address or network to wyoming.allowed_clients",
                )
        finally:
            await _close(reader, writer)

    async def _admit(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, settings: WyomingConfig
    ) -> None:
        events = EventWriter(writer, settings.idle_timeout)
        limits = self._runtime.config.config.limits
        try:
            with self._sessions.hold(settings.max_connections) as stopping:
                connection = Connection(
                    Context(self._runtime, settings, limits, events),
                    EventReader(reader, settings.max_event_bytes),
                    stopping,
                )
                gauge = self._runtime.metrics.front_door_connections.labels(FRONT_DOOR)
                gauge.inc()
                try:
                    await connection.run()
                finally:
                    gauge.dec()
        except SessionsFull:
            closing = self._sessions.stopping.is_set()
            reason = "stopping" if closing else "full"
            self._refused(reason)
            log.warning("wyoming.refused", reason=reason, open=self._sessions.count)
            text = (
                "the server is shutting down"
                if closing
                else f"{settings.max_connections} connections are open; try again later"
            )
            with contextlib.suppress(ConnectionError, OSError):
                await events.write(Error(text=text, code="busy").event())

    def _refused(self, reason: str) -> None:
        self._runtime.metrics.front_door_refused.labels(FRONT_DOOR, reason).inc()

    # -- stopping ------------------------------------------------------------------------------

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def stop(self, drain: float) -> None:
        """Stop accepting, let requests under way finish (up to ``drain`` seconds), close the
        rest, and withdraw the announcement. Safe to call more than once."""
        self.stop_accepting()
        if not await self._sessions.wind_down(drain):
            log.warning("wyoming.drain_timeout", open=self._sessions.count)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._advertisement is not None:
            await self._advertisement.close()
            self._advertisement = None


async def _close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close so that the client reads the last event: closing a socket with unread input
    (the rest of an oversized event) resets the connection, and a reset can destroy the error
    event on its way. So: end the sending side, discard what still arrives for a moment, close."""
    try:
        with contextlib.suppress(ConnectionError, OSError, TimeoutError, RuntimeError):
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
                await asyncio.wait_for(_discard(reader), _CLOSE_GRACE)
    finally:
        writer.close()  # also when the daemon's stop cancels the wait
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), _CLOSE_GRACE)


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass
