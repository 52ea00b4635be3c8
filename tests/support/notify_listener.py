"""systemd's end of the notify protocol, for tests: a unix datagram socket that records every
notification a daemon sends, with the time it arrived."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Notification:
    #: time.monotonic() when it arrived.
    at: float
    fields: dict[str, str]

    @property
    def kind(self) -> str:
        """The first key: READY, RELOADING, STOPPING, STATUS, WATCHDOG, EXTEND_TIMEOUT_USEC."""
        return next(iter(self.fields))

    @property
    def status(self) -> str:
        return self.fields.get("STATUS", "")


class NotifyListener:
    def __init__(self, sock: socket.socket, address: str) -> None:
        self.address = address  # what goes in $NOTIFY_SOCKET
        self._socket = sock
        self._received: list[Notification] = []
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._socket.settimeout(0.1)
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            with self._changed:
                self._received.append(Notification(time.monotonic(), fields))
                self._changed.notify_all()

    @property
    def received(self) -> list[Notification]:
        with self._changed:
            return list(self._received)

    def events(self) -> list[Notification]:
        """Everything but watchdog pings and timeout extensions (which come with timing)."""
        return [n for n in self.received if n.kind not in ("WATCHDOG", "EXTEND_TIMEOUT_USEC")]

    def wait_for(
        self, match: Callable[[Notification], bool], timeout: float = 60.0, after: int = 0
    ) -> Notification:
        """The first notification from index ``after`` on that ``match``es; fails on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for note in self._received[after:]:
                    if match(note):
                        return note
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [n.fields for n in self._received]
                    raise AssertionError(f"no matching notification in {timeout}s; got {kinds}")
                self._changed.wait(left)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self._socket.close()


@contextlib.contextmanager
def notify_listener(folder: Path | None = None) -> Iterator[NotifyListener]:
    """A listener on a socket file in ``folder``, or in the abstract namespace (``@name``)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if folder is None:
        name = f"voxgate-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        address = "@" + name
    else:
        path = folder / "notify.sock"
        sock.bind(str(path))
        address = str(path)
    listener = NotifyListener(sock, address)
    try:
        yield listener
    finally:
        listener.close()
