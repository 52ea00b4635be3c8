"""The notify protocol's pieces in process: addresses, the environment, no-op without systemd."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

from core.service.activation import inherited_sockets
from core.service.notify import Notifier, socket_address, status_line, watchdog_interval


def receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_sends_to_a_socket_file_and_takes_the_variable_away(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    env = {"NOTIFY_SOCKET": path, "OTHER": "kept"}
    with receiver(path) as sock:
        notifier = Notifier.from_environment(env)
        assert env == {"OTHER": "kept"}  # engine workers started later must not inherit it
        assert notifier.send("READY=1", status_line("Ready:\n  all good"))
        assert sock.recv(4096) == b"READY=1\nSTATUS=Ready: all good"
        notifier.close()


def test_sends_to_the_abstract_namespace() -> None:
    name = f"voxgate-test-{uuid.uuid4().hex}"
    with receiver("\0" + name) as sock:
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": "@" + name})
        assert notifier.send("WATCHDOG=1")
        assert sock.recv(4096) == b"WATCHDOG=1"
        notifier.close()


def test_without_a_manager_nothing_is_sent() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert notifier.send("READY=1") is False
    assert socket_address("vsock:2:1234") is None  # not a unix socket: left alone
    assert not Notifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


def test_a_vanished_manager_never_raises(tmp_path: Path) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert notifier.send("READY=1") is False


def test_status_is_one_bounded_line() -> None:
    assert status_line("a\nb\tc") == "STATUS=a b c"
    long = status_line("x" * 1000)
    assert len(long) == len("STATUS=") + 400 and long.endswith("...")


def test_watchdog_interval_is_half_and_only_for_this_process() -> None:
    env = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(env) == 15.0
    assert env == {}
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({}) is None


def test_listen_fds_for_another_process_are_not_taken() -> None:
    env = {"LISTEN_FDS": "1", "LISTEN_PID": "1", "LISTEN_FDNAMES": "voxgate.socket"}
    assert inherited_sockets(env) == []
    assert env == {}  # and not passed on either
    assert inherited_sockets({}) == []
