"""What an edge-tts failure means for the router.

Offline, aiohttp fails at once with a DNS error (an ``OSError``): that is unavailability, so the
next engine serves the request within milliseconds.
"""

from __future__ import annotations

import asyncio

from core.engines.errors import (
    EngineError,
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
)

SERVICE = "speech.platform.bing.com"


def edge_error(engine: str, exc: BaseException) -> EngineError:
    import aiohttp

    detail = str(exc) or type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return EngineTimeout(f"{engine!r}: {SERVICE} did not answer in time ({detail})")
    status = getattr(exc, "status", None)
    if isinstance(exc, aiohttp.ClientResponseError) and isinstance(status, int):
        if status == 429:
            return EngineRateLimited(f"{engine!r}: {SERVICE} is rate limiting ({detail})")
        if status in (401, 403):
            return EngineUnavailable(f"{engine!r}: {SERVICE} refused the connection ({detail})")
        return EngineUpstreamError(f"{engine!r}: {SERVICE} answered {status} ({detail})")
    if isinstance(exc, OSError):
        return EngineUnavailable(f"{engine!r} cannot reach {SERVICE} (offline?): {detail}")
    return EngineUpstreamError(f"{engine!r}: {SERVICE} failed: {detail}")
