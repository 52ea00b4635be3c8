"""Pure ASGI middleware, cheap on the hot path: request context, config lease, metrics, auth."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.api.auth import Credentials, bearer_token
from core.api.errors import error_body
from core.runtime.runtime import Runtime

_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class GatewayMiddleware:
    """Per request: an id on every log event, a lease on the live config generation (held until
    the response body is fully sent, streams included), auth, and HTTP metrics."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._credentials: tuple[int, Credentials] | None = None

    def credentials(self) -> Credentials:
        generation = self.runtime.current
        cached = self._credentials
        if cached is None or cached[0] != generation.number:
            cached = (
                generation.number,
                Credentials.from_environment(generation.config.config.auth),
            )
            self._credentials = cached
        return cached[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        request_id = next((v.decode("latin-1") for k, v in headers if k == b"x-request-id"), None)
        request_id = (request_id or uuid.uuid4().hex[:16])[:64]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        denied = self._check_access(scope, path, headers)
        if denied is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": denied[1][:120]})
            else:
                await _send_json(send, *denied, request_id=request_id)
            return

        metrics = self.runtime.metrics
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
                route = _route_path(scope)
                metrics.http_latency.labels(route).observe(time.perf_counter() - started)
            await send(message)

        generation = self.runtime.acquire()
        scope.setdefault("state", {})["generation"] = generation
        metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            generation.release()
            metrics.in_flight.dec()
            if scope["type"] == "http":
                metrics.http_requests.labels(
                    scope["method"], _route_path(scope), str(status_holder["status"])
                ).inc()

    def _check_access(
        self, scope: Scope, path: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, str, str] | None:
        if path in _OPEN_PATHS or scope.get("method") == "OPTIONS":
            return None
        credentials = self.credentials()
        client = scope.get("client")
        if path.startswith("/control"):
            token = _control_token(headers)
            if not credentials.control_ok(client[0] if client else None, token):
                return (
                    403,
                    "control endpoints accept loopback clients or a valid control token",
                    ("control_forbidden"),
                )
            return None
        if not credentials.key_ok(bearer_token(headers)):
            return (
                401,
                "missing or invalid API key (send 'Authorization: Bearer <key>')",
                ("invalid_api_key"),
            )
        return None


def _control_token(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"x-voxgate-control-token":
            return value.strip()
    return bearer_token(headers)


def _route_path(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "other"


async def _send_json(send: Send, status: int, message: str, code: str, *, request_id: str) -> None:
    body = json.dumps(error_body(status, message, code=code)).encode()
    extra: list[tuple[bytes, bytes]] = []
    if status == 401:
        extra.append((b"www-authenticate", b'Bearer realm="voxgate"'))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
