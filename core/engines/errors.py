"""Failure kinds an engine may raise; the router decides fallback and breaker effects from them."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every engine failure. ``retryable`` failures may be retried and fall back."""

    kind = "error"
    retryable = True
    #: Whether this failure counts against the engine's circuit breaker.
    trips_breaker = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class EngineUnavailable(EngineError):
    """The engine cannot serve: missing model, failed load, dead worker, refused connection."""

    kind = "unavailable"


class EngineTimeout(EngineError):
    """The engine did not produce its first result within the configured timeout."""

    kind = "timeout"


class EngineOverloaded(EngineError):
    """The engine's concurrency slots and queue are full; try elsewhere, but it is not broken."""

    kind = "overloaded"
    trips_breaker = False


class EngineRateLimited(EngineError):
    """A provider answered 429. ``retry_after`` (seconds) holds the breaker open that long."""

    kind = "rate_limited"


class EngineUpstreamError(EngineError):
    """A remote provider answered 5xx or broke the connection."""

    kind = "upstream"


class InvalidRequest(EngineError):
    """The request itself is wrong for this engine (unknown voice, bad option).

    Never retried, never trips the breaker, never falls back: the client must fix it.
    """

    kind = "invalid_request"
    retryable = False
    trips_breaker = False

    def __init__(self, message: str, *, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


class Unsupported(EngineError):
    """This engine cannot do what was asked (e.g. translation); the next engine may."""

    kind = "unsupported"
    trips_breaker = False
