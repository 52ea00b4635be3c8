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
        super().__init__(f"every {capability.value} engine failed: {details}")
        # Overload everywhere is a 429 (try later), not an outage.
        if attempts and all(a.reason in ("overloaded", "rate_limited") for a in attempts):
            self.status = 429
        else:
            self.status = 503


class StreamInterrupted(RoutingError):
    """The serving engine failed after the first chunk was sent; the stream cannot fall back."""

    def __init__(self, engine: str, message: str) -> None:
        super().__init__(f"engine {engine!r} failed mid-stream: {message}")
        self.engine = engine
