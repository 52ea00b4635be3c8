"""Socket activation through systemd's own ``systemd-socket-activate``: it listens, starts the
daemon on the first connection and hands the socket over (LISTEN_FDS), as a .socket unit does."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.core.service.support import ServiceDaemon
from tests.support import WriteConfig
from tests.support.daemon import free_port
from tests.support.notify_listener import notify_listener
from tests.support.systemd_tools import executable

CONFIG = """\
reload: {watch: false}
engines:
  talk: {capability: llm, engine: fake, preload: true, settings: {load_delay: 0.5}}
routes: {llm: [talk]}
"""
#: systemd-socket-activate gives its child a bare environment plus what -E names.
PASSED = ("PYTHONPATH", "PYTHONUNBUFFERED", "VOXGATE_DATA_DIR", "NOTIFY_SOCKET")


def activator(port: int, *options: str) -> list[str]:
    passed = [arg for name in PASSED for arg in ("-E", name)]
    return [executable("systemd-socket-activate"), "-l", f"127.0.0.1:{port}", *options, *passed]


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_first_connection_starts_the_daemon_on_the_inherited_socket(
    write_config: WriteConfig,
) -> None:
    config = write_config(CONFIG)
    activation_port = free_port()
    with notify_listener() as listener:
        daemon = ServiceDaemon(
            config, {"NOTIFY_SOCKET": listener.address}, launcher=activator(activation_port)
        )
        try:
            deadline = time.monotonic() + 30
            while "Listening on" not in daemon.log_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            assert listener.received == []  # nothing runs until someone connects

            # This request starts the daemon; it waits in the socket's queue through the
            # preload and is answered once the daemon serves.
            reply = httpx.get(f"http://127.0.0.1:{activation_port}/readyz", timeout=60)
            assert reply.status_code == 200
            assert listener.wait_for(lambda n: n.kind == "READY").status.startswith("Ready:")
            log = daemon.log_text()
            assert "service.sockets_inherited" in log
            assert f"127.0.0.1:{activation_port}" in log
            # It served on the inherited socket instead of binding its own --port.
            assert refused(daemon.port)
            models = httpx.get(f"http://127.0.0.1:{activation_port}/v1/models", timeout=10)
            assert models.status_code == 200
        finally:
            assert daemon.stop() == 0


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ("--accept", "is a connection, not a listening socket (the .socket unit needs Accept=no)"),
        ("--datagram", "is not a stream socket (the .socket unit needs ListenStream=)"),
    ],
)
def test_sockets_the_daemon_cannot_serve_are_refused_clearly(
    write_config: WriteConfig, option: str, problem: str
) -> None:
    config = write_config(CONFIG)
    port = free_port()
    daemon = ServiceDaemon(config, {}, launcher=activator(port, option))
    try:
        deadline = time.monotonic() + 30
        while "Listening on" not in daemon.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        kind = socket.SOCK_DGRAM if option == "--datagram" else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, kind) as client:
            client.connect(("127.0.0.1", port))
            client.send(b"GET /healthz HTTP/1.0\r\n\r\n")
            deadline = time.monotonic() + 60
            while problem not in daemon.log_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        assert f"voxgate: inherited descriptor 3 {problem}" in daemon.log_text()
        if option == "--datagram":  # the daemon replaced the activator: its exit status shows
            assert daemon.process.wait(30) == 78  # EX_CONFIG: no restart loop under systemd
    finally:
        daemon.stop()
