"""Pure ASGI middleware, cheap on the hot path: request context, config lease, metrics, auth,
browser and proxy checks (core.api.request_guard), and abandoning work whose client left."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.api import cors
from core.api.auth import Credentials, bearer_token
from core.api.errors import error_body
from core.api.key_rate import key_rate_wait
from core.api.request_guard import RequestGuard, forwarded_for
from core.observability.metrics import Metrics
from core.runtime.runtime import Runtime

log = structlog.get_logger(__name__)

_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _open_path(path: str) -> bool:
    """Paths served without an API key: probes, and the console's static pages (a browser
    cannot send a key to load a page; the page then calls the API with the visitor's key)."""
    return path in _OPEN_PATHS or path in ("/", "/console") or path.startswith("/console/")


class GatewayMiddleware:
    """Per request: an id on every log event, a lease on the live config generation (held until
    the response body is fully sent, streams included), auth, and HTTP metrics."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._credentials: tuple[int, Credentials, RequestGuard] | None = None
        #: Metric children by label values: looking one up in prometheus_client takes a lock
        #: and builds its key each time; routes, methods and statuses are few.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _policy(self) -> tuple[Credentials, RequestGuard]:
        generation = self.runtime.current
        cached = self._credentials
        if cached is None or cached[0] != generation.number:
            config = generation.config.config
            cached = (
                generation.number,
                Credentials.from_environment(config.auth),
                RequestGuard.from_config(config.server),
            )
            self._credentials = cached
        return cached[1], cached[2]

    def _latency(self, metrics: Metrics, route: str) -> Any:
        key = (metrics.http_latency, route)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metrics.http_latency.labels(route)
        return child

    def _requests(self, metrics: Metrics, labels: tuple[str, str, str]) -> Any:
        key = (metrics.http_requests, *labels)
        child = self._children.get(key)
        if child is None:
            if len(self._children) > 4096:  # many odd methods or statuses: start over
                self._children.clear()
            child = self._children[key] = metrics.http_requests.labels(*labels)
        return child

    def credentials(self) -> Credentials:
        return self._policy()[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        # Latin-1 both ways: a client's id is echoed byte for byte, whatever bytes it holds.
        request_id = next((v.decode("latin-1") for k, v in headers if k == b"x-request-id"), None)
        request_id = (request_id or uuid.uuid4().hex[:16])[:64]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        denied = self._check_access(scope, path, headers)
        if denied is not None:
            log.warning("request.refused", path=path, reason=denied[2])
            if scope["type"] == "websocket" and not _can_answer_handshake(scope):
                await send({"type": "websocket.close", "code": 1008, "reason": denied[1][:120]})
            else:
                await _send_json(send, *denied, request_id=request_id, scope=scope)
            return
        cors_origin = self._cors_origin(scope, path, headers)
        if scope["type"] == "http" and cors.is_preflight(scope["method"], headers):
            await _send_preflight(send, cors_origin, headers, request_id=request_id)
            return
        if not _open_path(path) and not path.startswith("/control"):
            keyed = bool(self.credentials().api_keys)
            wait = await key_rate_wait(self.runtime, headers, keyed=keyed)
            if wait > 0:
                await _refuse_over_rate(scope, send, wait, request_id=request_id)
                return

        metrics = self.runtime.metrics
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                    *(cors.response_headers(cors_origin) if cors_origin else ()),
                ]
                latency = self._latency(metrics, _route_path(scope))
                latency.observe(time.perf_counter() - started)
            await send(message)

        generation = self.runtime.acquire()
        scope.setdefault("state", {})["generation"] = generation
        metrics.in_flight.inc()
        watch = _ClientWatch(receive) if scope["type"] == "http" else None
        try:
            if watch is None:
                await self.app(scope, receive, send_wrapper)
            else:
                await watch.run(self.app, scope, send_wrapper)
        finally:
            generation.release()
            metrics.in_flight.dec()
            if scope["type"] == "http":
                status = "499" if watch is not None and watch.abandoned else None
                status = status or str(status_holder["status"])
                labels = (scope["method"], _route_path(scope), status)
                self._requests(metrics, labels).inc()

    def _cors_origin(
        self, scope: Scope, path: str, headers: list[tuple[bytes, bytes]]
    ) -> str | None:
        """The origin to answer with CORS headers: a browser page allowed on the data plane."""
        origin = _header(headers, b"origin")
        if origin is None or scope["type"] != "http" or path.startswith("/control"):
            return None
        return origin if self._policy()[1].browser_origin_allowed(origin) else None

    def _check_access(
        self, scope: Scope, path: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, str, str] | None:
        credentials, guard = self._policy()
        host = _header(headers, b"host")
        if not guard.host_allowed(host):
            return (
                421,
                f"this daemon does not answer to the host name {host!r} "
                "(add it to server.allowed_hosts)",
                "host_not_allowed",
            )
        control = path.startswith("/control")
        refusal = guard.origin_refusal(
            method=scope.get("method", "GET"),
            websocket=scope["type"] == "websocket",
            control=control,
            origin=_header(headers, b"origin"),
            host=host,
        )
        if refusal is not None:
            return (403, refusal, "cross_origin_refused")
        peer = scope.get("client")
        if peer is not None:
            address = guard.client_address(peer[0], forwarded_for(headers))
            if address != peer[0]:
                scope["client"] = (address, peer[1]) if address is not None else None
        if _open_path(path) or scope.get("method") == "OPTIONS":
            return None
        client = scope.get("client")
        if control:
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


class _ClientWatch:
    """Runs a request and cancels it if the client disconnects before the response is done.

    Once the app has read the whole body, a second reader waits on ``receive``: a disconnect
    means nobody will read the answer, so the work for it (a queued chat, a long transcription)
    is cancelled and its engine freed, instead of running to the end for nobody.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._finished = False
        self.abandoned = False

    async def run(self, app: ASGIApp, scope: Scope, send: Send) -> None:
        self._task = asyncio.current_task()

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self._finished = True
            await send(message)

        try:
            await app(scope, self._receive_and_watch, tracking_send)
        except asyncio.CancelledError:
            if not self.abandoned or self._task is None:
                raise
            self._task.uncancel()
            log.info("request.abandoned", path=scope.get("path"))
        finally:
            self._finished = True
            if self._watcher is not None:
                self._watcher.cancel()

    async def _receive_and_watch(self) -> Message:
        message = await self._receive()
        if (
            self._watcher is None
            and message["type"] == "http.request"
            and not message.get("more_body", False)
        ):
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return message

    async def _watch(self) -> None:
        with contextlib.suppress(Exception):
            message = await self._receive()
            if message["type"] == "http.disconnect" and not self._finished:
                self.abandoned = True
                if self._task is not None:
                    self._task.cancel()


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
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


async def _send_preflight(
    send: Send, origin: str | None, headers: list[tuple[bytes, bytes]], *, request_id: str
) -> None:
    if origin is None:
        message = "cross-origin requests from this page are not allowed here"
        await _send_json(send, 403, message, "cross_origin_refused", request_id=request_id)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                *cors.preflight_headers(origin, headers),
                (b"x-request-id", request_id.encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _can_answer_handshake(scope: Scope) -> bool:
    """Whether a refused WebSocket handshake can get an HTTP answer with a body (the server
    supports ASGI's denial response); otherwise only a bare 403 reaches the client."""
    return "websocket.http.response" in scope.get("extensions", {})


async def _refuse_over_rate(scope: Scope, send: Send, wait: float, *, request_id: str) -> None:
    log.info("request.rate_limited", path=scope["path"], retry_after=round(wait, 3))
    if scope["type"] == "websocket" and not _can_answer_handshake(scope):
        await send({"type": "websocket.close", "code": 1013, "reason": "rate limit reached"})
        return
    message = f"rate limit reached for this API key; retry in {wait:.2f}s"
    await _send_json(
        send,
        429,
        message,
        "rate_limit_exceeded",
        request_id=request_id,
        headers=[(b"retry-after", str(max(1, math.ceil(wait))).encode())],
        scope=scope,
    )


async def _send_json(
    send: Send,
    status: int,
    message: str,
    code: str,
    *,
    request_id: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    scope: Scope | None = None,
) -> None:
    """The error as an HTTP answer; for a WebSocket handshake, the answer refusing it."""
    prefix = "websocket.http" if scope is not None and scope["type"] == "websocket" else "http"
    body = json.dumps(error_body(status, message, code=code)).encode()
    extra: list[tuple[bytes, bytes]] = list(headers or ())
    if status == 401:
        extra.append((b"www-authenticate", b'Bearer realm="voxgate"'))
    await send(
        {
            "type": f"{prefix}.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode("latin-1")),
                *extra,
            ],
        }
    )
    await send({"type": f"{prefix}.response.body", "body": body})
