"""OpenAI-shaped errors with the right status, API keys, the control guard, health and metrics."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from tests.core.api.app_client import runtime_client
from tests.support import WriteConfig
from tests.support.fake_plugin import SWITCHES

CONFIG = """\
limits: {max_request_bytes: 2000, max_speech_chars: 50, max_upload_bytes: 100000}
policy:
  timeout: 0.3
  engines:
    chat: {max_concurrency: 1, max_queue: 0}
engines:
  chat: {capability: llm, engine: fake, settings: {switch: chat, delay: 0.05}}
  speaker: {capability: tts, engine: fake, settings: {switch: tts}}
  listener: {capability: stt, engine: fake}
routes: {llm: [chat], tts: [speaker], stt: [listener]}
"""

MESSAGES = [{"role": "user", "content": "hi"}]


def client_for(
    write_config: WriteConfig, host: str = "127.0.0.1", **headers: str
) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    return runtime_client(
        write_config(CONFIG), base_url="http://voxgate.localhost", host=host, **headers
    )


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    return error  # type: ignore[no-any-return]


USER = {"role": "user", "content": "x"}
TOOL = {"type": "function", "function": {"name": "f"}}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}


@pytest.mark.parametrize(
    ("fields", "status", "param"),
    [
        ({"model": "gpt-9"}, 404, "model"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, 400, "messages.0.role"),
        ({"messages": [{"role": "user", "content": [IMAGE]}]}, 400, "messages.0.content.0.type"),
        ({"messages": [{"role": "user", "content": [AUDIO]}]}, 400, "messages.0.content.0.type"),
        # Fields of several shapes: the place in the body, never the shape ("content.str").
        (
            {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
            400,
            "messages.0.content.0.type",
        ),
        ({"stop": ["x", 1]}, 400, "stop.1"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
            400,
            "messages.0.content.0.text",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, 400, "messages.0.tool_call_id"),
        ({"functions": [{"name": "f"}]}, 400, "functions"),
        ({"function_call": "auto"}, 400, "function_call"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, 400, "audio"),
        ({"modalities": ["text", "audio"]}, 400, "modalities"),
        ({"top_logprobs": 2}, 400, "top_logprobs"),
        ({"tool_choice": "required"}, 400, "tool_choice"),
        (
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "g"}}},
            400,
            "tool_choice",
        ),
        ({"tools": [{"type": "custom", "custom": {"name": "f"}}]}, 400, "tools.0.type"),
        (
            {"tools": [{"type": "function", "function": {"name": "a b"}}]},
            400,
            "tools.0.function.name",
        ),
        ({"response_format": {"type": "xml"}}, 400, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, 400, "response_format.json_schema"),
    ],
)
async def test_chat_fields_that_cannot_be_served_are_named(
    write_config: WriteConfig, fields: dict[str, object], status: int, param: str
) -> None:
    async with client_for(write_config) as client:
        response = await client.post("/v1/chat/completions", json={"messages": [USER], **fields})
        assert_error(response, status, param)


@pytest.mark.parametrize("param", ["temperature", "top_p"])
async def test_a_sampling_value_that_is_not_a_number_says_so(
    write_config: WriteConfig, param: str
) -> None:
    # NaN was refused as "less than or equal to 2", which it is not either.
    async with client_for(write_config) as client:
        response = await client.post(
            "/v1/chat/completions", json={"messages": [USER], param: "NaN"}
        )
        error = assert_error(response, 400, param)
        assert "finite number" in error["message"]


@pytest.mark.parametrize(
    "fields",
    [
        {"stream": None, "n": None, "top_p": 0, "temperature": None, "stop": None},
        {"user": "u1", "metadata": {"a": "b"}, "store": False, "modalities": ["text"]},
        {"tool_choice": "none", "parallel_tool_calls": None, "response_format": {"type": "text"}},
    ],
)
async def test_spec_valid_nulls_and_harmless_fields_are_accepted(
    write_config: WriteConfig, fields: dict[str, object]
) -> None:
    async with client_for(write_config) as client:
        response = await client.post("/v1/chat/completions", json={"messages": [USER], **fields})
        assert response.status_code == 200, response.text
        message = response.json()["choices"][0]["message"]
        assert message["refusal"] is None
        assert message["content"]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (b'{"messages": []}', 400, "messages"),
        (b'{"messages": [{"role": "wizard", "content": "x"}]}', 400, "messages.0.role"),
        (b'{"messages": [{"role": "user", "content": "x"}], "temperature": 9}', 400, "temperature"),
        (b'{"messages": [{"role": "user", "content": "x"}], "n": 9}', 400, "n"),
        (b'{"model": "tts", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
        (b'{"messages": [{"role": "user", "content": "' + b"x" * 3000 + b'"}]}', 413, None),
    ],
)
async def test_chat_bad_requests(
    write_config: WriteConfig, body: bytes, status: int, param: str | None
) -> None:
    async with client_for(write_config) as client:
        response = await client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
        assert_error(response, status, param)
        # The daemon keeps serving.
        ok = await client.post("/v1/chat/completions", json={"messages": MESSAGES})
        assert ok.status_code == 200


async def test_wrong_content_type_is_415(write_config: WriteConfig) -> None:
    async with client_for(write_config) as client:
        response = await client.post(
            "/v1/chat/completions",
            content=b"messages=hi",
            headers={"content-type": "text/plain"},
        )
        assert_error(response, 415)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"input": "   "}, 400, "input"),
        ({"input": "x" * 51}, 413, "input"),
        ({"input": "hi", "response_format": "wma"}, 400, "response_format"),
        ({"input": "hi", "voice": "nobody"}, 400, "voice"),
        ({"input": "hi", "speed": 9}, 400, "speed"),
        ({"voice": "fake-a"}, 400, "input"),
    ],
)
async def test_speech_bad_requests(
    write_config: WriteConfig, body: dict, status: int, param: str
) -> None:
    async with client_for(write_config) as client:
        assert_error(await client.post("/v1/audio/speech", json=body), status, param)


async def test_transcription_bad_uploads(write_config: WriteConfig) -> None:
    async with client_for(write_config) as client:
        post = client.post
        assert_error(await post("/v1/audio/transcriptions", data={"model": "stt"}), 400, "file")
        assert_error(await post("/v1/audio/transcriptions", json={"file": "x"}), 415)
        files = {"file": ("a.wav", b"", "audio/wav")}
        assert_error(await post("/v1/audio/transcriptions", files=files), 400, "file")
        files = {"file": ("a.wav", b"this is not audio at all" * 10, "audio/wav")}
        assert_error(await post("/v1/audio/transcriptions", files=files), 415, "file")
        files = {"file": ("a.wav", b"\0" * 200_000, "audio/wav")}
        assert_error(await post("/v1/audio/transcriptions", files=files), 413)
        files = {"file": ("a.wav", b"RIFF", "audio/wav")}
        response = await post(
            "/v1/audio/transcriptions", files=files, data={"response_format": "xml"}
        )
        assert_error(response, 400, "response_format")


async def test_all_engines_failing_is_503_naming_them(write_config: WriteConfig) -> None:
    SWITCHES["chat"] = "fail"
    async with client_for(write_config) as client:
        response = await client.post("/v1/chat/completions", json={"messages": MESSAGES})
        error = assert_error(response, 503)
        assert "chat: unavailable" in error["message"]
        assert response.headers["x-voxgate-fallback"] == "chat=unavailable"


async def test_queue_full_is_429(write_config: WriteConfig) -> None:
    import asyncio

    async with client_for(write_config) as client:
        body = {"messages": MESSAGES}
        results = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=body) for _ in range(3))
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses[0] == 200 and 429 in statuses
        [busy, *_] = [r for r in results if r.status_code == 429]
        assert busy.headers["retry-after"] == "1"  # busy, not broken: worth a retry soon


async def test_open_breaker_tells_clients_when_to_retry(write_config: WriteConfig) -> None:
    SWITCHES["chat"] = "fail"
    async with client_for(write_config) as client:
        body = {"messages": MESSAGES}
        first = await client.post("/v1/chat/completions", json=body)
        assert "retry-after" not in first.headers  # a broken engine: no promise
        for _ in range(2):
            await client.post("/v1/chat/completions", json=body)
        cooling = await client.post("/v1/chat/completions", json=body)
        error = assert_error(cooling, 503)
        assert "breaker_open" in cooling.headers["x-voxgate-fallback"]
        assert 1 <= int(cooling.headers["retry-after"]) <= 30, error


async def test_api_keys(write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXGATE_API_KEYS", "k-one, k-two")
    async with client_for(write_config) as client:
        body = {"messages": MESSAGES}
        missing = await client.post("/v1/chat/completions", json=body)
        assert_error(missing, 401)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": "Bearer k-three"}
        )
        assert_error(wrong, 401)
        right = await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": "Bearer k-two"}
        )
        assert right.status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_control_needs_loopback_or_token(
    write_config, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    async with client_for(write_config, host="192.0.2.7") as client:
        assert_error(await client.get("/control/status"), 403)
        assert (await client.get("/v1/models")).status_code == 200
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN", "s3cret")
    async with client_for(write_config, host="192.0.2.7") as client:
        assert_error(
            await client.get("/control/status", headers={"x-voxgate-control-token": "nope"}), 403
        )
        response = await client.get(
            "/control/status", headers={"x-voxgate-control-token": "s3cret"}
        )
        assert response.status_code == 200
        assert "s3cret" not in response.text
    async with client_for(write_config) as client:
        assert (await client.get("/control/status")).status_code == 200


async def test_health_readiness_and_metrics(write_config: WriteConfig) -> None:
    async with client_for(write_config) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["routes"]["llm"] is True
        await client.post("/v1/chat/completions", json={"messages": MESSAGES})
        SWITCHES["chat"] = "fail"
        for _ in range(3):
            await client.post("/v1/chat/completions", json={"messages": MESSAGES})
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["routes"]["llm"] is False
        metrics = (await client.get("/metrics")).text
        assert 'voxgate_requests_total{capability="llm",engine="chat",outcome="ok"} 1.0' in metrics
        assert 'voxgate_breaker_trips_total{engine="chat"} 1.0' in metrics
        assert "voxgate_http_request_seconds_bucket" in metrics
        status = (await client.get("/control/status")).json()
        assert status["engines"]["chat"]["state"] == "breaker_open"
        assert status["routes"]["llm"]["ready"] is False


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/control/reload", "POST"),
        ("PUT", "/control/status", "GET, HEAD"),
        ("DELETE", "/v1/chat/completions", "POST"),
        ("POST", "/healthz", "GET, HEAD"),
    ],
)
async def test_a_method_a_route_does_not_take_is_405_naming_those_it_does(
    write_config: WriteConfig, method: str, path: str, allowed: str
) -> None:
    async with client_for(write_config) as client:
        response = await client.request(method, path)
        assert_error(response, 405)
        assert set(response.headers["allow"].split(", ")) == set(allowed.split(", "))


async def test_request_id_is_echoed(write_config: WriteConfig) -> None:
    async with client_for(write_config) as client:
        response = await client.get("/healthz", headers={"x-request-id": "abc123"})
        assert response.headers["x-request-id"] == "abc123"
        # Bytes beyond ASCII come back as they were sent, not re-encoded.
        odd = await client.get("/healthz", headers={"x-request-id": b"caf\xe9-\xff"})
        assert (b"x-request-id", b"caf\xe9-\xff") in odd.headers.raw
        refused = await client.get("/v1/models", headers={"x-request-id": b"\xe9", "host": "x"})
        assert (b"x-request-id", b"\xe9") in refused.headers.raw
        assert len((await client.get("/healthz")).headers["x-request-id"]) == 16
