"""What one engine slot shares through the state backend: its breaker's changes (so the other
daemons skip an engine this one found broken), its rate limit and its fleet-wide concurrency."""

from __future__ import annotations

from core.config.resolve import ResolvedEngine
from core.engines.errors import EngineOverloaded
from core.state.backend import BreakerNews, StateBackend
from core.state.rate import OverRateLimit


class FleetFull(EngineOverloaded):
    """Every fleet-wide place of the engine is taken: busy, so the chain moves on."""


class EngineLink:
    def __init__(self, backend: StateBackend, resolved: ResolvedEngine) -> None:
        self._backend = backend
        self._name = resolved.name
        self._fingerprint = resolved.fingerprint
        self._rate = resolved.policy.rate_limit
        self._places = resolved.policy.fleet_concurrency

    def reconfigure(self, resolved: ResolvedEngine) -> None:
        """A reload kept the engine (same fingerprint) but may have changed its limits."""
        self._rate = resolved.policy.rate_limit
        self._places = resolved.policy.fleet_concurrency

    async def check_rate(self) -> None:
        """Raise :class:`OverRateLimit` when the engine has had its share for now."""
        rate = self._rate
        if rate is None:
            return
        # Differently configured engines of the same name never share a bucket, and a changed
        # limit starts with a full one.
        key = f"engine:{self._name}:{self._fingerprint}:{rate}"
        wait = await self._backend.take(key, rate)
        if wait > 0:
            raise OverRateLimit(
                f"engine {self._name!r} is over its rate limit of {rate}", retry_after=wait
            )

    def breaker_changed(self, open_for: float) -> None:
        """The local breaker opened (for ``open_for`` seconds) or closed (0)."""
        self._backend.publish_breaker(BreakerNews(self._name, self._fingerprint, open_for))

    def _places_key(self, places: int) -> str:
        return f"engine:{self._name}:{self._fingerprint}:{places}"

    async def take_place(self) -> tuple[str, str] | None:
        """Hold one of the engine's fleet-wide places (None when it has no such limit); raise
        :class:`FleetFull` when all are taken. Give it back with :meth:`give_back`."""
        places = self._places
        if places is None:
            return None
        key = self._places_key(places)
        token = await self._backend.take_place(key, places)
        if token is None:
            raise FleetFull(
                f"engine {self._name!r} is running its fleet-wide {places} requests at once",
                retry_after=1.0,
            )
        return key, token

    def give_back(self, place: tuple[str, str] | None) -> None:
        if place is not None:
            self._backend.give_back(*place)
