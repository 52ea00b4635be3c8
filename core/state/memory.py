"""The in-process state backend: one daemon, nothing to start (the default).

Breakers stay in their engine slots (there is nobody to tell), rate limits are token buckets in
this process, and conversation history is the bounded LRU of
:class:`core.api.conversation_history.ConversationHistory`. The Valkey backend keeps one of
these as its fallback for when the store cannot be reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from core.api.conversation_history import ConversationHistory
from core.engines.llm import ChatMessage
from core.state.backend import BreakerNews, FleetListener, HistoryLimits
from core.state.rate import Rate, gcra

#: Buckets kept before full ones (equal to no bucket at all) are swept out.
_SWEEP_AT = 10_000


class RateBuckets:
    """GCRA buckets by key, bounded: a bucket that has refilled is forgotten."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}

    def take(self, key: str, rate: Rate) -> float:
        now = self._clock()
        tat, wait = gcra(self._tat.get(key, now), now, rate)
        if wait == 0.0:
            self._tat[key] = tat
            if len(self._tat) > _SWEEP_AT:
                self._sweep(now)
        return wait

    def _sweep(self, now: float) -> None:
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]

    def __len__(self) -> int:
        return len(self._tat)


class Places:
    """Requests at once by key, in this process: tokens held per key."""

    def __init__(self) -> None:
        self._held: dict[str, set[str]] = {}
        self._next = 0

    def take(self, key: str, places: int) -> str | None:
        held = self._held.setdefault(key, set())
        if len(held) >= places:
            return None
        self._next += 1
        token = f"local:{self._next}"
        held.add(token)
        return token

    def give_back(self, key: str, token: str) -> None:
        held = self._held.get(key)
        if held is None:
            return
        held.discard(token)
        if not held:
            del self._held[key]

    def held(self, key: str) -> int:
        return len(self._held.get(key, ()))


class MemoryBackend:
    kind = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.buckets = RateBuckets(clock)
        self.places = Places()
        self.conversations = ConversationHistory(clock)

    async def start(self, listener: FleetListener) -> None:
        return None

    async def close(self) -> None:
        return None

    def status(self) -> dict[str, Any]:
        return {"backend": self.kind, "state": "local"}

    def publish_breaker(self, news: BreakerNews) -> None:
        return None

    async def take(self, key: str, rate: Rate) -> float:
        return self.buckets.take(key, rate)

    async def take_place(self, key: str, places: int) -> str | None:
        return self.places.take(key, places)

    def give_back(self, key: str, token: str) -> None:
        self.places.give_back(key, token)

    async def history(self, key: str, idle_ttl: float) -> list[ChatMessage]:
        return self.conversations.messages(key, idle_ttl)

    async def remember(self, key: str, turn: list[ChatMessage], limits: HistoryLimits) -> None:
        self.conversations.append(
            key, turn, max_messages=limits.max_messages, max_conversations=limits.max_conversations
        )

    async def reload_fleet(self, wait: float) -> dict[str, Any]:
        return {"backend": self.kind, "reached": 0, "daemons": {}, "pending": 0}
