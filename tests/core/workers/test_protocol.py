"""The frame format on both sides: blocking sockets (worker) and asyncio streams (daemon)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest

from core.workers import protocol


def test_frames_round_trip_over_a_blocking_socket() -> None:
    left, right = socket.socketpair()
    with left, right:
        payload = bytes(range(256)) * 4000  # larger than one socket buffer

        def send() -> None:
            protocol.write_message(left, {"type": "item", "id": 7, "value": {"é": [1, 2]}}, payload)
            protocol.write_message(left, {"type": "end", "id": 7})
            left.shutdown(socket.SHUT_WR)

        writer = threading.Thread(target=send)
        writer.start()
        first = protocol.read_message(right)
        second = protocol.read_message(right)
        writer.join()
        assert protocol.read_message(right) is None
    assert first is not None and second is not None
    assert first.type == "item" and first.id == 7
    assert first.header["value"] == {"é": [1, 2]}
    assert first.payload == payload
    assert second.type == "end" and second.payload == b""


async def test_frames_round_trip_over_asyncio_streams() -> None:
    left, right = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=right)
    try:
        await asyncio.to_thread(protocol.write_message, left, {"type": "result", "id": 1}, b"abc")
        message = await protocol.read_message_async(reader)
        assert message is not None
        assert (message.type, message.id, message.payload) == ("result", 1, b"abc")
        left.close()
        assert await protocol.read_message_async(reader) is None
    finally:
        writer.close()


def test_a_frame_cut_short_is_a_protocol_error() -> None:
    left, right = socket.socketpair()
    with left, right:
        frame = protocol.encode({"type": "item", "id": 1}, b"0123456789")
        left.sendall(frame[:-3])
        left.close()
        with pytest.raises(protocol.ProtocolError, match="middle of a frame"):
            protocol.read_message(right)


@pytest.mark.parametrize(
    ("prefix", "body", "match"),
    [
        (struct.pack(">II", 0, 0), b"", "bad header length"),
        (struct.pack(">II", protocol.MAX_HEADER_BYTES + 1, 0), b"", "bad header length"),
        (struct.pack(">II", 3, protocol.MAX_PAYLOAD_BYTES + 1), b"", "bad payload length"),
        (struct.pack(">II", 5, 0), b"nope!", "not JSON"),
        (struct.pack(">II", 2, 0), b"[]", "JSON object"),
    ],
)
def test_malformed_frames_are_refused(prefix: bytes, body: bytes, match: str) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(prefix + body)
        with pytest.raises(protocol.ProtocolError, match=match):
            protocol.read_message(right)


def test_oversized_headers_are_refused_before_sending() -> None:
    with pytest.raises(protocol.ProtocolError, match="over the"):
        protocol.encode({"type": "call", "params": {"text": "x" * protocol.MAX_HEADER_BYTES}})


def test_unknown_error_kinds_become_plain_errors() -> None:
    assert protocol.RequestError("weird", "m").kind == "error"
    assert protocol.RequestError("unsupported", "m").kind == "unsupported"
