"""A per-engine circuit breaker: closed, open (skip cheaply), half-open (one probe)."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from core.config.schema import BreakerPolicy


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failures`` consecutive failures; after ``cooldown`` lets one request probe.

    A successful probe closes it (traffic returns to the preferred engine); a failed one reopens it
    with the cooldown doubled, up to ``max_cooldown``.
    """

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.trips = 0
        self._cooldown = policy.cooldown
        self._open_until = 0.0
        self._probe_in_flight = False

    def reconfigure(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._cooldown = min(max(self._cooldown, policy.cooldown), policy.max_cooldown)

    @property
    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def allow(self) -> bool:
        """Whether a request may try this engine now. A True in half-open claims the probe."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if self._clock() < self._open_until:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        if self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self._cooldown = self.policy.cooldown
        self._probe_in_flight = False

    def record_failure(self, retry_after: float | None = None) -> bool:
        """Count a failure; returns True when this failure opened the breaker."""
        self.consecutive_failures += 1
        probing = self.state is BreakerState.HALF_OPEN
        self._probe_in_flight = False
        if probing:
            self._cooldown = min(self._cooldown * 2, self.policy.max_cooldown)
            return self._open(retry_after)
        if retry_after is not None or self.consecutive_failures >= self.policy.failures:
            return self._open(retry_after)
        return False

    def release(self) -> None:
        """The request ended without a verdict (client error, cancellation): free the probe."""
        if self.state is BreakerState.HALF_OPEN:
            self._probe_in_flight = False

    def _open(self, retry_after: float | None) -> bool:
        was_open = self.state is BreakerState.OPEN
        # A provider's Retry-After is honoured up to max_cooldown: "come back in an hour" must
        # not take an engine out of its chain for an hour.
        asked = min(retry_after or 0.0, self.policy.max_cooldown)
        wait = max(self._cooldown, asked)
        self.state = BreakerState.OPEN
        self._open_until = self._clock() + wait
        if not was_open:
            self.trips += 1
        return not was_open
