"""Rate limits: the ``10/s`` setting, and the arithmetic both state backends share.

The limit is a GCRA (generic cell rate algorithm): one number per limited thing, the time at
which its bucket would be empty again. It behaves like a token bucket that holds ``count``
tokens and refills one every ``period / count`` seconds, so a limit admits a burst of up to
``count`` requests and then one per interval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from core.engines.errors import EngineRateLimited

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$", re.IGNORECASE)
_PERIODS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}

_NAMES = {1.0: "s", 60.0: "min", 3600.0: "h", 86400.0: "day"}


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period`` seconds."""

    count: float
    period: float

    @property
    def interval(self) -> float:
        """Seconds between two requests at the steady rate."""
        return self.period / self.count

    @property
    def burst(self) -> int:
        """Requests admitted at once from a full bucket."""
        return max(1, int(self.count))

    def __str__(self) -> str:
        per = _NAMES.get(self.period, f"{self.period:g}s")
        return f"{self.count:g}/{per}"


def parse_rate(value: Any) -> Any:
    """``10/s``, ``600/min``, ``5/10s``, ``1000/h``, ``20000/day``."""
    if isinstance(value, Rate):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a rate such as '10/s', '600/min' or '5/10s'")
    match = _RATE.match(value)
    seconds = _unit_seconds(match.group(3)) if match else None
    if match is None or seconds is None:
        raise ValueError("expected a rate such as '10/s', '600/min' or '5/10s'")
    count = float(match.group(1))
    period = float(match.group(2) or 1) * seconds
    if count <= 0 or period <= 0:
        raise ValueError("a rate needs a positive count and period")
    return Rate(count, period)


def _unit_seconds(unit: str) -> float | None:
    unit = unit.lower()
    if unit in _PERIODS:
        return _PERIODS[unit]
    if unit.endswith("s") and unit[:-1] in _PERIODS:  # "minutes", "secs"
        return _PERIODS[unit[:-1]]
    return None


#: A rate in the YAML: written as text, kept as :class:`Rate`.
RateLimit = Annotated[Rate, BeforeValidator(parse_rate), PlainSerializer(str, return_type=str)]


def gcra(tat: float, now: float, rate: Rate) -> tuple[float, float]:
    """One request against a bucket whose theoretical arrival time is ``tat``.

    Returns the new ``tat`` and how long to wait: 0 when the request is admitted (``tat``
    moves one interval on), otherwise the seconds until it would be (``tat`` unchanged).
    """
    tat = max(tat, now)
    after = tat + rate.interval
    admit_from = after - rate.burst * rate.interval
    if now < admit_from:
        return tat, admit_from - now
    return after, 0.0


class OverRateLimit(EngineRateLimited):
    """This gateway's own limit for an engine was reached. Busy, not broken: the chain moves
    on, and it never counts against the breaker (unlike a provider's own 429)."""

    trips_breaker = False
