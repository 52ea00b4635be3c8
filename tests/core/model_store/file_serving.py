"""What the local hub servers share: the faults a test can switch on per file, byte ranges, and
file bodies that can be cut short to exercise resuming. The servers themselves run on
tests/support/loopback_http.py."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler


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
