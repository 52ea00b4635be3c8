"""The last routing decisions, kept in memory for people watching the daemon (the console).

Metrics count fallbacks; this says which request fell back, from which engine and why, without
reading logs. Bounded, so it costs the same after a week as after a minute.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

#: Decisions kept: enough to see a burst of fallbacks, small enough to send every poll.
RECENT_DECISIONS = 100


@dataclass(frozen=True)
class Skipped:
    engine: str
    reason: str
    message: str


@dataclass(frozen=True)
class RoutingDecision:
    at: float  # wall-clock seconds, for display
    capability: str
    #: The engine that served, or None when every engine failed.
    engine: str | None
    skipped: tuple[Skipped, ...]

    @property
    def fell_back(self) -> bool:
        return bool(self.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": round(self.at, 3),
            "capability": self.capability,
            "engine": self.engine,
            "outcome": "served" if self.engine is not None else "exhausted",
            "fell_back": self.fell_back,
            "skipped": [asdict(s) for s in self.skipped],
        }


class RecentDecisions:
    """A ring of the newest routing decisions (one per routed request)."""

    def __init__(self, size: int = RECENT_DECISIONS) -> None:
        self._ring: deque[RoutingDecision] = deque(maxlen=size)

    def record(
        self, capability: str, engine: str | None, skipped: list[tuple[str, str, str]]
    ) -> None:
        attempts = tuple(Skipped(e, r, m[:300]) for e, r, m in skipped)
        self._ring.append(RoutingDecision(time.time(), capability, engine, attempts))

    def newest(self, limit: int | None = None) -> list[RoutingDecision]:
        """Newest first."""
        items = list(reversed(self._ring))
        return items if limit is None else items[:limit]
