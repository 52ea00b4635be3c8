"""Failover with the real embedded engines on both sides: the "cloud" is a voxgate daemon running
faster-whisper tiny.en, hibari and llama.cpp (a tiny random GGUF); the hybrid daemon's own copies
of those engines are broken (missing model files), and one is repaired while it runs."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
import soundfile

from tests.plugins.fallback_cloud.support import KEY_ENV, UPSTREAM_KEY
from tests.support.daemon import daemon_process
from tests.support.tiny_gguf import write_tiny_gguf
from tests.support.wer import word_error_rate

CLOUD_CONFIG = """\
mode: local
reload: {{watch: false}}
logging: {{level: warning}}
server: {{drain_timeout: 1}}
engines:
  whisper: {{capability: stt, engine: faster_whisper, preload: true, settings: {{model: tiny.en}}}}
  hibari: {{capability: tts, engine: hibari, preload: true, settings: {{seed: 3}}}}
  tiny: {{capability: llm, engine: llama_cpp, preload: true, settings: {{model: "{tiny}"}}}}
routes: {{stt: [whisper], tts: [hibari], llm: [tiny]}}
"""

HYBRID_CONFIG = """\
mode: hybrid
reload: {{watch: false}}
logging: {{level: warning}}
policy:
  timeout: 60
  breaker: {{failures: 1, cooldown: 2, max_cooldown: 2}}
engines:
  local_whisper: {{capability: stt, engine: faster_whisper, settings: {{model: "{missing_dir}"}}}}
  local_hibari: {{capability: tts, engine: hibari, settings: {{voice: emma}}}}
  local_llm: {{capability: llm, engine: llama_cpp, settings: {{model: "{later_gguf}"}}}}
  cloud_stt:
    capability: stt
    engine: openai_stt
    settings: {{base_url: "{cloud}/v1", api_key_env: {key_env}, model: whisper}}
  cloud_tts:
    capability: tts
    engine: openai_tts
    settings:
      base_url: "{cloud}/v1"
      api_key_env: {key_env}
      model: hibari
      voice: heart
      voices: [{{id: heart, language: en-US, gender: female}}]
  cloud_chat:
    capability: llm
    engine: openai_chat
    settings: {{base_url: "{cloud}/v1", api_key_env: {key_env}, model: tiny}}
routes:
  stt: [local_whisper, cloud_stt]
  tts: [local_hibari, cloud_tts]
  llm: [local_llm, cloud_chat]
"""

TEXT = "Please remember to bring a warm jacket and some water."


@dataclass(frozen=True)
class Gateway:
    url: str
    api: openai.OpenAI
    later_gguf: Path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("real-failover")
    tiny = write_tiny_gguf(folder / "tiny.gguf")
    cloud_config = folder / "cloud.yaml"
    cloud_config.write_text(CLOUD_CONFIG.format(tiny=tiny), encoding="utf-8")
    cloud_env = {
        "VOXGATE_DATA_DIR": str(folder / "cloud-data"),
        "VOXGATE_API_KEYS": UPSTREAM_KEY,
        "HIBARI_HOME": str(folder / "hibari-cache"),
    }
    later = folder / "models-later" / "tiny-later.gguf"
    config = folder / "hybrid.yaml"
    env = {
        "VOXGATE_DATA_DIR": str(folder / "data"),
        "HIBARI_HOME": str(folder / "hibari-cache"),
        KEY_ENV: UPSTREAM_KEY,
    }
    with daemon_process(cloud_config, env=cloud_env) as cloud:
        config.write_text(
            HYBRID_CONFIG.format(
                cloud=cloud,
                key_env=KEY_ENV,
                missing_dir=folder / "no-whisper-here",
                later_gguf=later,
            ),
            encoding="utf-8",
        )
        with (
            daemon_process(config, env=env) as url,
            openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as api,
        ):
            yield Gateway(url, api, later)


def test_speech_and_transcription_round_trip_through_the_cloud(gateway: Gateway) -> None:
    speech = gateway.api.audio.speech.with_raw_response.create(
        model="tts", voice="heart", input=TEXT, response_format="wav"
    )
    assert speech.headers["x-voxgate-engine"] == "cloud_tts"
    assert speech.headers["x-voxgate-fallback"] == "local_hibari=not_loaded"
    assert speech.headers["x-voxgate-voice"] == "heart"
    audio = speech.content
    samples, rate = soundfile.read(io.BytesIO(audio), dtype="float32")
    assert rate == 24_000
    assert 2.0 < len(samples) / rate < 8.0
    assert float(np.sqrt(np.mean(samples**2))) > 0.01

    transcript = gateway.api.audio.transcriptions.with_raw_response.create(
        model="stt", file=("speech.wav", audio, "audio/wav")
    )
    assert transcript.headers["x-voxgate-engine"] == "cloud_stt"
    assert transcript.headers["x-voxgate-fallback"] == "local_whisper=not_loaded"
    assert word_error_rate(TEXT, transcript.parse().text) < 0.2


def test_repaired_local_model_takes_the_traffic_back(gateway: Gateway) -> None:
    def served_by() -> tuple[str, str | None, str]:
        raw = gateway.api.chat.completions.with_raw_response.create(
            model="llm", messages=[{"role": "user", "content": "hi"}], max_tokens=8
        )
        text = raw.parse().choices[0].message.content or ""
        return raw.headers["x-voxgate-engine"], raw.headers.get("x-voxgate-fallback"), text

    engine, fallback, text = served_by()
    assert (engine, fallback) == ("cloud_chat", "local_llm=not_loaded")
    assert text  # the tiny model always produces printable text
    local = httpx.get(gateway.url + "/control/status", timeout=10).json()["engines"]["local_llm"]
    # A model that cannot load is not retried on every request, and never counts as a failure.
    assert local["lifecycle"] == "failed"
    assert local["breaker"]["state"] == "closed"

    # The model file appears (a download finished, a disk was mounted): no reload needed, the
    # next load attempt after the backoff finds it and the traffic moves back.
    gateway.later_gguf.parent.mkdir(parents=True, exist_ok=True)
    write_tiny_gguf(gateway.later_gguf)
    wait_for_load_retry(gateway.url, "local_llm")
    assert served_by()[:2] == ("local_llm", None)
    status = httpx.get(gateway.url + "/control/status", timeout=10).json()
    assert status["engines"]["local_llm"]["lifecycle"] == "ready"


def wait_for_load_retry(url: str, engine: str) -> None:
    """Until the engine's load backoff is over."""
    for _ in range(100):
        status = httpx.get(url + "/control/status", timeout=10).json()
        if status["engines"][engine]["load_retry_in"] == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{engine} was never retried")
