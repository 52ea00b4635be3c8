"""What one engine slot shares through the state backend: its breaker's changes (so the other
daemons skip an engine this one found broken) and its rate limit."""

from __future__ import annotations

from core.config.resolve import ResolvedEngine
from core.state.backend import BreakerNews, StateBackend
from core.state.rate import OverRateLimit


class EngineLink:
    def __init__(self, backend: StateBackend, resolved: ResolvedEngine) -> None:
        self._backend = backend
        self._name = resolved.name
        self._fingerprint = resolved.fingerprint
        self._rate = resolved.policy.rate_limit

    def reconfigure(self, resolved: ResolvedEngine) -> None:
        """A reload kept the engine (same fingerprint) but may have changed its limit."""
        self._rate = resolved.policy.rate_limit

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
