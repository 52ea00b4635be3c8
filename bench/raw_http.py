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


def post_json(url: str, path: str, payload: dict[str, Any], timeout: float = 120.0) -> RawResponse:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    data = json.dumps(payload).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sock.sendall(request)
        raw = b""
        first: float | None = None
        head_end = -1
        while True:
            block = sock.recv(1 << 16)
            if not block:
                break
            raw += block
            if head_end < 0:
                head_end = raw.find(b"\r\n\r\n")
            if first is None and head_end >= 0 and _has_body_byte(raw, head_end + 4):
                first = time.perf_counter() - started
        total = time.perf_counter() - started
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    body = _Unchunker().feed(rest) if chunked else rest
    return RawResponse(status, headers, body, first if first is not None else total, total)


def _has_body_byte(raw: bytes, start: int) -> bool:
    """Whether a byte of body has arrived (in a chunked reply, past the first size line)."""
    rest = raw[start:]
    line_end = rest.find(b"\r\n")
    if b"chunked" not in raw[:start].lower():
        return len(rest) > 0
    return line_end >= 0 and len(rest) > line_end + 2 and rest[:line_end] != b"0"


def stream_lines(
    url: str, path: str, payload: dict[str, Any], timeout: float = 120.0
) -> Iterator[tuple[float, str]]:
    """POST ``payload`` and yield each line of the (chunked) reply body with the seconds since
    the request was sent, as it arrives: server-sent events without an HTTP library."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    data = json.dumps(payload).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sock.sendall(request)
        raw = b""
        while b"\r\n\r\n" not in raw:
            block = sock.recv(1 << 16)
            if not block:
                raise ConnectionError("the server closed the connection before answering")
            raw += block
        head, _, pending = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            raise ConnectionError(f"HTTP {status}: {pending[:300]!r}")
        chunked = b"transfer-encoding: chunked" in head.lower()
        unchunk = _Unchunker() if chunked else None
        text = b""
        while True:
            body = unchunk.feed(pending) if unchunk is not None else pending
            text += body
            if b"\n" in body:
                now = time.perf_counter() - started
                *lines, text = text.split(b"\n")
                for line in lines:
                    yield now, line.decode("utf-8").rstrip("\r")
            pending = sock.recv(1 << 16)
            if not pending:
                break
        if text:
            yield time.perf_counter() - started, text.decode("utf-8")


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
