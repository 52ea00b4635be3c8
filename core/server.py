"""Running the daemon: start the runtime, then serve the app with uvicorn until a signal."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import structlog
import uvicorn

from core.api.app import create_app
from core.observability.logging import configure_logging
from core.runtime.runtime import Runtime

log = structlog.get_logger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GatewayServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process dies "killed by
    signal". A daemon that drained cleanly should exit 0 (what systemd and launchd expect), so
    the signal is only turned into a graceful stop."""

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


async def serve(config_path: Path, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting, drain in-flight requests, close engines.

    Raises :class:`core.config.ConfigError` when the file is invalid at start.
    """
    runtime = Runtime(config_path)
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
        )
    )
    log.info("server.starting", host=bind_host, port=bind_port, mode=config.mode.value)
    await server.serve()
    log.info("server.stopped")
