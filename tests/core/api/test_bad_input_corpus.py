"""A corpus of bad and odd input through the HTTP API: each gets the right 4xx, never a 5xx,
and the daemon keeps serving. Also every speech output format, decoded back."""

from __future__ import annotations

import base64
import contextlib
import json
import struct
from collections.abc import AsyncIterator

import httpx
import numpy as np
import openai
import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from core.api.app import create_app
from core.audio.decode import decode_audio
from core.audio.encode import OUTPUT_FORMATS
from core.audio.g711 import alaw_decode, ulaw_decode
from tests.support import WriteConfig
from tests.support.runtime import running_runtime

CONFIG = """\
limits: {max_request_bytes: 20000, max_speech_chars: 200, max_upload_bytes: 400000}
engines:
  brain: {capability: llm, engine: fake}
  mouth: {capability: tts, engine: fake, settings: {voices: [heart]}}
  ears: {capability: stt, engine: fake, settings: {reply: "heard you"}}
routes: {llm: [brain], tts: [mouth], stt: [ears]}
"""


@contextlib.asynccontextmanager
async def client_for(write_config: WriteConfig) -> AsyncIterator[httpx.AsyncClient]:
    async with running_runtime(write_config(CONFIG)) as runtime:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://voxgate.localhost") as c:
            yield c


def wav_header(data_size: int, riff_size: int, rate: int = 16000, bits: int = 16) -> bytes:
    block = bits // 8
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * block, block, bits)
    return (
        b"RIFF" + struct.pack("<I", riff_size) + b"WAVEfmt " + fmt
        + b"data" + struct.pack("<I", data_size)
    )  # fmt: skip


PCM = (np.sin(np.arange(8000) / 5) * 8000).astype("<i2").tobytes()

UPLOADS: dict[str, tuple[bytes, int]] = {
    "zero_length": (b"", 400),
    "text_file": (b"hello world, definitely not audio\n" * 20, 415),
    "png_magic": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, 415),
    "truncated_header": (wav_header(16000, 16036)[:30], 415),
    "header_without_samples": (wav_header(0, 36), 415),
    "zero_sample_rate": (wav_header(len(PCM), 36 + len(PCM), rate=0) + PCM, 415),
    "fake_ogg": (b"OggS" + b"\x00" * 500, 415),
    "fake_mp3": (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff" * 500, 415),
    "over_the_upload_limit": (b"\x00" * 500_000, 413),
    # Headers that lie about their size still decode what is really there.
    "huge_declared_size": (wav_header(0x7FFFFFF0, 0x7FFFFFF8) + PCM, 200),
    "truncated_samples": (wav_header(len(PCM) * 4, 36 + len(PCM) * 4) + PCM, 200),
}


@pytest.mark.parametrize("name", list(UPLOADS))
async def test_bad_uploads_get_4xx_and_the_daemon_keeps_serving(
    write_config: WriteConfig, name: str
) -> None:
    data, status = UPLOADS[name]
    async with client_for(write_config) as client:
        response = await client.post(
            "/v1/audio/transcriptions", files={"file": ("upload.wav", data, "audio/wav")}
        )
        assert response.status_code == status, response.text
        if status != 200:
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        healthy = await client.post(
            "/v1/audio/transcriptions",
            files={"file": ("ok.wav", wav_header(len(PCM), 36 + len(PCM)) + PCM, "audio/wav")},
        )
        assert healthy.json() == {"text": "heard you"}


BODIES: dict[str, tuple[bytes, str, int]] = {
    "invalid_json": (b'{"input": "hi"', "application/json", 400),
    "json_array": (b'["hi"]', "application/json", 400),
    "json_null": (b"null", "application/json", 400),
    "wrong_type_input": (b'{"input": 42}', "application/json", 400),
    "form_instead_of_json": (b"input=hi", "application/x-www-form-urlencoded", 415),
    "lone_surrogate": (b'{"input": "\\ud800 hi"}', "application/json", 400),
    "not_utf8": (b'{"input": "\xff\xfe hi"}', "application/json", 400),
    "nul_and_controls": (b'{"input": "hi\\u0000\\u0007 there"}', "application/json", 200),
    "only_zero_width": (b'{"input": "\\u200b\\u200b\\ufeff"}', "application/json", 400),
    "only_punctuation": (b'{"input": "... !? --"}', "application/json", 400),
    "emoji_rtl_cjk": ('{"input": "héllo 👋 مرحبا 你好"}'.encode(), "application/json", 200),
    "oversized_input": (b'{"input": "' + b"a" * 300 + b'"}', "application/json", 413),
    "oversized_body": (b'{"input": "hi", "pad": "' + b"x" * 30000 + b'"}', "application/json", 413),
    # More digits than Python converts to an int.
    "integer_too_long": (
        b'{"input": "hi", "speed": ' + b"9" * 5000 + b"}",
        "application/json",
        400,
    ),
    "deeply_nested": (
        b'{"input": "hi", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "application/json",
        400,
    ),
}


@pytest.mark.parametrize("name", list(BODIES))
async def test_odd_speech_bodies(write_config: WriteConfig, name: str) -> None:
    body, content_type, status = BODIES[name]
    async with client_for(write_config) as client:
        response = await client.post(
            "/v1/audio/speech",
            content=body,
            headers={"content-type": content_type},
        )
        assert response.status_code == status, response.text
        assert response.status_code < 500
        ok = await client.post("/v1/audio/speech", json={"input": "still here"})
        assert ok.status_code == 200


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
async def test_every_speech_format_through_the_openai_client(
    write_config: WriteConfig, fmt: str
) -> None:
    async with client_for(write_config) as http:
        client = openai.AsyncOpenAI(
            base_url="http://voxgate.localhost/v1", api_key="x", http_client=http, max_retries=0
        )
        response = await client.audio.speech.create(
            model="tts",
            voice="heart",
            input="Format check.",
            response_format=fmt,  # type: ignore[arg-type]
        )
        data = response.content
    # The fake speaks 3 x 0.1 s of a 440 Hz tone at 24 kHz.
    if fmt == "pcm":
        seconds = len(data) / 2 / 24000
    elif fmt == "mulaw":
        seconds = len(ulaw_decode(data)) / 8000
    elif fmt == "alaw":
        seconds = len(alaw_decode(data)) / 8000
    else:
        seconds = decode_audio(data).duration
    # Lossy codecs add priming and padding frames.
    assert seconds == pytest.approx(0.3, abs=0.1 if fmt in ("mp3", "opus", "aac") else 0.002)


async def test_speech_sse_events_through_httpx(write_config: WriteConfig) -> None:
    async with client_for(write_config) as client:
        response = await client.post(
            "/v1/audio/speech",
            json={"input": "Hello.", "response_format": "pcm", "stream_format": "sse"},
        )
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    events = [json.loads(line[6:]) for line in lines]
    assert [e["type"] for e in events][-1] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(audio) == 3 * 2400 * 2


#: JSON nested past the parser's recursion limit.
TOO_DEEP = "[" * 100_000 + "]" * 100_000
WAV = wav_header(len(PCM), 36 + len(PCM)) + PCM

TOO_LONG = "9" * 5000
TURN = {"file": ("turn.wav", WAV, "audio/wav")}
NOTES = {"file": ("notes.txt", b"some notes", "text/plain")}

JSON_FORM_FIELDS: dict[str, tuple[str, dict[str, tuple[str, bytes, str]], str, str, str]] = {
    "rag_too_deep": (
        "/v1/conversation",
        TURN,
        "rag",
        '{"collection": ' + TOO_DEEP + "}",
        "rag must be a JSON object",
    ),
    "rag_number_too_long": (
        "/v1/conversation",
        TURN,
        "rag",
        '{"top_k": ' + TOO_LONG + "}",
        "rag must be a JSON object",
    ),
    "rag_unknown_key": ("/v1/conversation", TURN, "rag", '{"colour": 1}', "rag.colour"),
    "metadata_too_deep": ("/v1/rag/documents", NOTES, "metadata", TOO_DEEP, "JSON object"),
    "metadata_number_too_long": (
        "/v1/rag/documents",
        NOTES,
        "metadata",
        '{"pages": ' + TOO_LONG + "}",
        "JSON object",
    ),
}


@pytest.mark.parametrize("name", list(JSON_FORM_FIELDS))
async def test_json_form_fields_that_cannot_be_read_are_a_400_naming_the_field(
    write_config: WriteConfig, name: str
) -> None:
    path, files, field, value, said = JSON_FORM_FIELDS[name]
    async with client_for(write_config) as client:
        response = await client.post(path, files=files, data={field: value})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == field and said in error["message"]


@contextlib.asynccontextmanager
async def live_transcription(
    write_config: WriteConfig, query: str = ""
) -> AsyncIterator[WebSocketTestSession]:
    """A live transcription socket on the fake STT engine and the real Silero detector."""
    config = CONFIG.replace("routes:", "  silero: {capability: vad, engine: silero}\nroutes:")
    config = config.replace("stt: [ears]}", "stt: [ears], vad: [silero]}")
    async with running_runtime(write_config(config), entry_points=True) as runtime:
        app = create_app(runtime, manage_runtime=False)
        with (
            TestClient(app) as client,
            client.websocket_connect(
                "/v1/audio/transcriptions/stream?sample_rate=16000" + query,
                headers={"host": "127.0.0.1:8765"},
            ) as ws,
        ):
            yield ws


async def test_a_live_transcription_text_frame_nested_too_deeply_is_an_error_event(
    write_config: WriteConfig,
) -> None:
    async with live_transcription(write_config) as ws:
        ws.send_text(TOO_DEEP)
        assert ws.receive_json()["error"]["code"] == "invalid_message"
        # Still serving: audio is taken and the end ends the session normally.
        ws.send_bytes(PCM)
        ws.send_text('{"type": "end"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        assert closed.value.code == 1000


@pytest.mark.parametrize("param", ["model", "vad"])
async def test_a_live_transcription_naming_an_unknown_model_is_refused_at_once(
    write_config: WriteConfig, param: str
) -> None:
    async with live_transcription(write_config, f"&{param}=nope") as ws:
        error = ws.receive_json()["error"]
        assert (error["code"], error["param"]) == ("model_not_found", param)
        assert "'nope' not found" in error["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008
