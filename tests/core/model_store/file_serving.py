"""What the local hub servers share: a threaded loopback server holding the test's state, the
faults a test can switch on per file, byte ranges, and file bodies that can be cut short to
exercise resuming."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, TypeVar

S = TypeVar("S")


@dataclass(kw_only=True)
class FileFaults:
    """Switches a test flips to make one file's download go wrong."""

    #: file path -> bytes to send before dropping the connection (once).
    cut_after: dict[str, int] = field(default_factory=dict)
    #: file paths whose content is served with one byte flipped.
    corrupt: set[str] = field(default_factory=set)

    def content(self, name: str, data: bytes) -> bytes:
        """``data`` as the server sends it: with its first byte flipped if ``name`` is corrupt."""
        return bytes([data[0] ^ 0xFF]) + data[1:] if name in self.corrupt else data

    def take_cut(self, name: str) -> int | None:
        """Where to cut ``name``'s next transfer short, if anywhere; a cut happens once."""
        return self.cut_after.pop(name, None)


class StateServer(ThreadingHTTPServer, Generic[S]):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], state: S) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.state = state


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler], state: S) -> Iterator[str]:
    """Run ``handler`` with ``state`` on a free loopback port; yields its base URL."""
    server = StateServer(handler, state)
    # A short poll interval makes shutdown quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def range_start(header: str | None) -> int:
    """The first byte asked for by a ``Range: bytes=N-`` header (0 without one)."""
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", header or "")
    return int(match.group(1)) if match else 0


def send_range_headers(handler: BaseHTTPRequestHandler, size: int, start: int) -> None:
    handler.send_header("Content-Length", str(size - start))
    if start:
        handler.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")


def write_body(
    handler: BaseHTTPRequestHandler, data: bytes, start: int, cut: int | None = None
) -> None:
    """Send ``data`` from ``start``; with ``cut``, only that many bytes, then drop the
    connection as a failing network would."""
    if cut is None:
        handler.wfile.write(data[start:])
        return
    handler.wfile.write(data[start : start + cut])
    handler.wfile.flush()
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(2)
