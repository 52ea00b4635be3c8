"""The daemon's side of a notify service: what systemd hears, and when.

- start: ``STATUS=Starting`` (with ``EXTEND_TIMEOUT_USEC`` repeated while preloads run), then
  ``READY=1`` once the engines are preloaded, the listener accepts and the daemon is ready by
  the same verdict as ``/readyz``. A daemon that is not ready says why in ``STATUS`` and sends
  ``READY=1`` when it becomes ready (a request that loads a failed engine, a fixing reload).
- reload (file change, SIGHUP, control endpoint): ``RELOADING=1`` + ``MONOTONIC_USEC``, then
  ``READY=1`` with the outcome in ``STATUS`` (a failed reload leaves the old configuration
  serving, so the daemon is still running; the failure is in the status line).
- stop: ``STOPPING=1`` on SIGTERM, before requests drain.
- watchdog: ``WATCHDOG=1`` every half ``$WATCHDOG_USEC``, from a task on the event loop, so a
  blocked loop stops the pings and systemd restarts the daemon.

Every method is a cheap no-op when the daemon does not run under systemd.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import structlog

from core.runtime.readiness import assess
from core.runtime.reload_result import ReloadResult
from core.runtime.runtime import Runtime
from core.service import status
from core.service.notify import Notifier, monotonic_usec, status_line, watchdog_interval

log = structlog.get_logger(__name__)

#: While preloads (or a reload's warm-up) run, the start timeout is pushed this far ahead...
EXTEND_BY = 30.0
#: ... every this many seconds ...
EXTEND_EVERY = 10.0
#: ... but no longer than this in all: a preload that has not finished by then is hung.
EXTEND_AT_MOST = 1800.0
#: How often the status line is refreshed between events (engines load, breakers open).
STATUS_EVERY = 5.0


class ServiceLink:
    def __init__(self, notifier: Notifier, watchdog_every: float | None = None) -> None:
        self.notifier = notifier
        self.watchdog_every = watchdog_every if notifier.enabled else None
        self._runtime: Runtime | None = None
        self._listening = False
        self._announced_ready = False
        self._stopping = False
        self._last_status: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._extending: asyncio.Task[None] | None = None

    @classmethod
    def from_environment(cls) -> ServiceLink:
        """Reads (and removes) ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``."""
        notifier = Notifier.from_environment()
        every = watchdog_interval()
        if notifier.enabled:
            log.info("service.notify_enabled", watchdog_every=every)
        return cls(notifier, every)

    @property
    def enabled(self) -> bool:
        return self.notifier.enabled

    # -- start ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def starting(self, runtime: Runtime) -> AsyncIterator[None]:
        """Wraps the runtime's start (config load and preloads)."""
        self._runtime = runtime
        runtime.add_reload_observer(self)
        if not self.enabled:
            yield
            return
        if self.watchdog_every is not None:
            self._spawn(self._ping_watchdog(self.watchdog_every), "service-watchdog")
        self._send(status_line(status.STARTING), f"EXTEND_TIMEOUT_USEC={_usec(EXTEND_BY)}")
        self._extend_while_busy()
        try:
            yield
        except Exception as exc:
            self._send(status_line(status.start_failed(exc)))
            raise
        finally:
            self._stop_extending()

    def listening(self) -> None:
        """The listener accepts connections: announce readiness (if ready)."""
        self._listening = True
        if not self.enabled:
            return
        self._announce(end_reload=False)
        self._spawn(self._refresh_status(), "service-status")

    # -- reload (a ReloadObserver) ---------------------------------------------------------

    def reload_started(self, trigger: str) -> None:
        if not self.enabled or self._stopping:
            return
        self._extend_while_busy()
        if self._announced_ready:  # a reload before READY=1 is part of starting, not a reload
            self._send(
                "RELOADING=1",
                f"MONOTONIC_USEC={monotonic_usec()}",
                status_line(status.reloading(trigger)),
            )

    def reload_finished(self, result: ReloadResult) -> None:
        if not self.enabled or self._stopping:
            return
        self._stop_extending()
        if self._listening:
            self._announce(end_reload=True)

    # -- stop ----------------------------------------------------------------------------

    def stopping(self) -> None:
        """SIGTERM arrived (or serving ended): called before requests drain. May run inside a
        signal handler, so it only sends one datagram."""
        if self._stopping:
            return
        self._stopping = True
        if self.enabled:
            self._send("STOPPING=1", status_line(status.stopping(self._runtime)))

    async def close(self) -> None:
        """The process is about to exit: stop the background tasks."""
        self._stop_extending()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.notifier.close()

    # -- internals -------------------------------------------------------------------------

    def _announce(self, *, end_reload: bool) -> None:
        """Send the status line, with ``READY=1`` when the daemon is ready for the first time
        or when a reload ends (a reload always ends in READY=1 once the daemon has been up)."""
        if self._runtime is None:
            return
        verdict = assess(self._runtime)
        text = status.running(self._runtime, verdict)
        first_ready = verdict.ready and not self._announced_ready
        if first_ready or (end_reload and self._announced_ready):
            self._announced_ready = True
            self._send("READY=1", status_line(text))
        elif text != self._last_status:
            self._send(status_line(text))
        self._last_status = text

    def _send(self, *assignments: str) -> None:
        self.notifier.send(*assignments)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _ping_watchdog(self, every: float) -> None:
        # On the event loop on purpose: if the loop stalls, the pings stop and systemd acts.
        while True:
            self._send("WATCHDOG=1")
            await asyncio.sleep(every)

    async def _refresh_status(self) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY)
            if not self._stopping:
                self._announce(end_reload=False)

    def _extend_while_busy(self) -> None:
        if self._extending is None or self._extending.done():
            self._extending = self._spawn(self._extend_timeout(), "service-extend-timeout")

    def _stop_extending(self) -> None:
        if self._extending is not None:
            self._extending.cancel()
            self._extending = None

    async def _extend_timeout(self) -> None:
        waited = 0.0
        while waited < EXTEND_AT_MOST:
            await asyncio.sleep(EXTEND_EVERY)
            waited += EXTEND_EVERY
            self._send(f"EXTEND_TIMEOUT_USEC={_usec(EXTEND_BY)}")


def _usec(seconds: float) -> int:
    return int(seconds * 1_000_000)
