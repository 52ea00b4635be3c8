"""Socket activation: listening sockets handed over by systemd (or ``systemd-socket-activate``).

The protocol: descriptors 3, 4, ... are open listening sockets, ``$LISTEN_FDS`` says how many,
``$LISTEN_PID`` names the process they are for and ``$LISTEN_FDNAMES`` optionally names them.
The daemon then serves on those sockets instead of binding its own, so the manager can open the
port before the daemon runs (or while it restarts) and queue the first connections.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

import structlog

log = structlog.get_logger(__name__)

#: The first inherited descriptor (after stdin, stdout and stderr).
LISTEN_FDS_START = 3


class ActivationError(Exception):
    """The inherited descriptors are not sockets the daemon can serve on."""


def inherited_sockets(environ: MutableMapping[str, str] | None = None) -> list[socket.socket]:
    """The listening sockets passed to this process; empty when none were.

    The variables are removed once read so that child processes (engine workers) do not take
    the sockets for theirs, and the descriptors are made close-on-exec for the same reason.
    """
    env = os.environ if environ is None else environ
    pid = env.pop("LISTEN_PID", "")
    count = env.pop("LISTEN_FDS", "")
    names = env.pop("LISTEN_FDNAMES", "")
    if not count:
        return []
    if not pid.isdigit() or int(pid) != os.getpid():
        # Meant for another process (the variables leaked through an exec): not ours to use.
        log.warning("service.listen_fds_not_ours", listen_pid=pid)
        return []
    if not count.isdigit() or int(count) == 0:
        raise ActivationError(f"LISTEN_FDS={count!r} is not a positive number of descriptors")
    last = LISTEN_FDS_START + int(count)
    sockets = [_listening_socket(fd) for fd in range(LISTEN_FDS_START, last)]
    log.info(
        "service.sockets_inherited",
        sockets=[describe(s) for s in sockets],
        names=names.split(":") if names else [],
    )
    return sockets


def _listening_socket(fd: int) -> socket.socket:
    try:
        os.set_inheritable(fd, False)
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ActivationError(f"inherited descriptor {fd} is not a socket: {exc}") from exc
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise ActivationError(
            f"inherited descriptor {fd} is not a stream socket "
            "(the .socket unit needs ListenStream=)"
        )
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise ActivationError(
            f"inherited descriptor {fd} is a connection, not a listening socket "
            "(the .socket unit needs Accept=no)"
        )
    return sock


def describe(sock: socket.socket) -> str:
    """``127.0.0.1:8765``, ``[::1]:8765`` or a unix socket path, for logs and status."""
    name = sock.getsockname()
    if sock.family == socket.AF_INET6:
        return f"[{name[0]}]:{name[1]}"
    if sock.family == socket.AF_INET:
        return f"{name[0]}:{name[1]}"
    if isinstance(name, bytes):  # abstract unix socket
        return "@" + name[1:].decode(errors="replace")
    return str(name)
