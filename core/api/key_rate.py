"""The per-API-key rate limit (``auth.rate_limit``), checked before a request takes an engine.

Keys are counted by a digest, never by their text; with no API keys configured every client
shares one limit. With the Valkey state backend the count is the fleet's, not one daemon's.
"""

from __future__ import annotations

import hashlib

from core.api.auth import bearer_token
from core.runtime.runtime import Runtime


async def key_rate_wait(
    runtime: Runtime, headers: list[tuple[bytes, bytes]], *, keyed: bool
) -> float:
    """0 when the caller may go on, otherwise the seconds until it may. ``keyed``: API keys are
    configured (and the caller's was checked); without them any token a client makes up would
    be a fresh limit, so all share one."""
    rate = runtime.current.config.config.auth.rate_limit
    if rate is None:
        return 0.0
    token = bearer_token(headers) if keyed else None
    who = hashlib.sha256(token).hexdigest()[:16] if token is not None else "anonymous"
    wait = await runtime.state.take(f"key:{who}:{rate}", rate)
    if wait > 0:
        runtime.metrics.rate_limited.labels("api_key").inc()
    return wait
