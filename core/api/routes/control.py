"""The control endpoint: status and reload (loopback or control token only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.context import runtime_of


async def status(request: Request) -> Response:
    return JSONResponse(runtime_of(request).status())


async def reload(request: Request) -> Response:
    result = await runtime_of(request).reload("control")
    return JSONResponse(result.as_dict(), status_code=200 if result.ok else 422)


routes = [
    Route("/control/status", status, methods=["GET"]),
    Route("/control/reload", reload, methods=["POST"]),
]
