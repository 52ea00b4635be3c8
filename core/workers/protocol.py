"""The wire format between the daemon and an engine worker process.

Each message is one frame: two big-endian 32-bit lengths (header, payload), a JSON header, then
the payload bytes as they are (audio travels as raw float32 samples, never as JSON numbers).

This module uses the standard library only: it is imported on both sides, and the worker side
runs in another virtual environment where voxgate's own dependencies are not installed.

Messages (``type`` in the header):

- worker -> daemon at start: ``hello`` (pid, python, protocol version).
- daemon -> worker: ``call`` / ``stream`` (id, method, params), ``cancel`` (id), ``ping`` (id),
  ``shutdown``.
- worker -> daemon: ``result`` (id, value), ``item`` (id, value), ``end`` (id), ``error`` (id,
  kind, message, param), ``pong`` (id, busy).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

VERSION = 1
_LENGTHS = struct.Struct(">II")
MAX_HEADER_BYTES = 1 << 20
MAX_PAYLOAD_BYTES = 1 << 28

#: Error kinds a worker may report; the daemon maps them onto its engine errors.
ERROR_KINDS = ("invalid_request", "unsupported", "unavailable", "error")


class ProtocolError(Exception):
    """The other side sent something that is not a valid frame."""


class RequestError(Exception):
    """Raised by a worker's handler to fail one request with a kind the daemon understands."""

    def __init__(self, kind: str, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind if kind in ERROR_KINDS else "error"
        self.message = message
        self.param = param


@dataclass(frozen=True)
class Message:
    header: dict[str, Any]
    payload: bytes = field(default=b"", repr=False)

    @property
    def type(self) -> str:
        return str(self.header.get("type", ""))

    @property
    def id(self) -> int | None:
        value = self.header.get("id")
        return value if isinstance(value, int) else None


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {len(raw)} bytes is over the {MAX_HEADER_BYTES} limit")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES} limit"
        )
    return _LENGTHS.pack(len(raw), len(payload)) + raw + payload


def _lengths(prefix: bytes) -> tuple[int, int]:
    header_len, payload_len = _LENGTHS.unpack(prefix)
    if header_len == 0 or header_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"bad header length {header_len}")
    if payload_len > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"bad payload length {payload_len}")
    return header_len, payload_len


def _header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("header must be a JSON object with a 'type'")
    return header


# -- blocking sockets (the worker side) ------------------------------------------------------


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    """``size`` bytes, or None if the peer closed before the first byte."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = sock.recv_into(view[got:])
        if count == 0:
            if got == 0:
                return None
            raise ProtocolError("connection closed in the middle of a frame")
        got += count
    return bytes(buffer)


def read_message(sock: socket.socket) -> Message | None:
    """The next message, or None when the peer has closed the connection."""
    prefix = _recv_exactly(sock, _LENGTHS.size)
    if prefix is None:
        return None
    header_len, payload_len = _lengths(prefix)
    body = _recv_exactly(sock, header_len + payload_len)
    if body is None:
        raise ProtocolError("connection closed in the middle of a frame")
    return Message(_header(body[:header_len]), body[header_len:])


def write_message(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    sock.sendall(encode(header, payload))


# -- asyncio streams (the daemon side) --------------------------------------------------------


async def read_message_async(reader: asyncio.StreamReader) -> Message | None:
    """The next message, or None when the worker has closed the connection."""
    try:
        prefix = await reader.readexactly(_LENGTHS.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection closed in the middle of a frame") from None
        return None
    header_len, payload_len = _lengths(prefix)
    try:
        body = await reader.readexactly(header_len + payload_len)
    except asyncio.IncompleteReadError:
        raise ProtocolError("connection closed in the middle of a frame") from None
    return Message(_header(body[:header_len]), body[header_len:])
