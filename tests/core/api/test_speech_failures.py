"""A speech engine failing after its first audio was sent (fake engines: the API's own
handling of it)."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.types import Message

from core.api.app import create_app
from tests.support import WriteConfig
from tests.support.daemon import http_gateway
from tests.support.fake_plugin import SWITCHES
from tests.support.runtime import running_runtime

CONFIG = """\
engines:
  speaker: {capability: tts, engine: fake, settings: {voices: [heart], switch: speaker}}
routes: {tts: [speaker]}
"""
#: One chunk of the fake engine: a tenth of a second at 24 kHz as 16-bit PCM.
CHUNK_BYTES = 2400 * 2


@pytest.fixture(autouse=True)
def _crash_after_the_first_chunk() -> None:
    SWITCHES["speaker"] = "crash_mid_stream"


async def test_a_speech_event_stream_ends_with_an_error_event(write_config: WriteConfig) -> None:
    async with http_gateway(write_config(CONFIG)) as client:
        response = await client.post(
            "/v1/audio/speech",
            json={"input": "Hello there.", "stream_format": "sse", "response_format": "pcm"},
        )
    events = [json.loads(part[6:]) for part in response.text.split("\n\n") if part]
    assert [e.get("type") for e in events[:-1]] == ["speech.audio.delta"]
    error = events[-1]["error"]
    assert error["code"] == "stream_interrupted" and "mid-stream" in error["message"]


async def test_an_audio_stream_is_cut_off_without_its_last_chunk(
    write_config: WriteConfig,
) -> None:
    """No error fits in audio already sent: the response stops short of its end (the server then
    closes the connection), instead of an unhandled error after the response started."""
    body = json.dumps({"input": "Hello there.", "response_format": "pcm"}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/audio/speech",
        "raw_path": b"/v1/audio/speech",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8765"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8765),
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        if not incoming:
            await asyncio.Event().wait()  # the client stays connected
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    async with running_runtime(write_config(CONFIG)) as runtime:
        await create_app(runtime, manage_runtime=False)(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    chunks = [m for m in sent[1:] if m["type"] == "http.response.body"]
    assert sum(len(m["body"]) for m in chunks) == CHUNK_BYTES
    assert all(m["more_body"] for m in chunks)
