"""A generation: one validated configuration with its engine slots and router.

Requests lease the current generation for their whole life (streams included), so a reload never
changes the engines under a request that has already started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from core.config.resolve import ResolvedConfig
from core.observability.metrics import Metrics
from core.routing.router import Router
from core.runtime.slot import EngineSlot
from core.websearch.search import WebSearch


class Generation:
    def __init__(
        self, number: int, config: ResolvedConfig, slots: Mapping[str, EngineSlot], metrics: Metrics
    ) -> None:
        self.number = number
        self.config = config
        self.slots = dict(slots)
        self.router = Router(config, self.slots, metrics)
        #: Web search limits and caches (answers are not carried across reloads).
        self.web_search = WebSearch(config.config.web_search)
        self.created_at = time.time()
        self.leases = 0
        self._idle = asyncio.Event()
        self._idle.set()
        for slot in self.slots.values():
            slot.generations += 1

    def acquire(self) -> None:
        self.leases += 1
        self._idle.clear()

    def release(self) -> None:
        self.leases -= 1
        if self.leases == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
