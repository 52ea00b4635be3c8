"""The daemon's side of the state backend: remote breaker news lands on the local breakers of
the current generation, and a fleet reload request reloads this daemon's own config file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import structlog

from core.routing.breaker import BreakerState
from core.state.backend import BreakerNews

if TYPE_CHECKING:
    from core.runtime.generation import Generation
    from core.runtime.reload_result import ReloadResult

log = structlog.get_logger(__name__)


class FleetHost(Protocol):
    """What the link needs of the runtime: its current generation, and a reload."""

    @property
    def current(self) -> Generation: ...

    async def reload(self, trigger: str = ..., *, force: bool = ...) -> ReloadResult: ...


class FleetLink:
    def __init__(self, runtime: FleetHost) -> None:
        self._runtime = runtime

    def breaker_news(self, news: BreakerNews) -> None:
        slot = self._runtime.current.slots.get(news.engine)
        if slot is None or slot.resolved.fingerprint != news.fingerprint:
            return  # not an engine of ours, or configured differently here
        breaker = slot.breaker
        if news.open_for > 0:
            if breaker.hold_open(news.open_for):
                log.warning("breaker.opened_by_fleet", engine=news.engine, seconds=news.open_for)
        elif breaker.state is not BreakerState.CLOSED:
            breaker.close_from_fleet()
            log.info("breaker.closed_by_fleet", engine=news.engine)

    def open_breakers(self) -> list[BreakerNews]:
        return [
            BreakerNews(slot.name, slot.resolved.fingerprint, slot.breaker.retry_in)
            for slot in self._runtime.current.slots.values()
            if slot.breaker.state is BreakerState.OPEN and slot.breaker.retry_in > 0
        ]

    async def reload_for_fleet(self) -> dict[str, Any]:
        result = await self._runtime.reload("fleet")
        return {
            "ok": result.ok,
            "generation": result.generation,
            "sha256": result.sha256,
            "changed": result.added + result.changed + result.removed,
            "error": result.error,
        }
