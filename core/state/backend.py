"""The state backend interface: what a daemon keeps that its peers may need to see.

One implementation keeps everything in this process (the default, nothing to start); the other
keeps it in Valkey, shared by every daemon of a fleet. Either way the calls on a request's path
are bounded and never fail the request: a backend that cannot reach its store answers from
local state and says so in :meth:`StateBackend.status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core.engines.llm import ChatMessage
from core.state.rate import Rate


@dataclass(frozen=True)
class HistoryLimits:
    """How much conversation history is kept (from ``conversation.*`` in the YAML)."""

    #: Messages kept per conversation; the oldest go first. 0 keeps none.
    max_messages: int
    #: Conversations kept at once by one daemon's local copy; the least recently used go first.
    max_conversations: int
    #: Seconds a conversation unused is kept.
    idle_ttl: float


@dataclass(frozen=True)
class BreakerNews:
    """A breaker opened or closed. Engines are the same across daemons only when both their
    name and their resolved fingerprint match, so differently configured engines never share."""

    engine: str
    fingerprint: str
    #: Seconds the breaker stays open from now; 0 when it closed.
    open_for: float


class FleetListener(Protocol):
    """The daemon side of the backend: where news from other daemons lands."""

    def breaker_news(self, news: BreakerNews) -> None:
        """Another daemon's breaker changed (or, after a reconnect, still is open)."""

    def open_breakers(self) -> list[BreakerNews]:
        """This daemon's open breakers, published again after the store comes back."""

    async def reload_for_fleet(self) -> dict[str, Any]:
        """Reload this daemon's own config file because a fleet reload was asked for; returns
        a short summary for the daemon that asked."""


class StateBackend(Protocol):
    #: ``memory`` or ``valkey``.
    kind: str

    async def start(self, listener: FleetListener) -> None:
        """Begin serving; a store that cannot be reached yet is retried in the background."""

    async def close(self) -> None: ...

    def status(self) -> dict[str, Any]:
        """For ``/control/status``: backend, connected or degraded, the last error."""

    def publish_breaker(self, news: BreakerNews) -> None:
        """Tell the other daemons; returns at once (sent in the background, never raises)."""

    async def take(self, key: str, rate: Rate) -> float:
        """One request against the limit named ``key``: 0 when admitted, otherwise the seconds
        until one would be."""

    async def take_place(self, key: str, places: int) -> str | None:
        """One of ``places`` requests at once under ``key`` (for the whole fleet with a shared
        store): a token to give back when done, or None when every place is held."""

    def give_back(self, key: str, token: str) -> None:
        """End a place taken with :meth:`take_place`; returns at once, never raises."""

    async def history(self, key: str, idle_ttl: float) -> list[ChatMessage]:
        """A conversation's remembered messages, oldest first (empty when unknown/expired)."""

    async def remember(self, key: str, turn: list[ChatMessage], limits: HistoryLimits) -> None:
        """Add a turn's messages, keeping the newest ``limits.max_messages``."""

    async def reload_fleet(self, wait: float) -> dict[str, Any]:
        """Ask every other daemon to reload its own config file; wait up to ``wait`` seconds
        for their answers and return them."""
