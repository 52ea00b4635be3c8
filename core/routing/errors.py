"""Routing failures the API layer turns into HTTP errors."""

from __future__ import annotations

from dataclasses import dataclass

from core.engines.base import Capability


@dataclass(frozen=True)
class Attempt:
    """An engine the request moved past, and why."""

    engine: str
    reason: str  # an EngineError kind, or "breaker_open"
    message: str
    #: Seconds until this engine is worth asking again, when known (breaker, provider 429).
    retry_after: float | None = None

    def header(self) -> str:
        return f"{self.engine}={self.reason}"


class RoutingError(Exception):
    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownModel(RoutingError):
    """The request named a model that is no route, engine or alias of this capability."""

    status = 404


class NoEngineAvailable(RoutingError):
    """The route has no engine under the current mode."""

    status = 503


class AllEnginesFailed(RoutingError):
    """Every engine in the chain failed; the message names each one and why."""

    def __init__(self, capability: Capability, attempts: list[Attempt]) -> None:
        self.capability = capability
        self.attempts = attempts
        details = "; ".join(f"{a.engine}: {a.reason} ({a.message})" for a in attempts)
        #: Every engine refused the request for what it asks, not for a fault of its own: the
        #: client must change the request, so it is a 400 (a 503 would be retried in vain).
        self.unsupported = bool(attempts) and all(a.reason == "unsupported" for a in attempts)
        if self.unsupported:
            reasons = "; ".join(a.message for a in attempts)
            super().__init__(f"no {capability.value} engine can serve this request: {reasons}")
            self.status = 400
        else:
            super().__init__(f"every {capability.value} engine failed: {details}")
            # Overload everywhere is a 429 (try later), not an outage.
            if attempts and all(a.reason in ("overloaded", "rate_limited") for a in attempts):
                self.status = 429
            else:
                self.status = 503
        self.retry_after = _soonest_retry(attempts)


#: What a client is told to wait when every engine is merely busy and none said how long.
_BUSY_RETRY_SECONDS = 1.0
_TEMPORARY = frozenset({"overloaded", "rate_limited", "breaker_open"})


def _soonest_retry(attempts: list[Attempt]) -> float | None:
    """When the first engine may take a request again, if every failure was a temporary one
    (busy, rate-limited, breaker cooling down); None when some engine is simply broken."""
    if not attempts or any(a.reason not in _TEMPORARY for a in attempts):
        return None
    return min(
        a.retry_after if a.retry_after is not None else _BUSY_RETRY_SECONDS for a in attempts
    )


class StreamInterrupted(RoutingError):
    """The serving engine failed after the first chunk was sent; the stream cannot fall back."""

    def __init__(self, engine: str, message: str) -> None:
        super().__init__(f"engine {engine!r} failed mid-stream: {message}")
        self.engine = engine
