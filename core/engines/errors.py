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


class EngineNotLoaded(EngineUnavailable):
    """The engine could not be loaded (missing model or key, failed load) and is not retried
    until its load backoff ends. It is not a fallback: it never counts against the breaker and
    never turns another engine's "busy" into an outage."""

    kind = "not_loaded"
    trips_breaker = False


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

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        status: int = 400,
        code: str = "invalid_value",
    ) -> None:
        super().__init__(message)
        self.param = param
        self.status = status
        #: The OpenAI error code the client is told (``context_length_exceeded``...).
        self.code = code


class Unsupported(EngineError):
    """This engine cannot do what was asked because of what it is (translation on an
    English-only model, a language its voice does not speak); the next engine may. When every
    engine of a chain says so, the client is told (400) what the engines support."""

    kind = "unsupported"
    trips_breaker = False


#: Failure kinds that are the request's fault, not the engine's.
CLIENT_KINDS = frozenset({"invalid_request", "unsupported"})


def classify(exc: Exception) -> Exception:
    """An engine failure as the router should treat it.

    Engines raise :class:`EngineError` subclasses for what they recognise; a few library errors
    that can only come from the input are mapped here too, so that text no engine can encode (a
    lone surrogate, say) is the client's 400 and never opens a breaker.
    """
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, UnicodeEncodeError):  # text in, never bytes out: always the input's
        detail = str(exc).split(":", 1)[-1].strip() or type(exc).__name__
        return InvalidRequest(f"the input is not valid Unicode text ({detail})")
    return exc
