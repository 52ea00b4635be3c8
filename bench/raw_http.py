"""A bare HTTP/1.1 client on a socket, for timing the daemon rather than an HTTP library.

httpx spends a millisecond or more of its own per request on two shared cores; against engines
that answer in 20-40 ms that alone moves a daemon/direct ratio by several percent. This client
sends one request per connection and times the first body byte and the end of the body.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Seconds from sending the request to the first byte of the body.
    first_byte: float
    #: Seconds from sending the request to the end of the body.
    total: float


class _Exchange:
    """One POST on its own connection: status and headers read, the body still to come."""

    def __init__(self, url: str, path: str, payload: dict[str, Any], timeout: float) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        data = json.dumps(payload).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        ).encode() + data
        self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.started = time.perf_counter()
        self._sock.sendall(request)
        raw = b""
        while b"\r\n\r\n" not in raw:
            block = self._sock.recv(1 << 16)
            if not block:
                self.close()
                raise ConnectionError("the server closed the connection before answering")
            raw += block
        head, _, self._pending = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }

    def body(self) -> Iterator[tuple[float, bytes]]:
        """The body as it arrives (chunked encoding undone), each piece with the seconds since
        the request was sent."""
        chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        unchunk = _Unchunker() if chunked else None
        block = self._pending
        while True:
            piece = unchunk.feed(block) if unchunk is not None else block
            if piece:
                yield time.perf_counter() - self.started, piece
            block = self._sock.recv(1 << 16)
            if not block:  # the server closes the connection after the body
                return

    def close(self) -> None:
        self._sock.close()


def post_json(url: str, path: str, payload: dict[str, Any], timeout: float = 120.0) -> RawResponse:
    exchange = _Exchange(url, path, payload, timeout)
    try:
        first: float | None = None
        body = b""
        for seconds, piece in exchange.body():
            first = seconds if first is None else first
            body += piece
        total = time.perf_counter() - exchange.started
    finally:
        exchange.close()
    return RawResponse(exchange.status, exchange.headers, body, first or total, total)


def stream_lines(
    url: str, path: str, payload: dict[str, Any], timeout: float = 120.0
) -> Iterator[tuple[float, str]]:
    """POST ``payload`` and yield each line of the reply body with the seconds since the request
    was sent, as it arrives: server-sent events without an HTTP library."""
    exchange = _Exchange(url, path, payload, timeout)
    try:
        if exchange.status != 200:
            raise ConnectionError(f"HTTP {exchange.status}")
        text = b""
        for seconds, piece in exchange.body():
            *lines, text = (text + piece).split(b"\n")
            for line in lines:
                yield seconds, line.decode("utf-8").rstrip("\r")
        if text:
            yield time.perf_counter() - exchange.started, text.decode("utf-8")
    finally:
        exchange.close()


class _Unchunker:
    """Undoes chunked transfer encoding across arbitrary read boundaries."""

    def __init__(self) -> None:
        self._buffer = b""
        self._left = 0  # payload bytes still due in the current chunk
        self._crlf = False  # the CRLF closing a chunk's payload is still due
        self._done = False

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        while not self._done:
            if self._left:
                take = min(self._left, len(self._buffer))
                out += self._buffer[:take]
                self._buffer = self._buffer[take:]
                self._left -= take
                if self._left:
                    break
                self._crlf = True
            elif self._crlf:
                if len(self._buffer) < 2:
                    break
                self._buffer = self._buffer[2:]
                self._crlf = False
            else:
                line_end = self._buffer.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(self._buffer[:line_end].split(b";")[0], 16)
                self._buffer = self._buffer[line_end + 2 :]
                self._done = size == 0
                self._left = size
        return bytes(out)
