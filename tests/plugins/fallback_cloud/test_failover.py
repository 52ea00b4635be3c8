"""Hybrid failover end to end: a gateway whose local engines break is covered by the cloud, a
second voxgate daemon on loopback reached through this plugin's engines."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile

from core.runtime.runtime import Runtime
from tests.plugins.fallback_cloud.support import (
    KEY_ENV,
    QuotaProxy,
    hybrid_config,
    hybrid_runtime,
    serving,
)
from tests.support.daemon import asgi_client, free_port
from tests.support.fake_plugin import CALLS, SWITCHES

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@contextlib.asynccontextmanager
async def gateway(
    tmp_path: Path, upstream: str, **options: Any
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    config = tmp_path / "ai_backend.yaml"
    config.write_text(hybrid_config(upstream, **options), encoding="utf-8")
    async with hybrid_runtime(config) as runtime, asgi_client(runtime) as client:
        yield runtime, client


def wav_upload(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(int(16_000 * seconds)) / 16_000
    soundfile.write(buffer, 0.2 * np.sin(2 * np.pi * 300 * t), 16_000, format="WAV")
    return buffer.getvalue()


async def ask(client: httpx.AsyncClient, capability: str) -> httpx.Response:
    if capability == "llm":
        return await client.post("/v1/chat/completions", json=CHAT)
    if capability == "tts":
        return await client.post(
            "/v1/audio/speech", json={"input": "hello there", "response_format": "wav"}
        )
    if capability == "stt":
        return await client.post(
            "/v1/audio/transcriptions", files={"file": ("a.wav", wav_upload(), "audio/wav")}
        )
    return await client.post("/v1/embeddings", json={"input": ["abc"]})


def answer_of(capability: str, response: httpx.Response) -> Any:
    if capability == "llm":
        return response.json()["choices"][0]["message"]["content"]
    if capability == "tts":
        samples, rate = soundfile.read(io.BytesIO(response.content), dtype="float32")
        return rate, round(len(samples) / rate, 2)
    if capability == "stt":
        return response.json()["text"]
    return response.json()["data"][0]["embedding"][0]


CLOUD_ANSWERS: Mapping[str, Any] = {
    "llm": "cloud says hi",
    "tts": (24_000, 0.3),  # the upstream's fake: three 0.1 s chunks at 24 kHz
    "stt": "cloud heard you",
    "embeddings": 3.0,  # the upstream's fake puts the text length first
}
LOCAL = {
    "llm": "local_chat",
    "tts": "local_tts",
    "stt": "local_stt",
    "embeddings": "local_embeddings",
}
CLOUD = {
    "llm": "cloud_chat",
    "tts": "cloud_tts",
    "stt": "cloud_stt",
    "embeddings": "cloud_embeddings",
}


@pytest.mark.parametrize("capability", ["llm", "tts", "stt", "embeddings"])
async def test_broken_local_engine_is_covered_by_the_cloud(
    capability: str, upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    local = LOCAL[capability]
    async with gateway(tmp_path, upstream, local={local: "fail_load: true"}) as (runtime, client):
        response = await ask(client, capability)
        assert response.status_code == 200, response.text
        assert response.headers["x-voxgate-engine"] == CLOUD[capability]
        assert response.headers["x-voxgate-fallback"] == f"{local}=not_loaded"
        assert answer_of(capability, response) == CLOUD_ANSWERS[capability]
        status = runtime.status()["engines"]
        assert "fake model file missing" in status[local]["last_error"]
        assert status[CLOUD[capability]]["location"] == "cloud"


async def test_healthy_local_engine_keeps_the_traffic(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with gateway(tmp_path, upstream) as (runtime, client):
        response = await ask(client, "llm")
        assert response.headers["x-voxgate-engine"] == "local_chat"
        assert "x-voxgate-fallback" not in response.headers
        assert runtime.status()["engines"]["cloud_chat"]["lifecycle"] == "unloaded"


async def test_local_engine_timing_out_is_covered_then_skipped(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    SWITCHES["local_chat"] = "hang"
    async with gateway(tmp_path, upstream, timeout=0.3, failures=2, cooldown=1.0) as (
        runtime,
        client,
    ):
        for _ in range(2):
            response = await ask(client, "llm")
            assert response.headers["x-voxgate-engine"] == "cloud_chat"
            assert response.headers["x-voxgate-fallback"] == "local_chat=timeout"
        # The breaker is open: the next request goes straight to the cloud, without waiting
        # for the local engine at all.
        response = await ask(client, "llm")
        assert response.headers["x-voxgate-fallback"] == "local_chat=breaker_open"
        assert answer_of("llm", response) == "cloud says hi"
        assert CALLS["local_chat"] == 2
        breaker = runtime.status()["engines"]["local_chat"]["breaker"]
        assert breaker["state"] == "open"

        # Repaired; once the cooldown is over a half-open probe finds it healthy and the
        # traffic goes back to it on its own.
        SWITCHES["local_chat"] = "ok"
        slot = runtime.current.slots["local_chat"]
        while slot.breaker.retry_in > 0:
            await asyncio.sleep(slot.breaker.retry_in + 0.01)
        response = await ask(client, "llm")
        assert response.headers["x-voxgate-engine"] == "local_chat"
        assert "x-voxgate-fallback" not in response.headers
        assert runtime.status()["engines"]["local_chat"]["breaker"]["state"] == "closed"


async def test_local_engine_failing_mid_stream_trips_its_breaker(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    SWITCHES["local_chat"] = "crash_mid_stream"
    async with gateway(tmp_path, upstream, failures=2) as (_runtime, client):
        for _ in range(2):
            response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
            # The first token had been sent: the stream cannot change engine, it ends with an
            # error event instead of pretending the reply was complete.
            assert response.headers["x-voxgate-engine"] == "local_chat"
            events = [
                json.loads(line[6:])
                for line in response.text.splitlines()
                if line.startswith("data: {")
            ]
            assert events[-1]["error"]["code"] == "stream_interrupted"
        response = await ask(client, "llm")
        assert response.headers["x-voxgate-engine"] == "cloud_chat"
        assert response.headers["x-voxgate-fallback"] == "local_chat=breaker_open"


@pytest.mark.parametrize("capability", ["llm", "stt"])
async def test_a_whole_answer_falls_back_when_the_local_engine_fails_part_way(
    upstream: str, cloud_key: str, tmp_path: Path, capability: str
) -> None:
    """Non-streamed replies are gathered before anything is sent, so a local engine that
    breaks after its first token (or segment) hands the request to the cloud engine."""
    local = {"llm": "local_chat", "stt": "local_stt"}[capability]
    SWITCHES[local] = "crash_mid_stream"
    async with gateway(tmp_path, upstream) as (_runtime, client):
        response = await ask(client, capability)
        assert response.status_code == 200, response.text
        assert response.headers["x-voxgate-engine"] == f"cloud_{local.split('_')[1]}"
        assert response.headers["x-voxgate-fallback"] == f"{local}=failed_mid_stream"
        assert answer_of(capability, response) == CLOUD_ANSWERS[capability]


async def test_config_fix_and_reload_switch_traffic_back(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with gateway(
        tmp_path, upstream, local={"local_chat": "delay: 30"}, timeout=0.3, failures=1
    ) as (runtime, client):
        assert (await ask(client, "llm")).headers["x-voxgate-fallback"] == "local_chat=timeout"
        assert (await ask(client, "llm")).headers["x-voxgate-fallback"] == "local_chat=breaker_open"
        (tmp_path / "ai_backend.yaml").write_text(hybrid_config(upstream, timeout=0.3))
        reloaded = await client.post("/control/reload")
        assert reloaded.status_code == 200 and reloaded.json()["changed"] == ["local_chat"]
        response = await ask(client, "llm")
        assert response.headers["x-voxgate-engine"] == "local_chat"
        assert answer_of("llm", response) == "local says hi"
        # The cloud engine was unchanged by the reload: same instance, same connections.
        assert "cloud_chat" in reloaded.json()["unchanged"]
        assert runtime.status()["engines"]["cloud_chat"]["served"] == 2


async def test_cloud_down_too_gives_one_error_naming_both(cloud_key: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with gateway(tmp_path, dead, local={"local_chat": "fail_load: true"}) as (_, client):
        response = await ask(client, "llm")
    assert response.status_code == 503
    assert response.headers["x-voxgate-fallback"] == "local_chat=not_loaded, cloud_chat=unavailable"
    message = response.json()["error"]["message"]
    assert "local_chat: not_loaded (engine 'local_chat' failed to load" in message
    assert f"cloud_chat: unavailable ('cloud_chat' cannot reach {dead}/v1" in message


async def test_mode_api_uses_only_the_cloud(upstream: str, cloud_key: str, tmp_path: Path) -> None:
    async with gateway(tmp_path, upstream, mode="api") as (_runtime, client):
        for capability in ("llm", "tts", "stt", "embeddings"):
            response = await ask(client, capability)
            assert response.headers["x-voxgate-engine"] == CLOUD[capability]
            assert "x-voxgate-fallback" not in response.headers
        pinned = await client.post("/v1/chat/completions", json={**CHAT, "model": "local_chat"})
        assert pinned.status_code == 404
    assert not CALLS  # no local engine was ever asked


async def test_mode_local_never_calls_the_cloud(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    proxy = QuotaProxy(upstream)
    async with (
        serving(proxy.app()) as cloud,
        gateway(tmp_path, cloud, mode="local", local={"local_chat": "fail_load: true"}) as (
            runtime,
            client,
        ),
    ):
        response = await ask(client, "llm")
        assert response.status_code == 503
        assert response.headers["x-voxgate-fallback"] == "local_chat=not_loaded"
        assert (await ask(client, "tts")).headers["x-voxgate-engine"] == "local_tts"
        assert runtime.status()["engines"]["cloud_chat"]["lifecycle"] == "unloaded"
    assert proxy.seen == 0


@pytest.mark.parametrize(("retry_after", "held"), [("120", (110, 120)), ("3600", (280, 300))])
async def test_retry_after_holds_the_breaker_open_up_to_max_cooldown(
    upstream: str, cloud_key: str, tmp_path: Path, retry_after: str, held: tuple[float, float]
) -> None:
    proxy = QuotaProxy(upstream, quota=0, retry_after=retry_after)
    async with serving(proxy.app()) as limited:
        limited_engine = f"""\
  cloud_limited:
    capability: llm
    engine: openai_chat
    settings: {{base_url: "{limited}/v1", api_key_env: {KEY_ENV}, model: chat_ok}}
"""
        async with gateway(
            tmp_path,
            upstream,
            mode="api",
            cooldown=0.5,
            max_cooldown=300,
            extra_engines=limited_engine,
            routes="  llm: [cloud_limited, cloud_chat]\n",
        ) as (runtime, client):
            first = await ask(client, "llm")
            assert first.headers["x-voxgate-fallback"] == "cloud_limited=rate_limited"
            assert answer_of("llm", first) == "cloud says hi"
            second = await ask(client, "llm")
            assert second.headers["x-voxgate-fallback"] == "cloud_limited=breaker_open"
            breaker = runtime.status()["engines"]["cloud_limited"]["breaker"]
            # One 429 opened it (no failure count needed), for the server's Retry-After rather
            # than the configured 0.5 s cooldown, but never past max_cooldown: a provider saying
            # "come back in an hour" is asked again after 300 s.
            assert breaker["state"] == "open"
            assert held[0] < breaker["retry_in"] <= held[1]
    assert proxy.seen == 1


async def test_rate_limits_everywhere_are_a_429(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    proxy = QuotaProxy(upstream, quota=0)
    async with (
        serving(proxy.app()) as limited,
        gateway(tmp_path, limited, mode="api") as (_runtime, client),
    ):
        response = await ask(client, "llm")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "engines_overloaded"


@pytest.mark.parametrize(
    ("requested", "expected"), [("deep-m", "cloud-m"), ("warm-f", "cloud-f"), (None, None)]
)
async def test_fallback_voice_is_the_closest_one(
    requested: str | None, expected: str | None, upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with gateway(tmp_path, upstream, local={"local_tts": "fail_load: true"}) as (_, client):
        body = {"input": "hello", "response_format": "pcm", "voice": requested}
        response = await client.post("/v1/audio/speech", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["x-voxgate-engine"] == "cloud_tts"
    assert response.headers.get("x-voxgate-voice") == expected
    assert len(response.content) == 2 * 7200


async def test_voice_map_overrides_the_closest_voice(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    config = hybrid_config(upstream, local={"local_tts": "fail_load: true"})
    config = config.replace(
        "    engine: openai_tts\n", "    engine: openai_tts\n    voice_map: {deep-m: cloud-f}\n"
    )
    (tmp_path / "ai_backend.yaml").write_text(config, encoding="utf-8")
    async with hybrid_runtime(tmp_path / "ai_backend.yaml") as runtime, asgi_client(runtime) as c:
        body = {"input": "hello", "response_format": "pcm", "voice": "deep-m"}
        response = await c.post("/v1/audio/speech", json=body)
    assert response.headers["x-voxgate-voice"] == "cloud-f"


async def test_offline_edge_voice_falls_through(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    # A proxy under the reserved .invalid domain fails name resolution, as offline does.
    edge = """\
  edge:
    capability: tts
    engine: edge_tts
    settings: {proxy: "http://proxy.invalid:3128", fetch_voice_list: false}
"""
    async with gateway(
        tmp_path,
        upstream,
        local={"local_tts": "fail_load: true"},
        extra_engines=edge,
        routes="  tts: [local_tts, edge, cloud_tts]\n",
    ) as (runtime, client):
        response = await client.post(
            "/v1/audio/speech", json={"input": "hello", "response_format": "pcm"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-voxgate-engine"] == "cloud_tts"
        assert response.headers["x-voxgate-fallback"] == "local_tts=not_loaded, edge=unavailable"
        edge_status = runtime.status()["engines"]["edge"]
        assert edge_status["breaker"]["consecutive_failures"] == 1


async def test_voice_list_includes_the_cloud_voices(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with gateway(tmp_path, upstream) as (_runtime, client):
        listed = (await client.get("/v1/voices")).json()["data"]
    cloud = {v["id"]: v["gender"] for v in listed if v["engine"] == "cloud_tts"}
    assert cloud == {"cloud-f": "female", "cloud-m": "male"}
