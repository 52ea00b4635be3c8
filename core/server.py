"""Running the daemon: start the runtime, then serve the app with uvicorn until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Awaitable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Protocol

import structlog
import uvicorn

from core.api.app import create_app
from core.api.auth import Credentials, is_loopback
from core.api.live_sessions import LiveSessions
from core.blas_threads import one_blas_thread
from core.config.schema import ServerConfig
from core.connection_limits import ConnectionLimits, guarded_protocol, raise_fd_limit
from core.observability.logging import configure_logging
from core.observability.memory import tune_allocator
from core.runtime.runtime import Runtime
from core.service.activation import describe
from core.service.link import ServiceLink

log = structlog.get_logger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class FrontDoor(Protocol):
    """A listener beside HTTP (Wyoming) that starts and stops with the daemon."""

    def stop_accepting(self) -> None: ...

    async def stop(self, drain: float) -> None:
        """Let requests under way finish (up to ``drain`` seconds), then close; idempotent."""
        ...


class FrontDoorError(Exception):
    """A front door the configuration asks for cannot open (port taken, package missing)."""


class GatewayServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process dies "killed by
    signal". A daemon that drained cleanly should exit 0 (what systemd and launchd expect), so
    the signal is only turned into a graceful stop.

    uvicorn also closes every WebSocket at once when it stops (1012). Live sessions first get to
    finish what they heard: listeners close, sessions wind down (up to the drain time), and only
    then are the remaining connections shut.

    The service link hears when the listener accepts and when a stop signal arrives.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        service: ServiceLink | None = None,
        *,
        sessions: LiveSessions | None = None,
        drain: float = 30.0,
        front_doors: Sequence[FrontDoor] = (),
    ) -> None:
        super().__init__(config)
        self.service = service
        self._sessions = sessions
        self._drain = drain
        self._front_doors = tuple(front_doors)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.service is not None:
            self.service.listening()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.service is not None:
            self.service.stopping()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in self.servers:
            listener.close()  # no new connections while sessions wind down
        for door in self._front_doors:
            door.stop_accepting()
        winding: list[Awaitable[object]] = [door.stop(self._drain) for door in self._front_doors]
        if self._sessions is not None:
            winding.append(self._sessions.wind_down(self._drain))
        await asyncio.gather(*winding)
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def serve(
    config_path: Path,
    host: str | None = None,
    port: int | None = None,
    *,
    sockets: Sequence[socket.socket] = (),
) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting, drain in-flight requests, close engines.

    ``sockets``: listening sockets to serve on instead of binding ``host``:``port`` (socket
    activation hands them over). Under systemd the service manager is told about start,
    readiness, reloads and stop (see :mod:`core.service.link`).

    Raises :class:`core.config.ConfigError` when the file is invalid at start.
    """
    # Before any engine thread or model exists: large blocks then go back to the system on free.
    tune_allocator()
    one_blas_thread()
    service = ServiceLink.from_environment()
    try:
        await _serve(config_path, host, port, list(sockets), service)
    finally:
        service.stopping()
        await service.close()


async def _serve(
    config_path: Path,
    host: str | None,
    port: int | None,
    sockets: list[socket.socket],
    service: ServiceLink,
) -> None:
    runtime = Runtime(config_path)
    async with service.starting(runtime):
        await runtime.start()
    config = runtime.config.config
    configure_logging(config.logging.level, config.logging.format)
    front_doors = await _open_front_doors(runtime)
    try:
        await _serve_http(runtime, host, port, sockets, service, front_doors)
    finally:
        for door in front_doors:  # already stopped after a graceful shutdown; not otherwise
            await door.stop(0.0)


async def _open_front_doors(runtime: Runtime) -> list[FrontDoor]:
    settings = runtime.config.config.wyoming
    if not settings.enabled:
        return []
    try:
        # Imported only when enabled: the wyoming package is an optional extra.
        from core.wyoming.listener import WyomingListener
    except ImportError as exc:
        await runtime.shutdown(0.0)
        raise FrontDoorError(
            f"wyoming.enabled needs the wyoming package ({exc}): pip install 'voxgate[wyoming]'"
        ) from exc
    listener = WyomingListener(runtime, settings)
    try:
        await listener.start()
    except OSError as exc:
        await runtime.shutdown(0.0)
        raise FrontDoorError(
            f"the Wyoming listener cannot bind {settings.host}:{settings.port}: {exc}"
        ) from exc
    return [listener]


async def _serve_http(
    runtime: Runtime,
    host: str | None,
    port: int | None,
    sockets: list[socket.socket],
    service: ServiceLink,
    front_doors: list[FrontDoor],
) -> None:
    config = runtime.config.config
    app = create_app(runtime)
    bind_host = host or config.server.host
    bind_port = config.server.port if port is None else port
    warn_if_exposed(bind_host, Credentials.from_environment(config.auth))
    server = GatewayServer(
        uvicorn.Config(
            app,
            host=bind_host,
            port=bind_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=int(config.server.drain_timeout) or None,
            server_header=False,
            # Forwarded addresses are judged by the app (server.trusted_proxies), not uvicorn.
            proxy_headers=False,
            timeout_keep_alive=max(1, round(config.server.keep_alive_timeout)),
            http=guarded_protocol(_limits(config.server)),
        ),
        service,
        sessions=app.state.live_sessions,
        drain=config.server.drain_timeout,
        front_doors=front_doors,
    )
    # Every connection is a descriptor: room for the cap plus models, logs and sockets out.
    fd_limit = raise_fd_limit(config.server.max_connections + 256)
    where: dict[str, object] = (
        {"sockets": [describe(sock) for sock in sockets]}
        if sockets
        else {"host": bind_host, "port": bind_port}
    )
    log.info(
        "server.starting",
        **where,
        mode=config.mode.value,
        max_connections=config.server.max_connections,
        fd_limit=fd_limit,
    )
    await server.serve(sockets=sockets or None)
    log.info("server.stopped")


def _limits(server: ServerConfig) -> ConnectionLimits:
    return ConnectionLimits(
        max_connections=server.max_connections,
        header_timeout=server.header_timeout,
        body_timeout=server.body_timeout,
        max_header_bytes=server.max_header_bytes,
        send_timeout=server.send_timeout,
    )


def warn_if_exposed(host: str, credentials: Credentials) -> None:
    """Loudly: a daemon reachable from other machines without API keys serves anyone there."""
    if credentials.api_keys or is_loopback(host) or host in ("localhost", ""):
        return
    log.warning(
        "server.exposed_without_api_keys",
        host=host,
        advice="anyone who can reach this address can use every engine; set the API keys "
        "environment variable named by auth.api_keys_env (VOXGATE_API_KEYS) or bind 127.0.0.1",
    )
