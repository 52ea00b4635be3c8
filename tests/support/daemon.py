"""Building runtimes and apps for tests, in-process (ASGI) or as real daemons on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import httpx

from core.api.app import create_app
from core.runtime.runtime import Runtime
from tests.support.runtime import fake_catalog_factory, running_runtime

__all__ = ["asgi_client", "daemon_process", "fake_catalog_factory", "free_port", "running_runtime"]


@contextlib.asynccontextmanager
async def asgi_client(runtime: Runtime, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://voxgate.localhost", headers=headers, timeout=30
    ) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: a test run that dies (a crash, a kill) takes its daemons along
    instead of leaving them serving on loopback."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@contextlib.contextmanager
def daemon_process(
    config: Path, *, env: Mapping[str, str] | None = None, startup_timeout: float = 120.0
) -> Iterator[str]:
    """Run ``voxgate serve`` as a real process on a free loopback port; yields its base URL."""
    port = free_port()
    log_path = config.parent / f"daemon-{port}.log"
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "core.cli.main",
                "serve",
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"daemon exited early:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"daemon did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.1)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
