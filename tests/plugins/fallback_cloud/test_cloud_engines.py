"""Each cloud engine against a real voxgate daemon standing in for the cloud provider."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.audio.chunk import AudioChunk
from core.engines import (
    ChatMessage,
    ChatRequest,
    Engine,
    EngineContext,
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
    InvalidRequest,
    SpeechRequest,
    TranscriptionRequest,
)
from core.engines.llm import ToolCallDelta
from plugins.fallback_cloud.chat import OpenAIChatEngine, _joined
from plugins.fallback_cloud.embeddings import OpenAIEmbeddingsEngine
from plugins.fallback_cloud.http_client import environment_proxy
from plugins.fallback_cloud.stt import OpenAISTTEngine
from plugins.fallback_cloud.tts import OpenAITTSEngine
from tests.plugins.fallback_cloud.support import KEY_ENV, NoServices, QuotaProxy, serving
from tests.support.daemon import free_port

E = TypeVar("E", bound=Engine)
HELLO = ChatRequest(messages=(ChatMessage("user", "hi"),))


@contextlib.asynccontextmanager
async def loaded(cls: type[E], tmp_path: Path, base_url: str, **settings: Any) -> AsyncIterator[E]:
    context = EngineContext(
        name=f"test_{cls.__name__}",
        data_dir=tmp_path / "data",
        models_dir=tmp_path / "models",
        services=NoServices(),
    )
    values: dict[str, Any] = {"base_url": base_url + "/v1", "api_key_env": KEY_ENV, **settings}
    engine = cls(cls.Settings.model_validate(values), context)
    await engine.load()
    try:
        yield engine
    finally:
        await engine.close()


def tone(seconds: float, rate: int = 16_000) -> AudioChunk:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return AudioChunk((0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate)


# -- chat ------------------------------------------------------------------------------------


async def test_chat_streams_deltas_then_usage(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with loaded(OpenAIChatEngine, tmp_path, upstream, model="chat_ok") as engine:
        deltas = [d async for d in engine.chat(HELLO)]
    texts = [d.text for d in deltas if d.text]
    assert "".join(texts) == "cloud says hi"
    assert len(texts) == 3  # one event per word of the upstream engine: streamed, not batched
    last = deltas[-1]
    assert last.finish_reason == "stop"
    assert last.usage is not None and last.usage.completion_tokens == 3
    assert engine.model_id() == "chat_ok"


async def test_a_whole_reply_reads_the_same_in_fewer_pieces(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    whole = dataclasses.replace(HELLO, streamed=False)
    async with loaded(OpenAIChatEngine, tmp_path, upstream, model="chat_ok") as engine:
        deltas = [d async for d in engine.chat(whole)]
    texts = [d.text for d in deltas if d.text]
    assert "".join(texts) == "cloud says hi"
    assert 1 <= len(texts) <= 3
    last = deltas[-1]
    assert last.finish_reason == "stop"
    assert last.usage is not None and last.usage.completion_tokens == 3


def test_tool_call_pieces_of_one_call_are_joined() -> None:
    pieces = [
        ToolCallDelta(0, id="call_1", name="f", arguments='{"a"'),
        ToolCallDelta(0, arguments=": 1}"),
        ToolCallDelta(1, id="call_2", name="g", arguments="{"),
        ToolCallDelta(1, arguments="}"),
    ]
    assert _joined(pieces) == (
        ToolCallDelta(0, id="call_1", name="f", arguments='{"a": 1}'),
        ToolCallDelta(1, id="call_2", name="g", arguments="{}"),
    )


def test_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert environment_proxy("https://api.example.com/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.corp.example")
    assert environment_proxy("https://api.example.com/v1") == "http://proxy.internal:3128"
    assert environment_proxy("https://llm.corp.example/v1") is None
    assert environment_proxy("http://api.example.com/v1") is None


async def test_one_pooled_connection_is_reused(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with loaded(OpenAIChatEngine, tmp_path, upstream, model="chat_ok") as engine:
        for _ in range(3):
            assert [d async for d in engine.chat(HELLO)]
        session = engine._http.session
        idle = session.connector._conns  # type: ignore[union-attr]
        assert sum(len(connections) for connections in idle.values()) == 1
    assert session.closed


@pytest.mark.parametrize(
    ("settings", "kind", "words"),
    [
        pytest.param(
            {"model": "chat_slow", "read_timeout": 0.3},
            EngineTimeout,
            "stopped answering",
            id="hung-upstream-is-a-timeout",
        ),
        # voxgate routes unknown model names to its chat route, so name a model of another kind.
        pytest.param(
            {"model": "tts_ok"},
            EngineUnavailable,
            "has no model 'tts_ok'",
            id="model-missing-upstream-falls-back",
        ),
        pytest.param(
            {"model": "chat_broken"},
            EngineUpstreamError,
            "upstream 503",
            id="broken-upstream-engine-is-an-upstream-error",
        ),
    ],
)
async def test_upstream_failures_are_the_routers_kinds(
    upstream: str,
    cloud_key: str,
    tmp_path: Path,
    settings: dict[str, Any],
    kind: type[Exception],
    words: str,
) -> None:
    async with loaded(OpenAIChatEngine, tmp_path, upstream, **settings) as engine:
        with pytest.raises(kind, match=words):
            [d async for d in engine.chat(HELLO)]


async def test_bad_request_is_the_clients_problem(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with loaded(OpenAIChatEngine, tmp_path, upstream, model="chat_ok") as engine:
        bad = ChatRequest(messages=HELLO.messages, extra={"n": 1, "temperature_x": 1})
        assert [d async for d in engine.chat(bad)]  # unknown extras pass through untouched
        wrong = ChatRequest(messages=HELLO.messages, temperature=7.0)
        with pytest.raises(InvalidRequest) as caught:
            [d async for d in engine.chat(wrong)]
    assert caught.value.status == 400
    assert caught.value.param == "temperature"


# -- keys --------------------------------------------------------------------------------------


async def test_missing_key_is_unavailable_at_load(
    upstream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "  ")
    with pytest.raises(EngineUnavailable, match=f"{KEY_ENV} is not set or empty"):
        async with loaded(OpenAIChatEngine, tmp_path, upstream, model="chat_ok"):
            pass


async def test_rejected_key_is_unavailable_and_never_shown(
    upstream: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "sk-wrong-key-that-must-not-leak"
    monkeypatch.setenv(KEY_ENV, secret)
    caplog.set_level(logging.DEBUG)
    async with loaded(OpenAIChatEngine, tmp_path, upstream, model="chat_ok") as engine:
        with pytest.raises(EngineUnavailable, match="refused the credentials") as caught:
            [d async for d in engine.chat(HELLO)]
        assert secret not in repr(engine.info())
    assert secret not in str(caught.value)
    assert secret not in caplog.text


async def test_server_without_key_needs_none(upstream: str, tmp_path: Path) -> None:
    # api_key_env: null sends no key: this upstream demands one, so it refuses.
    async with loaded(
        OpenAIChatEngine, tmp_path, upstream, model="chat_ok", api_key_env=None
    ) as engine:
        with pytest.raises(EngineUnavailable, match="upstream 401"):
            [d async for d in engine.chat(HELLO)]


# -- transport failures ------------------------------------------------------------------------


async def test_refused_connection_is_unavailable(tmp_path: Path, cloud_key: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with loaded(OpenAIChatEngine, tmp_path, dead, model="chat_ok") as engine:
        with pytest.raises(EngineUnavailable, match=f"cannot reach {dead}/v1"):
            [d async for d in engine.chat(HELLO)]


async def test_a_password_in_the_base_url_is_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A gateway taking basic auth from the URL (aiohttp sends it), instead of an API key.
    port = free_port()
    caplog.set_level(logging.DEBUG)
    dead = f"http://gateway-user:gw-secret-77@127.0.0.1:{port}"
    async with loaded(
        OpenAIChatEngine, tmp_path, dead, model="chat_ok", api_key_env=None
    ) as engine:
        with pytest.raises(
            EngineUnavailable, match=f"cannot reach http://127.0.0.1:{port}/v1"
        ) as caught:
            [d async for d in engine.chat(HELLO)]
        assert "gw-secret-77" not in repr(engine.info())
    assert "gw-secret-77" not in str(caught.value)
    assert "gw-secret-77" not in caplog.text


async def test_unresolvable_host_is_unavailable(tmp_path: Path, cloud_key: str) -> None:
    async with loaded(
        OpenAIChatEngine, tmp_path, "http://cloud.invalid", model="chat_ok"
    ) as engine:
        with pytest.raises(EngineUnavailable, match=r"cannot reach http://cloud\.invalid"):
            [d async for d in engine.chat(HELLO)]


async def test_rate_limit_carries_retry_after(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    proxy = QuotaProxy(upstream, quota=0, retry_after="17")
    async with (
        serving(proxy.app()) as url,
        loaded(OpenAIEmbeddingsEngine, tmp_path, url, model="emb_ok") as engine,
    ):
        with pytest.raises(EngineRateLimited) as caught:
            await engine.embed(["hello"])
    assert caught.value.retry_after == 17.0
    assert proxy.limited == 1


# -- speech ------------------------------------------------------------------------------------


def upstream_tone() -> np.ndarray:
    """What the upstream's fake TTS sends per chunk: 0.1 s of 440 Hz at 24 kHz."""
    t = np.arange(2400, dtype=np.float32) / 24_000
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("response_format", ["pcm", "wav"])
async def test_speech_is_decoded_to_the_upstreams_samples(
    upstream: str, cloud_key: str, tmp_path: Path, response_format: str
) -> None:
    async with loaded(
        OpenAITTSEngine, tmp_path, upstream, model="tts_ok", response_format=response_format
    ) as engine:
        chunks = [c async for c in engine.synthesize(SpeechRequest(text="hello", voice="cloud-m"))]
    assert {c.sample_rate for c in chunks} == {24_000}
    audio = AudioChunk.concat(chunks).samples
    expected = np.tile(upstream_tone(), 3)
    assert len(audio) == len(expected)
    assert np.abs(audio - expected).max() < 2 / 32768  # 16-bit rounding only


async def test_unknown_voice_is_a_client_error(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with loaded(OpenAITTSEngine, tmp_path, upstream, model="tts_ok") as engine:
        with pytest.raises(InvalidRequest) as caught:
            [c async for c in engine.synthesize(SpeechRequest(text="hi", voice="nobody"))]
    assert (caught.value.status, caught.value.param) == (400, "voice")


async def test_voices_default_to_openais_and_are_configurable(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    async with loaded(OpenAITTSEngine, tmp_path, upstream, model="tts_ok") as engine:
        names = {v.id: v.gender for v in await engine.voices()}
    assert names["nova"] == "female" and names["onyx"] == "male"
    voices = [{"id": "cloud-f", "language": "en-GB", "gender": "female"}]
    async with loaded(OpenAITTSEngine, tmp_path, upstream, voices=voices) as engine:
        listed = await engine.voices()
    assert [(v.id, v.language, v.gender) for v in listed] == [("cloud-f", "en-GB", "female")]


# -- transcription -----------------------------------------------------------------------------


async def test_transcription_uploads_the_whole_clip(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    audio = tone(1.5)
    async with loaded(OpenAISTTEngine, tmp_path, upstream, model="stt_ok") as engine:
        segments = [s async for s in engine.transcribe(TranscriptionRequest(audio=audio))]
    assert " ".join(s.text for s in segments) == "cloud heard you"
    # The upstream's fake spreads its words over the audio it decoded: all 1.5 s arrived.
    assert segments[-1].end == pytest.approx(1.5, abs=0.01)
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert segments[0].language == "en"


async def test_translation_goes_to_the_translation_endpoint(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    request = TranscriptionRequest(audio=tone(0.5), task="translate")
    async with loaded(
        OpenAISTTEngine, tmp_path, upstream, model="stt_ok", response_format="json"
    ) as engine:
        segments = [s async for s in engine.transcribe(request)]
    assert [s.text for s in segments] == ["cloud heard you"]
    assert (segments[0].start, segments[0].end) == (0.0, 0.5)


# -- embeddings --------------------------------------------------------------------------------


async def test_embeddings_keep_input_order_across_batches(
    upstream: str, cloud_key: str, tmp_path: Path
) -> None:
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    async with loaded(
        OpenAIEmbeddingsEngine, tmp_path, upstream, model="emb_ok", batch_size=2
    ) as engine:
        result = await engine.embed(texts)
    # The upstream's fake puts each text's length first.
    assert [v[0] for v in result.vectors] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert result.prompt_tokens == 5


# -- TLS ---------------------------------------------------------------------------------------


def sse_chat_app() -> Starlette:
    """A server answering every chat with two streamed words."""

    async def chat(request: Request) -> Response:
        await request.body()
        events = [
            {"choices": [{"index": 0, "delta": {"content": "over"}}]},
            {"choices": [{"index": 0, "delta": {"content": " tls"}, "finish_reason": "stop"}]},
        ]
        body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return Response(body, media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@contextlib.asynccontextmanager
async def serving_tls(app: Starlette, folder: Path) -> AsyncIterator[tuple[str, Path]]:
    """Serve ``app`` over HTTPS with a certificate from a throwaway CA; yields the URL and the
    CA's file."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    key, chain, ca = folder / "key.pem", folder / "chain.pem", folder / "ca.pem"
    certificate.private_key_pem.write_to_path(str(key))
    certificate.cert_chain_pems[0].write_to_path(str(chain))
    authority.cert_pem.write_to_path(str(ca))
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_keyfile=str(key),
        ssl_certfile=str(chain),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the TLS server stopped before it started"
        await asyncio.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{port}", ca
    finally:
        server.should_exit = True
        await task


async def test_tls_server_is_verified_against_the_trusted_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with serving_tls(sse_chat_app(), tmp_path) as (url, ca):
        async with loaded(OpenAIChatEngine, tmp_path, url, api_key_env=None) as engine:
            with pytest.raises(EngineUnavailable, match="cannot reach"):
                [d async for d in engine.chat(HELLO)]
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        async with loaded(OpenAIChatEngine, tmp_path, url, api_key_env=None) as engine:
            deltas = [d async for d in engine.chat(HELLO)]
    assert "".join(d.text for d in deltas) == "over tls"
    assert deltas[-1].finish_reason == "stop"
