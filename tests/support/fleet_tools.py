"""The processes beside a fleet of daemons in the tests: valkey-server and HAProxy on loopback,
as `make fleet-tools` provides them.

On Linux a missing tool fails the test with the command that installs it (never a silent skip);
elsewhere the tests are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import valkey

from tests.support.daemon import free_port

INSTALL_HINT = "run `make fleet-tools` (as root on Debian) to install valkey-server and haproxy"


def _require(name: str) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip(f"{name} is installed by `make fleet-tools` on Linux only")
    pytest.fail(f"{name} is not installed; {INSTALL_HINT}")


def valkey_server_command() -> tuple[str, dict[str, str]]:
    """valkey-server on PATH, else the one unpacked under ~/.cache (with its libraries)."""
    system = shutil.which("valkey-server")
    if system is not None:
        return system, {}
    cache = Path(os.environ.get("VOXGATE_FLEET_TOOLS", Path.home() / ".cache/voxgate/fleet-tools"))
    for binary in sorted(cache.glob("*/usr/bin/valkey-server"), reverse=True):
        root = binary.parents[2]
        libraries = sorted(root.glob("usr/lib/*/libjemalloc.so.2"))
        env = {"LD_LIBRARY_PATH": str(libraries[0].parent)} if libraries else {}
        return str(binary), env
    _require("valkey-server")
    raise AssertionError("unreachable")


def haproxy_command() -> str:
    # Debian puts it in /usr/sbin, which an unprivileged PATH may lack.
    path = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if path is None:
        _require("haproxy")
        raise AssertionError("unreachable")
    return path


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _wait_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"not listening:\n{tail}") from None
            time.sleep(0.05)


class ValkeyServer:
    """A throwaway valkey-server (no persistence) on a loopback port; ``kill()`` and ``start()``
    again on the same port, ``pause()``/``resume()`` to make it hang."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"valkey://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        binary, env = valkey_server_command()
        log = self._workdir / "valkey.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self._workdir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        _wait_port(self.port, self.process, log, 20)
        client = valkey.Valkey(port=self.port, socket_timeout=5)
        try:
            client.ping()
        finally:
            client.close()

    def client(self) -> valkey.Valkey:
        return valkey.Valkey(port=self.port, socket_timeout=5)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


HAPROXY_CONFIG = """\
global
    maxconn 512
    log stdout format raw local0 info
{stats}

defaults
    mode http
    log global
    option httplog
    option log-health-checks
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout tunnel 1h
    # A request whose daemon died (refused, reset, no answer) is sent again, to another one;
    # that needs the whole request in hand before it goes out.
    option http-buffer-request
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    option forwardfor

frontend voxgate
    bind 127.0.0.1:{port}
    default_backend daemons

backend daemons
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 300ms fall 1 rise 2
{servers}
"""


class HAProxy:
    """HAProxy in front of ``backends`` (host:port), round-robin, with health checks and
    retries to another daemon."""

    def __init__(
        self, workdir: Path, backends: Sequence[str], *, stats_socket: Path | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(
            f"    server d{index} {address} check" for index, address in enumerate(backends)
        )
        stats = f"    stats socket {stats_socket} mode 600 level admin" if stats_socket else ""
        config = workdir / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers, stats=stats))
        log = workdir / "haproxy.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [haproxy_command(), "-db", "-f", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        _wait_port(self.port, self.process, log, 20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
