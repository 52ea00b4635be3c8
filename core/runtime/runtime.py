"""The runtime owns the live configuration generation and every engine slot.

Reload: parse and validate the file, build (and warm) only the engines whose definition changed,
then swap the generation atomically. Requests already running keep the generation they leased;
engines no generation references any more are drained and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import LoadedConfig, load_config
from core.config.resolve import ResolvedConfig, ResolvedEngine, resolve_config
from core.config.schema import AppConfig
from core.config.start_only import start_only_changes
from core.engines.base import Capability, EngineContext
from core.observability.metrics import Metrics
from core.plugins import PluginCatalog, create_plugin_catalog
from core.routing.breaker import BreakerState
from core.runtime.generation import Generation
from core.runtime.observer import ReloadObserver
from core.runtime.reload_result import ReloadResult
from core.runtime.router_services import RouterServices
from core.runtime.slot import EngineSlot, EngineState
from core.state.backend import StateBackend
from core.state.engine_link import EngineLink
from core.state.factory import StateFactory, create_state_backend
from core.state.fleet import FleetLink
from core.state.memory import MemoryBackend

log = structlog.get_logger(__name__)

#: How long one engine's health probe may take before it counts as unhealthy.
HEALTH_TIMEOUT = 5.0

CatalogFactory = Callable[[Iterable[str]], PluginCatalog]


def default_catalog_factory(disabled: Iterable[str]) -> PluginCatalog:
    return create_plugin_catalog(disabled=disabled)


class Runtime:
    def __init__(
        self,
        config_path: Path,
        *,
        metrics: Metrics | None = None,
        catalog_factory: CatalogFactory = default_catalog_factory,
        state_factory: StateFactory = create_state_backend,
    ) -> None:
        self.config_path = config_path
        self.metrics = metrics or Metrics()
        #: Breakers' news, rate limits, conversations, fleet reloads: in this process until
        #: :meth:`start` builds the backend the ``state:`` block names (fixed until restart).
        self.state: StateBackend = MemoryBackend()
        self._state_factory = state_factory
        #: What :meth:`start` read; reloads report the start-only settings they change.
        self._started_config: AppConfig | None = None
        self.services = RouterServices(self.lease)
        self._catalog_factory = catalog_factory
        self._current: Generation | None = None
        self._catalog: PluginCatalog | None = None
        self._reload_lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        self._generation_counter = 0
        self.started_at = time.time()
        self.last_reload: ReloadResult | None = None
        self.closing = False
        self._reload_observers: list[ReloadObserver] = []

    # -- access ------------------------------------------------------------------------------

    @property
    def current(self) -> Generation:
        if self._current is None:
            raise RuntimeError("runtime not started")
        return self._current

    @property
    def catalog(self) -> PluginCatalog:
        if self._catalog is None:
            raise RuntimeError("runtime not started")
        return self._catalog

    @property
    def config(self) -> ResolvedConfig:
        return self.current.config

    def acquire(self) -> Generation:
        """Lease the current generation; pair with :meth:`Generation.release`."""
        generation = self.current
        generation.acquire()
        return generation

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[Generation]:
        generation = self.acquire()
        try:
            yield generation
        finally:
            generation.release()

    # -- start, reload, stop -------------------------------------------------------------------

    def _load_and_resolve(self) -> tuple[LoadedConfig, PluginCatalog, ResolvedConfig]:
        loaded = load_config(self.config_path)
        catalog = self._catalog_factory(loaded.config.plugins.disabled)
        return loaded, catalog, resolve_config(loaded, catalog)

    async def start(self) -> None:
        """Load the configuration (raising :class:`ConfigError` if invalid) and preload engines."""
        loaded, catalog, resolved = self._load_and_resolve()
        result = ReloadResult(ok=True, trigger="start", at=time.time(), sha256=loaded.sha256)
        started = time.perf_counter()
        self.state = self._state_factory(resolved.config.state, self.metrics)
        self._started_config = resolved.config
        await self._install(resolved, catalog, result)
        await self.state.start(FleetLink(self))
        result.seconds = time.perf_counter() - started
        self.last_reload = result
        log.info(
            "runtime.started",
            config=str(self.config_path),
            mode=resolved.mode.value,
            engines=len(resolved.engines),
            generation=self.current.number,
        )
        for warning in resolved.warnings:
            log.warning("config.warning", warning=warning)

    def add_reload_observer(self, observer: ReloadObserver) -> None:
        self._reload_observers.append(observer)

    async def reload(self, trigger: str = "manual", *, force: bool = True) -> ReloadResult:
        """Re-read the file and swap in the new configuration; an invalid file changes nothing.
        Reload observers hear that it started and how it ended."""
        for observer in self._reload_observers:
            observer.reload_started(trigger)
        try:
            result = await self._reload(trigger, force=force)
        except BaseException as exc:  # cancelled, or a bug: observers still hear it ended
            unfinished = ReloadResult(ok=False, trigger=trigger, at=time.time())
            unfinished.error = {"issues": [{"path": "", "message": f"reload stopped: {exc!r}"}]}
            for observer in self._reload_observers:
                observer.reload_finished(unfinished)
            raise
        for observer in self._reload_observers:
            observer.reload_finished(result)
        return result

    async def _reload(self, trigger: str, *, force: bool) -> ReloadResult:
        async with self._reload_lock:
            started = time.perf_counter()
            result = ReloadResult(ok=False, trigger=trigger, at=time.time())
            try:
                loaded, catalog, resolved = await asyncio.to_thread(self._load_and_resolve)
            except ConfigError as exc:
                result.error = exc.as_dict()
                result.seconds = time.perf_counter() - started
                self.last_reload = result
                self.metrics.reloads.labels("failed").inc()
                log.error(
                    "config.reload_failed",
                    trigger=trigger,
                    source=exc.source,
                    issues=[str(i) for i in exc.issues],
                )
                return result
            result.sha256 = loaded.sha256
            previous_ok = self.last_reload is None or self.last_reload.ok
            if not force and previous_ok and loaded.sha256 == self.current.config.sha256:
                result.ok, result.skipped = True, True
                result.generation = self.current.number
                return result
            try:
                await self._install(resolved, catalog, result)
            except ConfigError as exc:
                result.error = exc.as_dict()
                self.metrics.reloads.labels("failed").inc()
                log.error(
                    "config.reload_failed", trigger=trigger, issues=[str(i) for i in exc.issues]
                )
            else:
                result.ok = True
                self.metrics.reloads.labels("ok").inc()
                if self._started_config is not None:
                    result.needs_restart = start_only_changes(self._started_config, resolved.config)
                if result.needs_restart:
                    log.warning("config.change_needs_restart", settings=result.needs_restart)
                log.info(
                    "config.reloaded",
                    trigger=trigger,
                    generation=result.generation,
                    added=result.added,
                    changed=result.changed,
                    removed=result.removed,
                    unchanged=len(result.unchanged),
                )
            result.seconds = time.perf_counter() - started
            self.last_reload = result
            return result

    async def _install(
        self, resolved: ResolvedConfig, catalog: PluginCatalog, result: ReloadResult
    ) -> None:
        """Build the new generation and swap it in, or change nothing.

        All or nothing: every new or changed engine that must be ready before traffic moves
        (preloads, replacements of loaded engines) is built and loaded first. If any of them
        fails on a reload, the new engines are closed, the old generation keeps serving with
        its old settings, and :class:`ConfigError` says which engine failed and why. At start
        there is nothing to keep, so a failed preload only marks that engine not loaded.
        """
        previous = self._current
        breaker_policy = resolved.config.policy.breaker
        slots: dict[str, EngineSlot] = {}
        fresh: list[EngineSlot] = []
        kept: list[tuple[EngineSlot, ResolvedEngine]] = []
        issues: list[ConfigIssue] = []
        for name, engine in resolved.engines.items():
            old = previous.slots.get(name) if previous else None
            if (
                old is not None
                and old.resolved.fingerprint == engine.fingerprint
                and (old.state is not EngineState.CLOSED)
            ):
                kept.append((old, engine))
                slots[name] = old
                result.unchanged.append(name)
                continue
            context = EngineContext(
                name=name,
                data_dir=resolved.data_dir,
                models_dir=resolved.models_dir,
                services=self.services,
                on_event=functools.partial(self._engine_event, name),
            )
            try:
                slot = EngineSlot(
                    engine, context, breaker_policy, self.metrics, EngineLink(self.state, engine)
                )
            except Exception as exc:  # a plugin bug in __init__ is a config-time error
                issues.append(
                    ConfigIssue(f"engines.{name}", f"engine could not be created: {exc!r}")
                )
                continue
            slots[name] = slot
            fresh.append(slot)
            (result.changed if old is not None else result.added).append(name)
        if issues:
            raise ConfigError(issues, resolved.source)
        if previous is not None:
            result.removed = [n for n in previous.slots if n not in resolved.engines]

        # Warm what must be ready before traffic moves: preloads and replaced loaded engines.
        def needs_warm(slot: EngineSlot) -> bool:
            old = previous.slots.get(slot.name) if previous else None
            return slot.resolved.spec.preload or (
                old is not None and old.state is EngineState.READY
            )

        warm = [s for s in fresh if needs_warm(s)]
        outcomes = await asyncio.gather(*(s.ensure_loaded() for s in warm), return_exceptions=True)
        for slot, outcome in zip(warm, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                result.failed_loads[slot.name] = slot.last_error or repr(outcome)
        if previous is not None and result.failed_loads:
            await asyncio.gather(*(s.close(0) for s in fresh), return_exceptions=True)
            raise ConfigError(
                [
                    ConfigIssue(f"engines.{name}", f"engine failed to load: {error}")
                    for name, error in result.failed_loads.items()
                ],
                resolved.source,
            )

        # Commit: nothing below can fail.
        for slot, engine in kept:
            slot.reconfigure(engine, breaker_policy)
        self._generation_counter += 1
        generation = Generation(self._generation_counter, resolved, slots, self.metrics)
        self._current, self._catalog = generation, catalog
        result.generation = generation.number
        if previous is not None:
            drain = resolved.config.reload.drain_timeout
            task = asyncio.create_task(
                self._retire(previous, drain), name=f"retire:{previous.number}"
            )
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, generation: Generation, drain_timeout: float | None = None) -> None:
        """Once no request uses ``generation`` (or after ``drain_timeout``), close the engines no
        live generation lists. The bound matters: a long-lived socket must not keep an old model
        in memory for as long as it stays open."""
        if not await generation.wait_idle(drain_timeout):
            log.warning(
                "reload.drain_timeout", generation=generation.number, in_flight=generation.leases
            )
        for slot in generation.slots.values():
            slot.generations -= 1
            if slot.generations == 0:
                await slot.close(drain_timeout)

    async def shutdown(self, drain_timeout: float = 30.0) -> None:
        """Wait for running requests (up to ``drain_timeout``), then close every engine."""
        self.closing = True
        if self._current is None:
            return
        deadline = time.monotonic() + drain_timeout
        drained = await self._current.wait_idle(drain_timeout)
        if not drained:
            log.warning("runtime.drain_timeout", in_flight=self._current.leases)
        for task in list(self._retiring):
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, max(deadline - time.monotonic(), 0.1))
        for slot in self._current.slots.values():
            await slot.close(max(deadline - time.monotonic(), 0.0))
        await self.state.close()
        log.info("runtime.stopped")

    # -- readiness and status ------------------------------------------------------------------

    def route_ready(self, capability: Capability) -> bool:
        """A route is ready when some engine in its chain is neither failed, closed nor open."""
        generation = self.current
        for name in generation.config.chains.get(capability, []):
            slot = generation.slots[name]
            if slot.state in (EngineState.FAILED, EngineState.CLOSED):
                continue
            if slot.breaker.state is BreakerState.OPEN:
                continue
            return True
        return False

    def status(self) -> dict[str, Any]:
        generation = self.current
        config = generation.config
        engines = {name: slot.status() for name, slot in generation.slots.items()}
        routes = {
            cap.value: {
                "declared": config.declared_chains.get(cap, []),
                "chain": [
                    {"engine": n, "state": engines[n]["state"], "location": engines[n]["location"]}
                    for n in config.chains.get(cap, [])
                ],
                "ready": self.route_ready(cap),
            }
            for cap in config.declared_chains
        }
        return {
            "mode": config.mode.value,
            "config": {"file": str(self.config_path), "sha256": config.sha256},
            "generation": generation.number,
            "in_flight": generation.leases,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "engines": engines,
            "routes": routes,
            "aliases": dict(config.config.aliases),
            "plugins": {
                "loaded": sorted(self.catalog.plugins),
                "disabled": sorted(self.catalog.disabled),
                "failed": [asdict(f) for f in self.catalog.failures],
            },
            "last_reload": self.last_reload.as_dict() if self.last_reload else None,
            "state": self.state.status(),
            "warnings": config.warnings,
        }

    async def engine_health(self, timeout: float = HEALTH_TIMEOUT) -> dict[str, dict[str, Any]]:
        """Each loaded engine's own probe (``Engine.health``), run side by side; an engine that
        is not loaded is left out (a probe never loads a model)."""
        slots = [slot for slot in self.current.slots.values() if slot.ready]
        answers = await asyncio.gather(*(slot.probe(timeout) for slot in slots))
        return {slot.name: answer for slot, answer in zip(slots, answers, strict=True)}

    def _engine_event(self, engine: str, event: str, fields: dict[str, Any]) -> None:
        """What an engine reports through its context's ``on_event`` (a worker that crashed or
        restarted): counted for /metrics; the engine logs the details itself."""
        self.metrics.engine_events.labels(engine, event).inc()
