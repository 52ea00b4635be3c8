"""Response headers that say which engine served and whether a fallback happened."""

from __future__ import annotations

from core.routing.errors import Attempt


def engine_headers(engine: str, attempts: list[Attempt]) -> dict[str, str]:
    headers = {"x-voxgate-engine": engine}
    if attempts:
        headers["x-voxgate-fallback"] = ", ".join(a.header() for a in attempts)
    return headers
