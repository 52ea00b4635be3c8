"""Routing one request along its engine chain.

For each engine in order: skip it cheaply if its breaker is open; otherwise run the call with
the capability's timeout and retries. A retryable failure moves on to the next engine; a client
error (``InvalidRequest``) goes straight back to the caller. Streams fall back only until their
first chunk: once a chunk has left, a failure ends the stream with :class:`StreamInterrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog

from core.config.resolve import ResolvedConfig
from core.config.schema import RoutePolicy
from core.engines.base import Capability, Engine
from core.engines.errors import EngineError, EngineTimeout, InvalidRequest, classify
from core.observability.metrics import Metrics
from core.routing.breaker import BreakerState
from core.routing.errors import (
    AllEnginesFailed,
    Attempt,
    NoEngineAvailable,
    StreamInterrupted,
    UnknownModel,
)
from core.runtime.slot import EngineSlot

log = structlog.get_logger(__name__)

T = TypeVar("T")
E = TypeVar("E", bound=Engine)


@dataclass(frozen=True)
class Chain:
    capability: Capability
    slots: tuple[EngineSlot, ...]
    #: True when the request named one engine: no fallback beyond it.
    pinned: bool = False


@dataclass
class Routed(Generic[T]):
    value: T
    engine: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def fell_back(self) -> bool:
        return bool(self.attempts)


@dataclass(eq=False, repr=False)
class RoutedStream(Generic[T]):
    """An engine's stream whose first item has already arrived (so headers can name the engine).

    Iterate it once. Leaving early (client gone) closes the engine's stream and frees its slot.
    The breaker hears the verdict when the stream ends: a success only once it ran to its end,
    so an engine that always fails mid-stream still trips its breaker.
    """

    engine: str
    attempts: list[Attempt]
    _first: list[T]
    _rest: AsyncIterator[T]
    _slot: EngineSlot
    _stack: contextlib.AsyncExitStack
    _policy: RoutePolicy
    _on_done: Callable[[], None]

    def __post_init__(self) -> None:
        self._started = time.monotonic()
        #: Whether the breaker has been told how this stream went.
        self._settled = False

    @property
    def fell_back(self) -> bool:
        return bool(self.attempts)

    @property
    def first(self) -> T | None:
        """The first item, already received (``None`` for an empty stream)."""
        return self._first[0] if self._first else None

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            for item in self._first:
                yield item
            while True:
                try:
                    item = await self._next()
                except StopAsyncIteration:
                    break
                yield item
            self._settle_success()
        finally:
            await self.aclose()

    def _settle_success(self) -> None:
        self._settled = True
        breaker = self._slot.breaker
        was_open = breaker.state is not BreakerState.CLOSED
        breaker.record_success()
        if was_open:
            log.info("breaker.closed", engine=self.engine)

    def _settle_failure(self, retry_after: float | None = None) -> bool:
        self._settled = True
        return self._slot.breaker.record_failure(retry_after)

    async def _next(self) -> T:
        total = self._policy.total_timeout
        if total is None:
            return await self._guard(anext(self._rest))
        remaining = total - (time.monotonic() - self._started)
        try:
            return await asyncio.wait_for(self._guard(anext(self._rest)), max(remaining, 0.001))
        except TimeoutError:
            self._settle_failure()
            raise StreamInterrupted(self.engine, f"exceeded total timeout of {total}s") from None

    async def _guard(self, step: Awaitable[T]) -> T:
        try:
            return await step
        except (StopAsyncIteration, asyncio.CancelledError, StreamInterrupted):
            raise
        except Exception as raised:
            exc = classify(raised)
            if isinstance(exc, InvalidRequest):
                if exc is raised:
                    raise
                raise exc from raised
            tripped = self._settle_failure(getattr(exc, "retry_after", None))
            log.warning("route.stream_failed", engine=self.engine, error=repr(exc), tripped=tripped)
            raise StreamInterrupted(self.engine, str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        stack, self._stack = self._stack, None  # type: ignore[assignment]
        if stack is None:
            return
        if not self._settled:
            # Left early (client gone, client error): no verdict, but a probe must not stay
            # claimed forever.
            self._slot.breaker.release()
        try:
            aclose = getattr(self._rest, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        finally:
            await stack.aclose()
            self._on_done()


class Router:
    """Routes requests for one configuration generation."""

    def __init__(
        self, config: ResolvedConfig, slots: Mapping[str, EngineSlot], metrics: Metrics
    ) -> None:
        self.config = config
        self.slots = slots
        self.metrics = metrics
        self._chains: dict[Capability, Chain] = {
            cap: Chain(cap, tuple(slots[n] for n in names)) for cap, names in config.chains.items()
        }

    def chain(self, capability: Capability, model: str | None = None) -> Chain:
        """The chain for a request: the route, or a single engine when ``model`` names one.

        ``model`` may be a route name, an engine name or an alias of either (patterns included).
        A name the config does not know is :class:`UnknownModel` listing the names it does; a
        catch-all alias (``"*": llm``) is how a config chooses to serve any name.
        """
        target = model
        if model is not None:
            target = self.config.model_target(model, capability)
            if target is None:
                known = self.config.model_names(capability)
                raise UnknownModel(
                    f"model {model!r} not found; {capability.value} models here: "
                    f"{', '.join(known) or 'none'} (an alias such as '*': {capability.value} "
                    "in the config serves any name)"
                )
        if target is not None and target in self.config.engines:
            resolved = self.config.engines[target]
            if resolved.capability != capability:
                raise UnknownModel(
                    f"model {model!r} is a {resolved.capability.value} engine, "
                    f"not {capability.value}"
                )
            if target not in self.config.chains.get(capability, []) and not self._allowed(target):
                raise UnknownModel(
                    f"engine {target!r} is {resolved.location}, excluded by mode "
                    f"{self.config.mode.value!r}"
                )
            return Chain(capability, (self.slots[target],), pinned=True)
        if target is not None and target in {c.value for c in Capability} and target != capability:
            raise UnknownModel(f"model {model!r} is the {target} route, not {capability.value}")
        chain = self._chains.get(capability)
        if chain is None or not chain.slots:
            raise NoEngineAvailable(
                f"no {capability.value} engine is configured for mode {self.config.mode.value!r}"
            )
        return chain

    def _allowed(self, name: str) -> bool:
        location = self.config.engines[name].location
        mode = self.config.mode.value
        return mode == "hybrid" or (mode == "local") == (location == "local")

    def policy(self, capability: Capability, slot: EngineSlot) -> RoutePolicy:
        base = self.config.config.policy.for_capability(capability)
        engine_timeout = slot.policy.timeout
        if engine_timeout is not None:
            return dataclasses.replace(base, timeout=engine_timeout)
        return base

    # -- one-shot calls --------------------------------------------------------------------

    async def call(
        self,
        capability: Capability,
        model: str | None,
        fn: Callable[[Any], Awaitable[T]],
    ) -> Routed[T]:
        """Run ``fn(engine)`` on the first engine of the chain that succeeds."""
        chain = self.chain(capability, model)
        attempts: list[Attempt] = []
        for slot in chain.slots:
            if not self._admit(slot, capability, attempts):
                continue
            policy = self.policy(capability, slot)
            for attempt in range(policy.retries + 1):
                started = time.perf_counter()
                try:
                    value = await _run_on(slot, fn, policy)
                except asyncio.CancelledError:
                    slot.breaker.release()
                    raise
                except Exception as raised:
                    exc = _engine_failure(slot, raised)
                    retry = self._failed(slot, capability, exc, attempts, attempt, policy)
                    if retry:
                        await asyncio.sleep(self.config.config.policy.retry_backoff * (attempt + 1))
                        continue
                    break
                self._succeeded(slot, capability, started, attempts)
                return Routed(value, slot.name, attempts)
        raise self._exhausted(capability, attempts)

    # -- streams ---------------------------------------------------------------------------

    async def stream(
        self,
        capability: Capability,
        model: str | None,
        fn: Callable[[Any], AsyncIterator[T]],
        on_done: Callable[[], None] = lambda: None,
        *,
        skip: frozenset[str] = frozenset(),
        extra_time: float = 0.0,
    ) -> RoutedStream[T]:
        """Start ``fn(engine)`` on the first engine whose stream yields a first item
        (engines named in ``skip`` are passed over). ``extra_time`` lengthens each engine's
        first-result timeout for large inputs (an STT engine reads a whole file first)."""
        chain = self.chain(capability, model)
        attempts: list[Attempt] = []
        for slot in chain.slots:
            if slot.name in skip:
                continue
            if not self._admit(slot, capability, attempts):
                continue
            policy = self.policy(capability, slot)
            for attempt in range(policy.retries + 1):
                started = time.perf_counter()
                stack = contextlib.AsyncExitStack()
                iterator: AsyncIterator[T] | None = None
                try:
                    # Waiting for a permit is bounded on its own and is never the engine's fault.
                    engine = await stack.enter_async_context(slot.admit(policy.queue_timeout))
                    # The engine's timeout covers loading and the first item together.
                    deadline = (
                        time.monotonic() + policy.timeout + extra_time if policy.timeout else None
                    )
                    await _with_timeout(slot.ensure_loaded(), _left(deadline), slot.name)
                    iterator = fn(engine)
                    first: list[T] = []
                    with contextlib.suppress(StopAsyncIteration):
                        first.append(
                            await _with_timeout(anext(iterator), _left(deadline), slot.name)
                        )
                except BaseException as raised:
                    if iterator is not None and hasattr(iterator, "aclose"):
                        with contextlib.suppress(BaseException):
                            await iterator.aclose()
                    await stack.aclose()
                    if isinstance(raised, asyncio.CancelledError):
                        slot.breaker.release()
                        raise
                    if not isinstance(raised, Exception):
                        raise
                    exc = _engine_failure(slot, raised)
                    if self._failed(slot, capability, exc, attempts, attempt, policy):
                        await asyncio.sleep(self.config.config.policy.retry_backoff * (attempt + 1))
                        continue
                    break
                # The breaker's verdict waits for the end of the stream (RoutedStream).
                self._succeeded(slot, capability, started, attempts, settle=False)
                return RoutedStream(
                    slot.name, attempts, first, iterator, slot, stack, policy, on_done
                )
        raise self._exhausted(capability, attempts)

    async def gather(
        self,
        capability: Capability,
        model: str | None,
        fn: Callable[[Any], AsyncIterator[T]],
        *,
        extra_time: float = 0.0,
    ) -> Routed[list[T]]:
        """The whole of ``fn(engine)``'s stream, for callers that answer only once it is all in
        hand (non-streamed chat and transcription). Nothing has reached the client when an
        engine fails part-way, so that is one more failure and the chain moves on."""
        attempts: list[Attempt] = []
        tried: set[str] = set()
        while True:
            try:
                stream = await self.stream(
                    capability, model, fn, skip=frozenset(tried), extra_time=extra_time
                )
            except AllEnginesFailed as exc:
                if not attempts:
                    raise
                raise self._exhausted(capability, attempts + exc.attempts) from None
            attempts.extend(stream.attempts)
            try:
                items = [item async for item in stream]
            except StreamInterrupted as exc:
                tried.update(a.engine for a in stream.attempts)
                tried.add(stream.engine)
                attempts.append(Attempt(stream.engine, "failed_mid_stream", exc.message))
                self.metrics.fallbacks.labels(
                    capability.value, stream.engine, "failed_mid_stream"
                ).inc()
                log.warning(
                    "route.fallback",
                    capability=capability.value,
                    engine=stream.engine,
                    reason="failed_mid_stream",
                    error=exc.message,
                )
                continue
            return Routed(items, stream.engine, attempts)

    # -- bookkeeping -----------------------------------------------------------------------

    def _admit(self, slot: EngineSlot, capability: Capability, attempts: list[Attempt]) -> bool:
        if slot.breaker.allow():
            return True
        attempts.append(
            Attempt(
                slot.name,
                "breaker_open",
                f"retry in {slot.breaker.retry_in:.1f}s",
                retry_after=slot.breaker.retry_in,
            )
        )
        self.metrics.fallbacks.labels(capability.value, slot.name, "breaker_open").inc()
        return False

    def _failed(
        self,
        slot: EngineSlot,
        capability: Capability,
        exc: Exception,
        attempts: list[Attempt],
        attempt: int,
        policy: RoutePolicy,
    ) -> bool:
        """Record a failure; True means retry the same engine."""
        reason = exc.kind if isinstance(exc, EngineError) else "error"
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        trips = not isinstance(exc, EngineError) or exc.trips_breaker
        tripped = False
        if trips:
            tripped = slot.breaker.record_failure(getattr(exc, "retry_after", None))
            if tripped:
                self.metrics.breaker_trips.labels(slot.name).inc()
                log.warning("breaker.opened", engine=slot.name, reason=reason)
        else:
            slot.breaker.release()
        retryable = not isinstance(exc, EngineError) or exc.retryable
        if retryable and trips and attempt < policy.retries and slot.breaker.allow():
            log.info("route.retry", engine=slot.name, reason=reason, attempt=attempt + 1)
            return True
        attempts.append(Attempt(slot.name, reason, message, getattr(exc, "retry_after", None)))
        self.metrics.requests.labels(capability.value, slot.name, "failed").inc()
        self.metrics.fallbacks.labels(capability.value, slot.name, reason).inc()
        log.warning(
            "route.fallback",
            capability=capability.value,
            engine=slot.name,
            reason=reason,
            error=message,
        )
        return False

    def _succeeded(
        self,
        slot: EngineSlot,
        capability: Capability,
        started: float,
        attempts: list[Attempt],
        *,
        settle: bool = True,
    ) -> None:
        if settle:
            was_open = slot.breaker.state is not BreakerState.CLOSED
            slot.breaker.record_success()
            if was_open:
                log.info("breaker.closed", engine=slot.name)
        self.metrics.requests.labels(capability.value, slot.name, "ok").inc()
        self.metrics.latency.labels(capability.value, slot.name).observe(
            time.perf_counter() - started
        )
        self.metrics.decisions.record(capability.value, slot.name, _skipped(attempts))
        if attempts:
            log.info(
                "route.served_after_fallback",
                capability=capability.value,
                engine=slot.name,
                skipped=[a.header() for a in attempts],
            )

    def _exhausted(self, capability: Capability, attempts: list[Attempt]) -> AllEnginesFailed:
        error = AllEnginesFailed(capability, attempts)
        self.metrics.decisions.record(capability.value, None, _skipped(attempts))
        log.error(
            "route.exhausted", capability=capability.value, attempts=[a.header() for a in attempts]
        )
        return error


def _skipped(attempts: list[Attempt]) -> list[tuple[str, str, str]]:
    return [(a.engine, a.reason, a.message) for a in attempts]


def _engine_failure(slot: EngineSlot, raised: Exception) -> Exception:
    """The failure as the chain should see it; the client's own mistakes are raised at once
    (never retried, never counted by the breaker, never passed to the next engine)."""
    exc = classify(raised)
    if isinstance(exc, InvalidRequest):
        slot.breaker.release()
        raise exc from (None if exc is raised else raised)
    if isinstance(exc, EngineTimeout):
        slot.note_timeout()
    return exc


async def _run_on(slot: EngineSlot, fn: Callable[[Any], Awaitable[T]], policy: RoutePolicy) -> T:
    # Waiting for a permit is bounded on its own and is never the engine's fault; the engine's
    # timeout covers loading and the call.
    async with slot.admit(policy.queue_timeout) as engine, _timeout(policy.timeout, slot.name):
        await slot.ensure_loaded()
        return await fn(engine)


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


async def _with_timeout(step: Awaitable[T], timeout: float | None, engine: str) -> T:
    async with _timeout(timeout, engine):
        return await step


@contextlib.asynccontextmanager
async def _timeout(timeout: float | None, engine: str) -> AsyncIterator[None]:
    if timeout is None:
        yield
        return
    try:
        # asyncio.timeout (not wait_for) avoids creating a task per call on the hot path.
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError:
        raise EngineTimeout(f"no result from {engine!r} within {timeout:g}s") from None
