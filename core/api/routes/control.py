"""The control endpoint: status and reload (loopback or control token only).

``GET /control/status`` adds each loaded engine's own health probe to its status (``health``:
``ok`` and ``detail``); engines that are not loaded are not probed.

``POST /control/reload?fleet=true`` reloads this daemon and asks every other daemon sharing its
state store to reload its own config file, answering with what each one said.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.context import runtime_of


async def status(request: Request) -> Response:
    runtime = runtime_of(request)
    health = await runtime.engine_health()
    body = runtime.status()
    for name, engine in body["engines"].items():
        engine["health"] = health.get(name)
    return JSONResponse(body)


#: How long a fleet reload waits for the other daemons' answers.
_FLEET_WAIT_SECONDS = 30.0


async def reload(request: Request) -> Response:
    runtime = runtime_of(request)
    result = await runtime.reload("control")
    body = result.as_dict()
    if request.query_params.get("fleet", "").lower() in ("1", "true", "yes"):
        body["fleet"] = await runtime.state.reload_fleet(_FLEET_WAIT_SECONDS)
    return JSONResponse(body, status_code=200 if result.ok else 422)


routes = [
    Route("/control/status", status, methods=["GET"]),
    Route("/control/reload", reload, methods=["POST"]),
]
