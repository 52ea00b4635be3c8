"""systemd's notification protocol (``sd_notify``), in a few lines of the standard library.

A notification is one datagram of newline-separated ``KEY=VALUE`` assignments sent to the unix
socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` names a socket in the abstract namespace).
Without that variable the daemon is not run by systemd as a notify service, and every send is a
no-op. Sending never raises: a service manager that went away must not take the daemon with it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import MutableMapping

import structlog

log = structlog.get_logger(__name__)

#: ``systemctl status`` shows one line; longer text only bloats the datagram.
MAX_STATUS_CHARS = 400


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares ``MONOTONIC_USEC=`` with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def socket_address(value: str) -> str | None:
    """The ``sendto`` address for a ``$NOTIFY_SOCKET`` value; None for kinds not handled here
    (``vsock:`` addresses, used by virtual machines, not by services on a host)."""
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def status_line(text: str) -> str:
    """One ``STATUS=`` assignment: a single line, bounded."""
    flat = " ".join(text.split())
    if len(flat) > MAX_STATUS_CHARS:
        flat = flat[: MAX_STATUS_CHARS - 3] + "..."
    return f"STATUS={flat}"


class Notifier:
    """Sends notifications to the service manager, or nothing when there is none."""

    def __init__(self, address: str | None) -> None:
        self._address = address
        self._socket: socket.socket | None = None

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """Read ``$NOTIFY_SOCKET`` and remove it, so processes the daemon starts (engine
        workers) do not believe they are the service."""
        env = os.environ if environ is None else environ
        value = env.pop("NOTIFY_SOCKET", "")
        if not value:
            return cls(None)
        address = socket_address(value)
        if address is None:
            log.warning("service.notify_socket_unsupported", notify_socket=value)
        return cls(address)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *assignments: str) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines; True if it was handed to the socket."""
        if self._address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
                self._socket.setblocking(False)
            self._socket.sendto(payload, self._address)
        except OSError as exc:
            log.warning("service.notify_failed", error=str(exc), keys=_keys(assignments))
            return False
        log.debug("service.notified", keys=_keys(assignments))
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _keys(assignments: tuple[str, ...]) -> list[str]:
    return [a.partition("=")[0] for a in assignments]


def watchdog_interval(environ: MutableMapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings: half of ``$WATCHDOG_USEC``, as systemd recommends. None
    when no watchdog is set, or when it is meant for another process (``$WATCHDOG_PID``). The
    variables are removed, like ``$NOTIFY_SOCKET``, so child processes do not inherit them."""
    env = os.environ if environ is None else environ
    usec = env.pop("WATCHDOG_USEC", "")
    pid = env.pop("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000
