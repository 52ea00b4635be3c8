"""The connection to Valkey: whether it answers, bounded calls, the event subscription, and
reconnecting in the background.

Every call goes through :meth:`ValkeyLink.bounded` (``state.timeout``). A call that fails is
reported with :meth:`ValkeyLink.trouble`, which has the supervisor check the connection at once;
two missed pings in a row mark it down. While down, callers use local state; the supervisor
retries with a growing pause, and once the store answers it subscribes again and lets the
backend resync (``on_connected``) before marking it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import structlog
from valkey.asyncio import Valkey
from valkey.asyncio.client import PubSub

from core.cancellation import cancel_and_wait
from core.config.schema import StateConfig
from core.observability.metrics import Metrics

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: First pause before another connection attempt; it doubles up to ``check_interval``.
_FIRST_BACKOFF = 0.1
#: Least time between two connection checks while the store answers.
_CHECK_SPACING = 0.25


class ValkeyLink:
    def __init__(
        self, config: StateConfig, metrics: Metrics, password: str | None, channel: str
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._channel = channel
        self.client = Valkey.from_url(
            config.url,
            password=password,
            socket_timeout=config.timeout,
            socket_connect_timeout=config.timeout,
        )
        self.up = False
        self._ever_up = False
        self._changed_at = time.monotonic()
        self.last_error: str | None = None
        self._errors = 0
        self._wake = asyncio.Event()
        self._first_try = asyncio.Event()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._on_connected: Callable[[], Awaitable[None]] | None = None
        self._on_event: Callable[[bytes], None] | None = None

    async def start(
        self, on_connected: Callable[[], Awaitable[None]], on_event: Callable[[bytes], None]
    ) -> None:
        """Connect in the background; wait briefly, so that a reachable store is in use from
        the first request while an unreachable one does not hold up the start."""
        self._on_connected, self._on_event = on_connected, on_event
        self._metrics.state_up.set(0)
        self._supervisor = asyncio.create_task(self._supervise(), name="state-supervisor")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._slow_step):
                await self._first_try.wait()

    async def close(self) -> None:
        await cancel_and_wait(self._supervisor)
        await self._drop_subscription()
        with contextlib.suppress(Exception):
            await self.client.aclose()

    def status(self) -> dict[str, Any]:
        state = "connected" if self.up else "degraded" if self._ever_up else "connecting"
        return {
            "state": state,
            "url": without_credentials(self._config.url),
            "since_seconds": round(time.monotonic() - self._changed_at, 1),
            "errors": self._errors,
            "last_error": self.last_error,
        }

    async def bounded(self, step: Awaitable[T] | Coroutine[Any, Any, T]) -> T:
        async with asyncio.timeout(self._config.timeout):
            return await step

    def trouble(self, operation: str, exc: BaseException) -> None:
        """A call failed: count it, and have the supervisor look at the connection now."""
        self._errors += 1
        self.last_error = f"{operation}: {_describe(exc)}"
        self._metrics.state_errors.labels(operation).inc()
        self._wake.set()
        log.debug("state.call_failed", operation=operation, error=self.last_error)

    @property
    def _slow_step(self) -> float:
        """The bound for steps of several calls (connecting, resyncing)."""
        return max(1.0, self._config.timeout * 20)

    async def _supervise(self) -> None:
        backoff = _FIRST_BACKOFF
        while True:
            if not self.up:
                try:
                    await self._connect()
                except Exception as exc:
                    self.trouble("connect", exc)
                    self._first_try.set()
                    # Not woken by failing calls: while the store is away they all fail.
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._config.check_interval)
                    continue
                backoff = _FIRST_BACKOFF
                self._first_try.set()
            await self._pause(self._config.check_interval)
            problem = await self._check()
            if problem is not None:
                await self._go_down(problem)
            else:
                # Calls failing while pings answer (a full store, say) wake this at most so often.
                await asyncio.sleep(min(self._config.check_interval, _CHECK_SPACING))

    async def _connect(self) -> None:
        assert self._on_connected is not None
        await self.bounded(self.client.ping())
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await self.bounded(pubsub.subscribe(self._channel))
            async with asyncio.timeout(self._slow_step):
                await self._on_connected()
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        self._pubsub = pubsub
        self._reader = asyncio.create_task(self._read_events(pubsub), name="state-events")
        self._reader.add_done_callback(lambda _: self._wake.set())
        self._set_up(True)
        log.info("state.connected", url=without_credentials(self._config.url))

    async def _check(self) -> str | None:
        """Why the connection is no longer usable, or None when it is. One late answer on a
        busy machine is no outage: the store must miss two pings in a row."""
        if self._reader is None or self._reader.done():
            return "lost the event subscription"
        for _ in range(2):
            try:
                await self.bounded(self.client.ping())
                return None
            except Exception as exc:
                self.trouble("ping", exc)
        return self.last_error

    async def _go_down(self, reason: str | None) -> None:
        self._set_up(False)
        log.warning("state.degraded", reason=reason, detail="serving on local state")
        await self._drop_subscription()
        with contextlib.suppress(Exception):
            await self.client.connection_pool.disconnect()

    async def _drop_subscription(self) -> None:
        reader, self._reader = self._reader, None
        await cancel_and_wait(reader)
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._config.timeout * 4):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read_events(self, pubsub: PubSub) -> None:
        assert self._on_event is not None
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and message.get("type") == "message":
                self._on_event(message["data"])

    def _set_up(self, up: bool) -> None:
        if up != self.up:
            self._changed_at = time.monotonic()
        self.up = up
        self._ever_up = self._ever_up or up
        self._metrics.state_up.set(1 if up else 0)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
