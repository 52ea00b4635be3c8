"""Turning what an OpenAI-compatible server answers into the router's failure kinds.

- no connection (refused, DNS, TLS) and rejected keys: ``EngineUnavailable`` (the breaker counts it)
- timeouts: ``EngineTimeout``; 429: ``EngineRateLimited`` with the server's ``Retry-After``
- 5xx and broken connections: ``EngineUpstreamError``
- 400/404/422...: ``InvalidRequest`` (the client must fix it, no fallback), except a model the
  server does not have, or an endpoint it does not serve: that is this engine's problem, so the
  next engine gets the request.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.engines.errors import (
    EngineError,
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
    InvalidRequest,
)

#: A server asking for more than this is treated as asking for this; the breaker then holds the
#: engine out for at most ``policy.breaker.max_cooldown``.
MAX_RETRY_AFTER = 3600.0
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class ServerError:
    """The useful part of an error body: OpenAI's ``{"error": {...}}`` or anything else."""

    message: str
    code: str | None = None
    param: str | None = None
    #: True when the body had OpenAI's error shape (so the server understood the request).
    structured: bool = False


def parse_error_body(body: bytes) -> ServerError:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return ServerError(
                message=str(error.get("message") or "")[:_MESSAGE_LIMIT] or "no message",
                code=_text(error.get("code")),
                param=_text(error.get("param")),
                structured=True,
            )
        if isinstance(error, str):
            return ServerError(error[:_MESSAGE_LIMIT], structured=True)
        detail = data.get("detail") or data.get("message")
        if detail is not None:
            return ServerError(str(detail)[:_MESSAGE_LIMIT])
    return ServerError(text[:_MESSAGE_LIMIT] or "empty response body")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` in seconds or as a date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return _bounded(float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return _bounded(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return _bounded(when.timestamp() - (time.time() if now is None else now))


def _bounded(seconds: float) -> float | None:
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _is_missing_model(error: ServerError) -> bool:
    if error.code == "model_not_found":
        return True
    message = error.message.lower()
    return error.param == "model" or ("model" in message and "does not exist" in message)


def error_from_response(
    engine: str, status: int, headers: Mapping[str, str], body: bytes, model: str, path: str
) -> EngineError:
    """The failure a non-2xx answer means for the router."""
    error = parse_error_body(body)
    where = f"{engine!r} (upstream {status})"
    if status == 429:
        return EngineRateLimited(
            f"{where} is rate limited: {error.message}", retry_after=parse_retry_after(headers)
        )
    if status in (401, 402, 403):
        return EngineUnavailable(f"{where} refused the credentials: {error.message}")
    if status == 408:
        return EngineTimeout(f"{where} timed out: {error.message}")
    if status >= 500:
        return EngineUpstreamError(
            f"{where} failed: {error.message}", retry_after=parse_retry_after(headers)
        )
    if status in (400, 404, 422) and _is_missing_model(error):
        return EngineUnavailable(f"{where} has no model {model!r}: {error.message}")
    if status in (404, 405) and not error.structured:
        # A route the server does not have (e.g. no TTS on a llama.cpp server): not the
        # client's fault, and the next engine may serve it.
        return EngineUnavailable(f"{where} does not serve {path}: {error.message}")
    return InvalidRequest(
        f"{where} rejected the request: {error.message}", param=error.param, status=status
    )


#: No connection: refused, DNS, TLS, a proxy that would not connect, a URL that cannot be used.
_UNREACHABLE = (
    aiohttp.ClientConnectorError,
    aiohttp.ClientSSLError,
    aiohttp.ClientHttpProxyError,
    aiohttp.InvalidURL,
)


def error_from_exception(engine: str, base_url: str, exc: BaseException) -> EngineError:
    """The failure a transport problem means for the router (never includes headers)."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return EngineTimeout(f"{engine!r} could not connect to {base_url} in time: {detail}")
    if isinstance(exc, TimeoutError):  # aiohttp's read timeouts are TimeoutErrors too
        return EngineTimeout(f"{engine!r}: {base_url} stopped answering ({detail})")
    if isinstance(exc, _UNREACHABLE):
        return EngineUnavailable(f"{engine!r} cannot reach {base_url}: {detail}")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return EngineUpstreamError(f"{engine!r}: the connection to {base_url} broke: {detail}")
    if isinstance(exc, aiohttp.ClientOSError | aiohttp.ClientResponseError):
        return EngineUpstreamError(f"{engine!r}: the connection to {base_url} broke: {detail}")
    return EngineUpstreamError(f"{engine!r}: request to {base_url} failed: {detail}")


def in_band_error(engine: str, event: Mapping[str, Any], model: str, path: str) -> EngineError:
    """An ``{"error": ...}`` event inside a stream that had begun: the server failed mid-way."""
    return error_from_response(engine, 502, {}, json.dumps(dict(event)).encode(), model, path)
