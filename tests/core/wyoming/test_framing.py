"""Reading events within limits: every length is checked before its bytes are read."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.audio import AudioChunk
from wyoming.event import Event, async_write_event
from wyoming.tts import Synthesize

from core.wyoming.framing import EventReader, EventTooLarge, ProtocolViolation

LIMIT = 4096


def reader_of(data: bytes, eof: bool = True) -> EventReader:
    stream = asyncio.StreamReader(limit=LIMIT)
    stream.feed_data(data)
    if eof:
        stream.feed_eof()
    return EventReader(stream, LIMIT)


async def written(*events: Event) -> bytes:
    """The bytes the wyoming package's own writer produces for ``events``."""

    class Sink:
        def __init__(self) -> None:
            self.data = b""

        def writelines(self, lines: list[bytes]) -> None:
            self.data += b"".join(lines)

        def write(self, data: bytes) -> None:
            self.data += data

        async def drain(self) -> None:
            pass

    sink = Sink()
    for event in events:
        await async_write_event(event, sink)  # type: ignore[arg-type]
    return sink.data


async def test_reads_what_the_wyoming_writer_writes() -> None:
    chunk = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x01\x02" * 100, timestamp=5)
    speak = Synthesize(text="Ünïcode ok. 你好")
    reader = reader_of(await written(chunk.event(), speak.event()))
    first = await reader.read()
    assert first is not None and AudioChunk.from_event(first) == chunk
    second = await reader.read()
    assert second is not None and Synthesize.from_event(second) == speak
    assert await reader.read() is None


async def test_inline_data_and_separate_data_are_merged() -> None:
    extra = json.dumps({"text": "from the data part"}).encode()
    header = {"type": "synthesize", "data": {"voice": {"name": "heart"}}, "data_length": len(extra)}
    reader = reader_of(json.dumps(header).encode() + b"\n" + extra)
    event = await reader.read()
    assert event is not None
    assert event.data == {"voice": {"name": "heart"}, "text": "from the data part"}


async def test_a_client_gone_mid_event_reads_as_the_end() -> None:
    header = b'{"type": "audio-chunk", "payload_length": 100}\n'
    assert await reader_of(header + b"\x00" * 40).read() is None
    assert await reader_of(b'{"type": "desc').read() is None
    assert await reader_of(b"").read() is None


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"{}",
        b'{"type": ""}',
        b'{"type": "' + b"x" * 65 + b'"}',
        b'{"type": "x", "data": [1]}',
        b'{"type": "x", "payload_length": true}',
        b'{"type": "x", "payload_length": 1.5}',
        b'{"type": "x", "data_length": "12"}',
        b'{"type": "x", "data_length": -3}',
        b"[" * 2000 + b"]" * 2000,  # nested past the parser's recursion limit
        b"\xff\xfe{}",
    ],
)
async def test_broken_headers_are_protocol_violations(line: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        await reader_of(line + b"\n").read()


async def test_text_holding_a_lone_surrogate_is_refused_in_the_header_and_the_data() -> None:
    """Such text cannot be encoded as UTF-8: a ping echoing it, or logging an unknown type
    named with it, failed as an internal error."""
    data = b'{"text": "hi \\udfff"}'
    for raw in (
        b'{"type": "\\ud800"}\n',
        b'{"type": "ping", "data": {"text": "\\ud800"}}\n',
        b'{"type": "ping", "data_length": %d}\n' % len(data) + data,
    ):
        with pytest.raises(ProtocolViolation, match="lone UTF-16 surrogate"):
            await reader_of(raw).read()
    # A surrogate pair is one character, escaped or not.
    event = await reader_of(b'{"type": "ping", "data": {"text": "\\ud83d\\ude00"}}\n').read()
    assert event is not None and event.data == {"text": "\U0001f600"}


async def test_lengths_past_the_limit_are_refused_before_reading() -> None:
    # Nothing follows the header: refusing must not wait for the announced bytes.
    reader = reader_of(b'{"type": "audio-chunk", "payload_length": 10000000000}\n', eof=False)
    with pytest.raises(EventTooLarge):
        await asyncio.wait_for(reader.read(), 5)
    reader = reader_of(b'{"type": "x", "data_length": 3000, "payload_length": 1100}\n', eof=False)
    with pytest.raises(EventTooLarge):
        await asyncio.wait_for(reader.read(), 5)


async def test_a_header_line_past_the_limit_is_refused() -> None:
    with pytest.raises(EventTooLarge):
        await reader_of(b'{"type": "x", "data": {"t": "' + b"a" * LIMIT * 2 + b'"}}\n').read()
