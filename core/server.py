"""Running the daemon: start the runtime, then serve the app with uvicorn until a signal."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import structlog
import uvicorn

from core.api.app import create_app
from core.observability.logging import configure_logging
from core.runtime.runtime import Runtime
from core.service.activation import describe
from core.service.link import ServiceLink

log = structlog.get_logger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GatewayServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process dies "killed by
    signal". A daemon that drained cleanly should exit 0 (what systemd and launchd expect), so
    the signal is only turned into a graceful stop.

    The service link hears when the listener accepts and when a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, service: ServiceLink | None = None) -> None:
        super().__init__(config)
        self.service = service

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.service is not None:
            self.service.listening()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.service is not None:
            self.service.stopping()
        super().handle_exit(sig, frame)

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
    app = create_app(runtime)
    bind_host = host or config.server.host
    bind_port = config.server.port if port is None else port
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
        ),
        service,
    )
    if sockets:
        listen = [describe(sock) for sock in sockets]
        log.info("server.starting", sockets=listen, mode=config.mode.value)
    else:
        log.info("server.starting", host=bind_host, port=bind_port, mode=config.mode.value)
    await server.serve(sockets=sockets or None)
    log.info("server.stopped")
