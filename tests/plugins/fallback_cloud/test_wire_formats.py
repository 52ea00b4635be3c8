"""What comes over the wire: error answers, Retry-After, SSE framing, and streamed PCM/WAV."""

from __future__ import annotations

import email.utils
import io
import json
import struct
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest
import soundfile

from core.engines import (
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
    InvalidRequest,
)
from plugins.fallback_cloud.audio_stream import PcmStream, WavStream
from plugins.fallback_cloud.errors import error_from_response, parse_retry_after
from plugins.fallback_cloud.sse import JsonEvents, SseParser, sse_data


def openai_error(message: str, code: str | None = None, param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "code": code, "param": param}}).encode()


def mapped(status: int, body: bytes, headers: dict[str, str] | None = None) -> Exception:
    return error_from_response("cloud", status, headers or {}, body, "gpt-x", "chat/completions")


def test_statuses_map_to_router_failure_kinds() -> None:
    assert isinstance(mapped(429, openai_error("slow down")), EngineRateLimited)
    assert isinstance(mapped(401, openai_error("bad key")), EngineUnavailable)
    assert isinstance(mapped(403, openai_error("forbidden")), EngineUnavailable)
    assert isinstance(mapped(408, b""), EngineTimeout)
    assert isinstance(mapped(500, b"oops"), EngineUpstreamError)
    assert isinstance(mapped(503, b"<html>down</html>"), EngineUpstreamError)
    invalid = mapped(400, openai_error("temperature too high", param="temperature"))
    assert isinstance(invalid, InvalidRequest)
    assert (invalid.status, invalid.param) == (400, "temperature")
    assert isinstance(mapped(422, openai_error("bad field")), InvalidRequest)


def test_missing_model_and_missing_endpoint_fall_back() -> None:
    openai_style = mapped(404, openai_error("The model `gpt-x` does not exist", "model_not_found"))
    assert isinstance(openai_style, EngineUnavailable)
    assert "has no model 'gpt-x'" in str(openai_style)
    worded = mapped(400, openai_error("The model `gpt-x` does not exist or you have no access"))
    assert isinstance(worded, EngineUnavailable)
    # A server without the route answers a bare 404: this engine cannot serve, the next may.
    no_route = mapped(404, b'{"detail": "Not Found"}')
    assert isinstance(no_route, EngineUnavailable)
    assert "does not serve chat/completions" in str(no_route)
    # A structured 404 about something else (a voice) is the client's to fix.
    voice = mapped(404, openai_error("voice 'x' not found", param="voice"))
    assert isinstance(voice, InvalidRequest) and voice.status == 404


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "999999"}) == 3600.0
    limited = mapped(429, b"", {"retry-after": "12"})
    assert isinstance(limited, EngineRateLimited) and limited.retry_after == 12.0


async def test_sse_framing() -> None:
    body = (
        b": keep-alive\n\n"
        b'data: {"a": 1}\n\n'
        b'data: {"b":\ndata: 2}\n\n'
        b"event: ignored\ndata: [DONE]\n\n"
        b'data: {"after": "done"}\n\n'
    )
    response = httpx.Response(200, content=body)
    assert [d async for d in sse_data(response)] == [
        '{"a": 1}',
        '{"b":\n2}',
        "[DONE]",
        '{"after": "done"}',
    ]
    events = JsonEvents(httpx.Response(200, content=body), "cloud")
    assert [e async for e in events] == [{"a": 1}, {"b": 2}]
    assert events.done
    broken = JsonEvents(httpx.Response(200, content=b"data: {nope\n\n"), "cloud")
    with pytest.raises(EngineUpstreamError, match="malformed"):
        [e async for e in broken]


def test_sse_parser_takes_pieces_cut_anywhere() -> None:
    body = b': hi\r\n\r\ndata: {"a": 1}\r\n\r\ndata: {"b":\r\ndata: 2}\n\ndata: [DONE]\n\n'
    for size in (1, 2, 3, 5, 7, len(body)):
        parser = SseParser()
        events = [e for i in range(0, len(body), size) for e in parser.feed(body[i : i + size])]
        assert events + parser.close() == [b'{"a": 1}', b'{"b":\n2}', b"[DONE]"]
    unfinished = SseParser()
    assert unfinished.feed(b'data: {"c": 3}\ndata: 4') == []
    assert unfinished.close() == [b'{"c": 3}\n4']


class Pieces:
    """A response body that arrives in the given reads."""

    def __init__(self, *reads: bytes) -> None:
        self.reads = reads

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for read in self.reads:
            yield read


async def test_events_that_arrive_together_come_as_one_batch() -> None:
    events = JsonEvents(
        Pieces(b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: {"c"', b": 3}\n\ndata: [DONE]\n\n"),
        "cloud",
    )
    assert [batch async for batch in events.batches()] == [[{"a": 1}, {"b": 2}], [{"c": 3}]]
    assert events.done


def pcm16(samples: np.ndarray) -> bytes:
    return (samples * 32767).round().astype("<i2").tobytes()


def test_pcm_split_anywhere_loses_nothing() -> None:
    samples = np.linspace(-0.9, 0.9, 101, dtype=np.float32)
    data = pcm16(samples)
    for cut in range(1, 12):
        stream = PcmStream(24_000)
        chunks = [stream.feed(data[i : i + cut]) for i in range(0, len(data), cut)]
        stream.finish()
        out = np.concatenate([c.samples for c in chunks if c is not None])
        assert np.array_equal(out, np.frombuffer(data, "<i2") / np.float32(32768))
    cut_short = PcmStream(24_000)
    cut_short.feed(data[:3])
    with pytest.raises(EngineUpstreamError, match="middle of a sample"):
        cut_short.finish()


def wav_file(samples: np.ndarray, rate: int, extra_chunk: bool = False) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, subtype="PCM_16", format="WAV")
    data = buffer.getvalue()
    if extra_chunk:  # a LIST chunk before the samples, as many encoders write
        fmt_end = 12 + 8 + struct.unpack("<I", data[16:20])[0]
        listing = b"LIST" + struct.pack("<I", 5) + b"INFO!" + b"\x00"
        data = data[:fmt_end] + listing + data[fmt_end:]
    return data


@pytest.mark.parametrize("extra_chunk", [False, True])
def test_wav_header_parsed_from_pieces(extra_chunk: bool) -> None:
    samples = np.linspace(-0.5, 0.5, 300, dtype=np.float32)
    data = wav_file(samples, 22_050, extra_chunk)
    for cut in (1, 7, 44, 1000):
        stream = WavStream()
        chunks = [stream.feed(data[i : i + cut]) for i in range(0, len(data), cut)]
        stream.finish()
        got = [c for c in chunks if c is not None]
        assert {c.sample_rate for c in got} == {22_050}
        out = np.concatenate([c.samples for c in got])
        assert len(out) == len(samples)
        assert np.abs(out - samples).max() < 2 / 32768  # 16-bit rounding only


def test_stereo_wav_is_mixed_down() -> None:
    left = np.full(50, 0.5, dtype=np.float32)
    stereo = np.stack([left, -left / 2], axis=1)
    stream = WavStream()
    chunk = stream.feed(wav_file(stereo, 16_000))
    stream.finish()
    assert chunk is not None and np.allclose(chunk.samples, 0.125, atol=1e-3)


def test_not_a_wav_is_the_servers_fault() -> None:
    with pytest.raises(EngineUpstreamError, match="not send a WAV"):
        WavStream().feed(b'{"error": "not audio at all"}')
    with pytest.raises(EngineUpstreamError, match="ended before its audio"):
        WavStream().finish()
