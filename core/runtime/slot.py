"""One engine instance and its lifecycle: lazy load, concurrency limit, idle unload, drain."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

import structlog

from core.config.resolve import ResolvedEngine
from core.config.schema import BreakerPolicy, EnginePolicy
from core.engines.base import Engine, EngineContext
from core.engines.errors import EngineOverloaded, EngineUnavailable
from core.observability.metrics import Metrics
from core.routing.breaker import CircuitBreaker

log = structlog.get_logger(__name__)


class EngineState(StrEnum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"


class EngineSlot:
    """Owns one engine instance. Shared by every configuration generation that lists it."""

    def __init__(
        self,
        resolved: ResolvedEngine,
        context: EngineContext,
        breaker_policy: BreakerPolicy,
        metrics: Metrics,
    ) -> None:
        self.resolved = resolved
        self.engine: Engine = resolved.entry.cls(resolved.settings, context)
        self.breaker = CircuitBreaker(breaker_policy)
        self.metrics = metrics
        self.state = EngineState.UNLOADED
        self.last_error: str | None = None
        self.loaded_at: float | None = None
        self.load_seconds: float | None = None
        self.served = 0
        self.active = 0
        self.waiting = 0
        #: How many live configuration generations reference this slot.
        self.generations = 0
        self._policy = resolved.policy
        self._keep_alive = resolved.spec.keep_alive
        self._slots = asyncio.Semaphore(self.max_concurrency)
        self._load_task: asyncio.Task[None] | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_used = time.monotonic()

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def ready(self) -> bool:
        return self.state is EngineState.READY

    @property
    def max_concurrency(self) -> int:
        return self._policy.max_concurrency or self.engine.default_max_concurrency

    def reconfigure(self, resolved: ResolvedEngine, breaker_policy: BreakerPolicy) -> None:
        """Take new slot-level settings from a reload without reloading the engine."""
        old_limit = self.max_concurrency
        self.resolved = resolved
        self._policy = resolved.policy
        self._keep_alive = resolved.spec.keep_alive
        self.breaker.reconfigure(breaker_policy)
        if self.max_concurrency != old_limit and self.active == 0 and self.waiting == 0:
            self._slots = asyncio.Semaphore(self.max_concurrency)

    @property
    def policy(self) -> EnginePolicy:
        return self._policy

    # -- loading ---------------------------------------------------------------------------

    async def ensure_loaded(self) -> None:
        """Load the engine once; concurrent callers share one load."""
        if self.state is EngineState.READY:
            return
        if self.state is EngineState.CLOSED:
            raise EngineUnavailable(f"engine {self.name!r} has been closed")
        if self._load_task is None or self._load_task.done():
            self._load_task = asyncio.create_task(self._load(), name=f"load:{self.name}")
        # Shielded: a request that times out waiting must not abort a load others will use.
        await asyncio.shield(self._load_task)
        if not self.ready:
            raise EngineUnavailable(f"engine {self.name!r} failed to load: {self.last_error}")

    async def _load(self) -> None:
        self.state = EngineState.LOADING
        started = time.perf_counter()
        log.info("engine.loading", engine=self.name, kind=self.resolved.spec.engine)
        try:
            await self.engine.load()
        except Exception as exc:  # any load failure makes the engine unavailable, not the daemon
            self.state = EngineState.FAILED
            self.last_error = _describe(exc)
            self.metrics.engine_loads.labels(self.name, "failed").inc()
            log.warning("engine.load_failed", engine=self.name, error=self.last_error)
            return
        self.load_seconds = time.perf_counter() - started
        self.loaded_at = time.time()
        self.last_error = None
        self.state = EngineState.READY
        self.metrics.engine_loads.labels(self.name, "ok").inc()
        self.metrics.engine_load_seconds.labels(self.name).observe(self.load_seconds)
        self.metrics.engines_loaded.inc()
        log.info("engine.loaded", engine=self.name, seconds=round(self.load_seconds, 3))
        self._schedule_idle_unload()

    # -- serving ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[Engine]:
        """Hold a concurrency slot with the engine loaded; refuse when the queue is full."""
        if self.state is EngineState.CLOSED:
            raise EngineUnavailable(f"engine {self.name!r} has been closed")
        if self._slots.locked() and self.waiting >= self._policy.max_queue:
            raise EngineOverloaded(
                f"engine {self.name!r} is busy ({self.active} running, {self.waiting} queued)"
            )
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        self._idle.clear()
        self._cancel_idle_unload()
        try:
            await self.ensure_loaded()
            yield self.engine
            self.served += 1
        finally:
            self.active -= 1
            self._slots.release()
            self._last_used = time.monotonic()
            if self.active == 0:
                self._idle.set()
                self._schedule_idle_unload()

    def _schedule_idle_unload(self) -> None:
        if self._keep_alive is None or self.state is not EngineState.READY or self.active:
            return
        self._cancel_idle_unload()
        loop = asyncio.get_running_loop()
        self._idle_handle = loop.call_later(
            self._keep_alive, lambda: asyncio.ensure_future(self._unload_if_idle())
        )

    def _cancel_idle_unload(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    async def _unload_if_idle(self) -> None:
        if self.active or self.waiting or self.state is not EngineState.READY:
            return
        log.info("engine.idle_unload", engine=self.name, keep_alive=self._keep_alive)
        await self._close_engine(EngineState.UNLOADED)

    async def unload(self) -> None:
        """Close the engine now (it loads again on next use). Waits for running requests."""
        self._cancel_idle_unload()
        await self._idle.wait()
        if self.state is EngineState.READY:
            await self._close_engine(EngineState.UNLOADED)

    async def close(self, drain_timeout: float | None = None) -> None:
        """Drain running requests (up to ``drain_timeout``), then close the engine for good."""
        self._cancel_idle_unload()
        if self.active:
            log.info("engine.draining", engine=self.name, active=self.active)
            try:
                await asyncio.wait_for(self._idle.wait(), drain_timeout)
            except TimeoutError:
                log.warning("engine.drain_timeout", engine=self.name, active=self.active)
        if self._load_task is not None and not self._load_task.done():
            with contextlib.suppress(Exception):
                await self._load_task
        await self._close_engine(EngineState.CLOSED)

    async def _close_engine(self, final: EngineState) -> None:
        was_ready = self.state is EngineState.READY
        try:
            if self.state in (EngineState.READY, EngineState.FAILED):
                await self.engine.close()
        except Exception as exc:
            log.warning("engine.close_failed", engine=self.name, error=_describe(exc))
        finally:
            if was_ready:
                self.metrics.engines_loaded.dec()
            self.state = final
            self.loaded_at = None
            log.info("engine.closed", engine=self.name, state=final.value)

    def status(self) -> dict[str, Any]:
        breaker = self.breaker
        state = self.state.value
        if breaker.state.value != "closed":
            state = f"breaker_{breaker.state.value}"
        return {
            "name": self.name,
            "capability": self.resolved.capability.value,
            "engine": self.resolved.spec.engine,
            "plugin": self.resolved.entry.plugin,
            "location": self.resolved.location,
            "state": state,
            "lifecycle": self.state.value,
            "breaker": {
                "state": breaker.state.value,
                "consecutive_failures": breaker.consecutive_failures,
                "trips": breaker.trips,
                "retry_in": round(breaker.retry_in, 3),
            },
            "last_error": self.last_error,
            "load_seconds": self.load_seconds,
            "active": self.active,
            "waiting": self.waiting,
            "served": self.served,
            "max_concurrency": self.max_concurrency,
            "info": self.engine.info(),
        }


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text
