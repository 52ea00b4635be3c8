"""What the web console reads beside ``/control/status`` (loopback or control token only, and
never from another site's pages, like all of ``/control``).

- ``GET /control/activity``: the last routing decisions (which engine served, what was skipped
  and why) and per-route request totals for metrics at a glance.
- ``GET /control/config``: the serving configuration, resolved, and the file's text, with
  secret-looking values masked in both.
- ``POST /control/config/check``: ``{"text": "<yaml>"}`` checked as ``voxgate config check``
  would (the daemon's plugins), answering the problems with their YAML lines. Nothing is saved
  or applied: reloading is ``POST /control/reload``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.bodies import read_json
from core.api.context import runtime_of
from core.api.params import ascii_int
from core.config.errors import ConfigError
from core.config.loader import load_config_text
from core.config.resolve import resolve_config
from core.console.activity import route_totals
from core.console.redact import redact, redact_yaml

log = structlog.get_logger(__name__)

#: Largest config text the console may send for checking.
_MAX_CONFIG_BYTES = 1_000_000


async def activity(request: Request) -> Response:
    metrics = runtime_of(request).metrics
    count = ascii_int(request.query_params.get("limit", ""))
    if count is None:
        count = 50
    return JSONResponse(
        {
            "time": round(time.time(), 3),
            "decisions": [d.as_dict() for d in metrics.decisions.newest(count)],
            "routes": route_totals(metrics),
        }
    )


async def config_view(request: Request) -> Response:
    runtime = runtime_of(request)
    serving = runtime.current.config
    try:
        text: str | None = await asyncio.to_thread(runtime.config_path.read_text, "utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    return JSONResponse(
        {
            "file": str(runtime.config_path),
            "sha256": serving.sha256,
            "resolved": redact(serving.config.model_dump(mode="json")),
            "chains": {cap.value: names for cap, names in serving.chains.items()},
            "text": redact_yaml(text) if text is not None else None,
        }
    )


class CheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=_MAX_CONFIG_BYTES)


async def config_check(request: Request) -> Response:
    body = await read_json(request, CheckBody, _MAX_CONFIG_BYTES + 1000)
    runtime = runtime_of(request)

    def check() -> dict[str, Any]:
        try:
            loaded = load_config_text(body.text, "<console>")
            resolved = resolve_config(loaded, runtime.catalog)
        except ConfigError as exc:
            return {"ok": False, **exc.as_dict()}
        return {
            "ok": True,
            "mode": resolved.mode.value,
            "chains": {cap.value: names for cap, names in resolved.chains.items()},
            "warnings": resolved.warnings,
        }

    result = await asyncio.to_thread(check)
    log.info("console.config_checked", ok=result["ok"], issues=len(result.get("issues", [])))
    return JSONResponse(result)


routes = [
    Route("/control/activity", activity, methods=["GET"]),
    Route("/control/config", config_view, methods=["GET"]),
    Route("/control/config/check", config_check, methods=["POST"]),
]
