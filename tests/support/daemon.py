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
import openai

from core.api.app import create_app
from core.runtime.runtime import Runtime
from tests.support.runtime import fake_catalog_factory, running_runtime

__all__ = [
    "Daemon",
    "asgi_client",
    "asgi_openai",
    "daemon_process",
    "fake_catalog_factory",
    "free_port",
    "http_gateway",
    "openai_gateway",
    "running_runtime",
    "serve_command",
    "serving",
]


@contextlib.asynccontextmanager
async def asgi_client(runtime: Runtime, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://voxgate.localhost", headers=headers, timeout=30
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def asgi_openai(runtime: Runtime, **headers: str) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official ``openai`` client, talking to ``runtime``'s app in process."""
    async with asgi_client(runtime, **headers) as http:
        yield openai.AsyncOpenAI(
            base_url="http://voxgate.localhost/v1",
            api_key="unused",
            http_client=http,
            max_retries=0,
        )


@contextlib.asynccontextmanager
async def openai_gateway(config: Path, **headers: str) -> AsyncIterator[openai.AsyncOpenAI]:
    """A runtime of the fake plugin serving ``config``, and the ``openai`` client talking to it
    in process."""
    async with running_runtime(config) as runtime, asgi_openai(runtime, **headers) as client:
        yield client


@contextlib.asynccontextmanager
async def http_gateway(config: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The same with a plain HTTP client."""
    async with running_runtime(config) as runtime, asgi_client(runtime) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(config: Path, port: int | None = None, *args: str) -> list[str]:
    """The command line of ``voxgate serve`` for ``config`` from this checkout, on ``port`` when
    one is given (tests and benchmarks start their daemons with it)."""
    command = [sys.executable, "-m", "core.cli.main", "serve", "--config", str(config)]
    if port is not None:
        command += ["--port", str(port)]
    return [*command, *args]


def _die_with_parent() -> None:
    """In the child before exec: a test run that dies (a crash, a kill) takes its daemons along
    instead of leaving them serving on loopback."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Daemon:
    """``voxgate serve`` as a real process on a free loopback port, dying with the test run.

    ``url`` is its base URL once it answers ``/healthz``; ``process`` the child (its pid for
    memory readings); ``stop()`` sends SIGTERM and returns the exit code."""

    def __init__(
        self,
        config: Path,
        env: Mapping[str, str] | None = None,
        *,
        log: Path | None = None,
        startup_timeout: float = 180.0,
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Beside the config by default (a test's temp folder); callers serving a config that
        # lives in the checkout pass ``log`` so nothing is written into it.
        self.log = log or config.parent / f"daemon-{self.port}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                serve_command(config, self.port, "--host", "127.0.0.1", *args),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=full_env,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        try:
            self._wait_healthy(startup_timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited early:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"daemon did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def rss_bytes(self) -> int:
        """Resident memory now (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/statm").read_text().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def daemon_process(
    config: Path, *, env: Mapping[str, str] | None = None, startup_timeout: float = 120.0
) -> Iterator[str]:
    """Run ``voxgate serve`` as a real process on a free loopback port; yields its base URL."""
    daemon = Daemon(config, env, startup_timeout=startup_timeout)
    try:
        yield daemon.url
    finally:
        daemon.stop()


@contextlib.contextmanager
def serving(
    folder: Path,
    config: str,
    *,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 120.0,
) -> Iterator[str]:
    """``config`` (YAML text) written to ``folder/ai_backend.yaml`` and served by a real daemon
    whose data directory is ``folder/data`` unless ``env`` names another; yields its base URL."""
    path = folder / "ai_backend.yaml"
    path.write_text(config, encoding="utf-8")
    full_env = {"VOXGATE_DATA_DIR": str(folder / "data"), **(env or {})}
    with daemon_process(path, env=full_env, startup_timeout=startup_timeout) as url:
        yield url
