"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.context import runtime_of
from core.runtime.readiness import assess


async def healthz(request: Request) -> Response:
    """The process is up and its event loop answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Every configured route has an engine that can serve (not failed, breaker not open); the
    same verdict the service manager gets as ``READY=1``. When not ready, ``reasons`` says why."""
    verdict = assess(runtime_of(request))
    return JSONResponse(
        {
            "status": "ready" if verdict.ready else "not_ready",
            "routes": verdict.routes,
            "reasons": verdict.reasons,
        },
        status_code=200 if verdict.ready else 503,
    )


async def metrics(request: Request) -> Response:
    return Response(runtime_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET", "HEAD"]),
    Route("/metrics", metrics, methods=["GET"]),
]
