"""Routing failures the API layer turns into HTTP errors."""

from __future__ import annotations

from dataclasses import dataclass

from core.engines.base import Capability
from core.engines.errors import CLIENT_KINDS


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
    """Every engine in the chain failed; the message names each one and why.

    The status says what the client should do:
    - 429 (try later) when some engine is merely busy or rate-limited: engines that are absent
      (not loaded, unconfigured, breaker open) are no reason to call it an outage;
    - 400 when every engine refused the request for what it asks (``unsupported``): retrying
      cannot help, the request must change;
    - 503 otherwise.
    """

    def __init__(self, capability: Capability, attempts: list[Attempt]) -> None:
        self.capability = capability
        self.attempts = attempts
        reasons = {a.reason for a in attempts}
        self.retry_after: float | None
        if reasons & _BUSY:
            self.status = 429
            self.retry_after = _soonest_retry([a for a in attempts if a.reason in _TEMPORARY])
            lead = f"every {capability.value} engine is busy or unavailable"
        elif attempts and reasons <= CLIENT_KINDS:
            self.status = 400
            self.retry_after = None
            lead = f"no {capability.value} engine can serve this request"
        else:
            self.status = 503
            self.retry_after = _soonest_retry(attempts)
            lead = f"every {capability.value} engine failed"
        details = "; ".join(f"{a.engine}: {a.reason} ({a.message})" for a in attempts)
        super().__init__(f"{lead}: {details}" if details else lead)


#: What a client is told to wait when every engine is merely busy and none said how long.
_BUSY_RETRY_SECONDS = 1.0
_BUSY = frozenset({"overloaded", "rate_limited"})
#: Engines passed over without being asked (breaker open, load failed and not yet retried).
_ABSENT = frozenset({"breaker_open", "not_loaded"})
_TEMPORARY = _BUSY | _ABSENT


def _soonest_retry(attempts: list[Attempt]) -> float | None:
    """When the first engine may take a request again, if every failure was a temporary one
    (busy, rate-limited, cooling down, waiting to retry its load); None when some engine is
    simply broken."""
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
