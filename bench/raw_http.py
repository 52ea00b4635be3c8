"""A bare HTTP/1.1 client on a socket, for timing the daemon rather than an HTTP library.

httpx spends a millisecond or more of its own per request on two shared cores; against engines
that answer in 20-40 ms that alone moves a daemon/direct ratio by several percent. This client
sends one request per connection and times the first body byte and the end of the body.
"""

from __future__ import annotations

import json
import socket
import time
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
    body = _dechunk(rest) if chunked else rest
    return RawResponse(status, headers, body, first if first is not None else total, total)


def _has_body_byte(raw: bytes, start: int) -> bool:
    """Whether a byte of body has arrived (in a chunked reply, past the first size line)."""
    rest = raw[start:]
    line_end = rest.find(b"\r\n")
    if b"chunked" not in raw[:start].lower():
        return len(rest) > 0
    return line_end >= 0 and len(rest) > line_end + 2 and rest[:line_end] != b"0"


def _dechunk(data: bytes) -> bytes:
    body = bytearray()
    position = 0
    while True:
        line_end = data.index(b"\r\n", position)
        size = int(data[position:line_end].split(b";")[0], 16)
        if size == 0:
            return bytes(body)
        start = line_end + 2
        body += data[start : start + size]
        position = start + size + 2
