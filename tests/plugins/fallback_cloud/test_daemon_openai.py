"""A real hybrid daemon process whose local engines are broken, called with the official
``openai`` client: every capability is served by the cloud (a second daemon) and says so."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
import soundfile

from tests.plugins.fallback_cloud.support import KEY_ENV, UPSTREAM_KEY, hybrid_config
from tests.support.daemon import daemon_process, serving
from tests.support.openai_speech import stream_pcm
from tests.support.plugin_dist import fake_plugin_env

BROKEN = {
    "local_chat": "fail_load: true",
    "local_tts": "fail_load: true",
    "local_stt": "fail_load: true",
    "local_embeddings": "fail_load: true",
}


def gateway_env(folder: Path) -> dict[str, str]:
    return {
        **fake_plugin_env(folder),
        "VOXGATE_DATA_DIR": str(folder / "data"),
        KEY_ENV: UPSTREAM_KEY,
    }


@pytest.fixture(scope="module")
def client(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    folder = tmp_path_factory.mktemp("hybrid-daemon")
    with (
        serving(folder, hybrid_config(upstream, local=BROKEN), env=gateway_env(folder)) as url,
        openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as api,
    ):
        yield api


def test_chat(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-voxgate-engine"] == "cloud_chat"
    assert raw.headers["x-voxgate-fallback"] == "local_chat=not_loaded"
    completion = raw.parse()
    assert completion.choices[0].message.content == "cloud says hi"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_chat_stream_passes_tokens_and_usage_through(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    assert pieces == ["cloud", " says", " hi"]
    assert usage is not None and usage.completion_tokens == 3


def test_speech_streams_pcm(client: openai.OpenAI) -> None:
    speech = stream_pcm(client, model="tts-1", voice="deep-m", text="Hello there.")
    assert speech.headers["x-voxgate-engine"] == "cloud_tts"
    assert speech.headers["x-voxgate-voice"] == "cloud-m"
    assert speech.headers["x-sample-rate"] == "24000"
    pcm = speech.samples
    assert len(pcm) == 7200  # three 0.1 s chunks from the upstream, all of them
    assert np.abs(pcm).max() > 9000  # a 0.3-amplitude tone, not silence


def test_transcription(client: openai.OpenAI) -> None:
    buffer = io.BytesIO()
    t = np.arange(16_000) / 16_000
    soundfile.write(buffer, 0.2 * np.sin(2 * np.pi * 300 * t), 16_000, format="WAV")
    raw = client.audio.transcriptions.with_raw_response.create(
        model="whisper-1", file=("clip.wav", buffer.getvalue(), "audio/wav")
    )
    assert raw.headers["x-voxgate-engine"] == "cloud_stt"
    assert raw.parse().text == "cloud heard you"


def test_embeddings(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["four", "fiver"]
    )
    assert raw.headers["x-voxgate-engine"] == "cloud_embeddings"
    vectors = [d.embedding for d in raw.parse().data]
    assert [v[0] for v in vectors] == [4.0, 5.0]


def test_breaker_then_reload_switches_back(upstream: str, tmp_path: Path) -> None:
    config = tmp_path / "ai_backend.yaml"
    config.write_text(
        hybrid_config(upstream, local={"local_chat": "delay: 30"}, timeout=0.5, failures=1)
    )
    with (
        daemon_process(config, env=gateway_env(tmp_path)) as url,
        openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as api,
    ):

        def served_by() -> tuple[str, str | None]:
            raw = api.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            return raw.headers["x-voxgate-engine"], raw.headers.get("x-voxgate-fallback")

        assert served_by() == ("cloud_chat", "local_chat=timeout")
        assert served_by() == ("cloud_chat", "local_chat=breaker_open")
        config.write_text(hybrid_config(upstream, timeout=0.5, failures=1))
        reloaded = httpx.post(url + "/control/reload", timeout=30)
        assert reloaded.status_code == 200, reloaded.text
        assert served_by() == ("local_chat", None)
