"""One engine instance and its lifecycle: lazy load, concurrency limit, idle unload, drain.

A request holds one of the engine's permits from admission until the engine is really free:
when a request gives up on a native call that is still running (timeout, client gone), the
permit stays taken until that thread finishes, so a model that is not re-entrant is never used
twice at once and the request itself can fall back at its deadline.
"""

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
from core.engines.errors import EngineNotLoaded, EngineOverloaded, EngineUnavailable
from core.engines.threaded import lingering_work
from core.observability.metrics import Metrics
from core.routing.breaker import CircuitBreaker
from core.runtime.limiter import Limiter
from core.state.engine_link import EngineLink

log = structlog.get_logger(__name__)


class EngineState(StrEnum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    READY = "ready"
    #: Closing after its keep_alive; a request arriving now waits and loads it again.
    UNLOADING = "unloading"
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
        link: EngineLink | None = None,
    ) -> None:
        self.resolved = resolved
        self.engine: Engine = resolved.entry.cls(resolved.settings, context)
        self.breaker = CircuitBreaker(breaker_policy)
        #: What this engine shares with a fleet (its breaker's changes, its rate limit).
        self.link = link
        if link is not None:
            self.breaker.on_change = link.breaker_changed
        self.metrics = metrics
        self.state = EngineState.UNLOADED
        self.last_error: str | None = None
        self.load_seconds: float | None = None
        self.served = 0
        self.active = 0
        self.waiting = 0
        #: How many live configuration generations reference this slot.
        self.generations = 0
        self._policy = resolved.policy
        self._keep_alive = resolved.spec.keep_alive
        self._limiter = Limiter(self.max_concurrency)
        self._load_task: asyncio.Task[None] | None = None
        self._unload_task: asyncio.Task[None] | None = None
        #: After a failed load, requests skip the engine until then (monotonic clock).
        self._load_retry_at = 0.0
        self._load_failures = 0
        self._breaker_policy = breaker_policy
        #: Requests that gave up while their engine thread was still running.
        self.lingering = 0
        #: When work was last left behind (monotonic clock), and whether some of what is left
        #: behind timed out (hung, not about to stop): see ``EnginePolicy.abandoned_grace``.
        self._abandoned_at = 0.0
        self._hung = False
        self._idle_handle: asyncio.TimerHandle | None = None
        self._idle = asyncio.Event()
        self._idle.set()

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
        self.resolved = resolved
        self._policy = resolved.policy
        self._keep_alive = resolved.spec.keep_alive
        self._breaker_policy = breaker_policy
        self.breaker.reconfigure(breaker_policy)
        if self.link is not None:
            self.link.reconfigure(resolved)
        # Takes effect at once, for running and waiting requests alike.
        self._limiter.set_limit(self.max_concurrency)

    @property
    def policy(self) -> EnginePolicy:
        return self._policy

    # -- loading ---------------------------------------------------------------------------

    async def ensure_loaded(self) -> None:
        """Load the engine once; concurrent callers share one load.

        A failed load is not retried on every request: until its backoff ends requests are
        told at once (:class:`EngineNotLoaded`) and the chain moves on.
        """
        if self.state is EngineState.READY:
            return
        if self.state is EngineState.CLOSED:
            raise EngineUnavailable(f"engine {self.name!r} has been closed")
        if self._unload_task is not None and not self._unload_task.done():
            await asyncio.shield(self._unload_task)
        self.check_loadable()
        if self._load_task is None or self._load_task.done():
            self._load_task = asyncio.create_task(self._load(), name=f"load:{self.name}")
        # Shielded: a request that times out waiting must not abort a load others will use.
        await asyncio.shield(self._load_task)
        if not self.ready:
            raise self._not_loaded()

    def check_loadable(self) -> None:
        """Raise :class:`EngineNotLoaded` while a failed load waits for its retry."""
        if self.state is EngineState.FAILED and time.monotonic() < self._load_retry_at:
            raise self._not_loaded()

    def _not_loaded(self) -> EngineNotLoaded:
        wait = max(self._load_retry_at - time.monotonic(), 0.0)
        return EngineNotLoaded(
            f"engine {self.name!r} failed to load: {self.last_error} (next try in {wait:.0f}s)",
            retry_after=wait,
        )

    async def _load(self) -> None:
        self.state = EngineState.LOADING
        started = time.perf_counter()
        log.info("engine.loading", engine=self.name, kind=self.resolved.spec.engine)
        try:
            await self.engine.load()
        except Exception as exc:  # any load failure makes the engine unavailable, not the daemon
            self.state = EngineState.FAILED
            self.last_error = _describe(exc)
            self._load_failures += 1
            policy = self._breaker_policy
            backoff = min(policy.cooldown * 2 ** (self._load_failures - 1), policy.max_cooldown)
            self._load_retry_at = time.monotonic() + backoff
            self.metrics.engine_loads.labels(self.name, "failed").inc()
            log.warning("engine.load_failed", engine=self.name, error=self.last_error)
            return
        self.load_seconds = time.perf_counter() - started
        self.last_error = None
        self._load_failures = 0
        self.state = EngineState.READY
        self.metrics.engine_loads.labels(self.name, "ok").inc()
        self.metrics.engine_load_seconds.labels(self.name).observe(self.load_seconds)
        self.metrics.engines_loaded.inc()
        log.info("engine.loaded", engine=self.name, seconds=round(self.load_seconds, 3))
        self._schedule_idle_unload()

    # -- serving ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def admit(self, queue_timeout: float | None = None) -> AsyncIterator[Engine]:
        """Hold one of the engine's permits (not loading it: see :meth:`ensure_loaded`).

        Refused at once when the queue is full, and after ``queue_timeout`` seconds of waiting:
        both are :class:`EngineOverloaded` (busy, not broken), never a timeout of the engine.
        Over the engine's rate limit it is refused at once too (``rate_limited``, also busy).
        """
        if self.state is EngineState.CLOSED:
            raise EngineUnavailable(f"engine {self.name!r} has been closed")
        self.check_loadable()
        if self.link is not None:
            await self.link.check_rate()
        abandoned = self.lingering >= self._limiter.limit
        if abandoned:
            # Every permit is held by work whose requests gave up. Work that was cancelled a
            # moment ago stops at its next step (a token, a segment), so wait briefly for it;
            # work that hung, or has not stopped within the grace, would only hang this request
            # too.
            grace = self._abandoned_grace_left()
            if grace <= 0:
                raise EngineOverloaded(self._abandoned_message())
            queue_timeout = grace if queue_timeout is None else min(grace, queue_timeout)
        if self._limiter.locked() and self.waiting >= self._policy.max_queue:
            raise EngineOverloaded(
                f"engine {self.name!r} is busy ({self.active} running, {self.waiting} queued)"
            )
        self.waiting += 1
        try:
            if queue_timeout is None:
                await self._limiter.acquire()
            else:
                try:
                    async with asyncio.timeout(queue_timeout):
                        await self._limiter.acquire()
                except TimeoutError:
                    message = (
                        self._abandoned_message()
                        if abandoned
                        else f"engine {self.name!r} is busy: no free slot within {queue_timeout:g}s"
                    )
                    raise EngineOverloaded(message, retry_after=1.0) from None
        finally:
            self.waiting -= 1
        # The fleet-wide place is taken once this daemon has a permit, so a request queued here
        # holds no place another daemon could use meanwhile.
        place = None
        if self.link is not None:
            try:
                place = await self.link.take_place()
            except BaseException:
                self._limiter.release()
                raise
        self.active += 1
        self._idle.clear()
        self._cancel_idle_unload()
        lingering: list[asyncio.Future[None]] = []
        try:
            with lingering_work() as lingering:
                yield self.engine
            self.served += 1
        finally:
            pending = [f for f in lingering if not f.done()]
            if pending:
                self._free_after(pending, place)
            else:
                self._free(place)

    @property
    def hung(self) -> bool:
        """Whether work left behind by a request that timed out is still running."""
        return self._hung

    def _abandoned_grace_left(self) -> float:
        if self._hung:
            return 0.0
        return self._policy.abandoned_grace - (time.monotonic() - self._abandoned_at)

    def _abandoned_message(self) -> str:
        return f"engine {self.name!r} is still busy with work its requests abandoned"

    def note_timeout(self) -> None:
        """A request on this engine timed out: what it left running is hung, not stopping, and
        requests stop waiting for it (until all the work left behind is done)."""
        if self.lingering:
            self._hung = True

    @contextlib.asynccontextmanager
    async def use(self, queue_timeout: float | None = None) -> AsyncIterator[Engine]:
        """Hold a permit with the engine loaded; refuse when the queue is full."""
        async with self.admit(queue_timeout) as engine:
            await self.ensure_loaded()
            yield engine

    def _free(self, place: tuple[str, str] | None = None) -> None:
        self.active -= 1
        self._limiter.release()
        if self.link is not None:
            self.link.give_back(place)
        if self.active == 0:
            self._idle.set()
            self._schedule_idle_unload()

    def _free_after(
        self, pending: list[asyncio.Future[None]], place: tuple[str, str] | None
    ) -> None:
        """Keep the permit until the engine threads the request left behind are done."""
        self.lingering += 1
        self._abandoned_at = time.monotonic()
        log.warning("engine.busy_after_request", engine=self.name, threads=len(pending))

        async def wait() -> None:
            try:
                await asyncio.gather(*pending, return_exceptions=True)
            finally:
                self.lingering -= 1
                if not self.lingering:
                    self._hung = False
                self._free(place)
                log.info("engine.freed", engine=self.name)

        task = asyncio.get_running_loop().create_task(wait(), name=f"linger:{self.name}")
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

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
        # Marked at once, so a request arriving during close waits for it and loads again
        # instead of being handed an engine that is being torn down.
        self.state = EngineState.UNLOADING
        self._unload_task = asyncio.current_task()
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
        was_ready = self.state in (EngineState.READY, EngineState.UNLOADING)
        try:
            if self.state in (EngineState.READY, EngineState.UNLOADING, EngineState.FAILED):
                await self.engine.close()
        except Exception as exc:
            log.warning("engine.close_failed", engine=self.name, error=_describe(exc))
        finally:
            if was_ready:
                self.metrics.engines_loaded.dec()
            self.state = final
            log.info("engine.closed", engine=self.name, state=final.value)

    async def probe(self, timeout: float) -> dict[str, Any]:
        """The engine's own health probe, bounded by ``timeout``; a probe that fails or hangs
        is an unhealthy answer, not an error."""
        try:
            health = await asyncio.wait_for(self.engine.health(), timeout)
        except TimeoutError:
            return {"ok": False, "detail": f"no answer within {timeout:g} s"}
        except Exception as exc:
            return {"ok": False, "detail": _describe(exc)}
        return {"ok": health.ok, "detail": health.detail}

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
            # After a failed load: seconds until a request may try loading it again.
            "load_retry_in": round(max(self._load_retry_at - time.monotonic(), 0.0), 3)
            if self.state is EngineState.FAILED
            else 0.0,
            "load_seconds": self.load_seconds,
            "active": self.active,
            "waiting": self.waiting,
            "lingering": self.lingering,
            "served": self.served,
            "max_concurrency": self.max_concurrency,
            "info": self.engine.info(),
        }


#: Tasks that free permits after lingering engine threads (kept referenced until done).
_BACKGROUND: set[asyncio.Task[None]] = set()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text
