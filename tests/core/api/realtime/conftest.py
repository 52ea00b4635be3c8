"""One real daemon for the realtime tests: Whisper tiny.en, Silero VAD, hibari and SmolLM2."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import serving
from tests.support.wer import normalized_words

CONFIG = """\
mode: local
reload: {watch: false}
logging: {level: info, format: json}
server: {drain_timeout: 2}
engines:
  whisper: {capability: stt, engine: faster_whisper, preload: true}
  silero: {capability: vad, engine: silero, preload: true}
  hibari: {capability: tts, engine: hibari, preload: true, settings: {seed: 3}}
  smollm2:
    capability: llm
    engine: llama_cpp
    preload: true
    settings: {model: smollm2-135m, n_ctx: 2048, temperature: 0, seed: 7}
routes: {stt: [whisper], tts: [hibari], llm: [smollm2], vad: [silero]}
aliases: {whisper-1: stt}
voices: {aliases: {alloy: heart}}
realtime:
  models: {gpt-realtime: default, gpt-4o-realtime-preview: default}
  profiles:
    default: {output_lead: null, max_output_tokens: 48}
    paced:
      output_lead: 0.3
      max_output_tokens: 160
      instructions: You are a storyteller. Tell long stories in many short sentences.
    phone: {output_lead: 0.3, max_output_tokens: 48, echo_guard: {enabled: true}}
"""


@dataclass(frozen=True)
class Daemon:
    url: str
    log: Path

    def transcribe(self, wav: bytes) -> str:
        response = httpx.post(
            self.url + "/v1/audio/transcriptions",
            files={"file": ("reply.wav", wav, "audio/wav")},
            data={"model": "whisper-1"},
            timeout=60,
        )
        response.raise_for_status()
        return str(response.json()["text"])


@pytest.fixture(scope="package")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    folder = tmp_path_factory.mktemp("realtime-daemon")
    with serving(folder, CONFIG) as url:
        port = url.rsplit(":", 1)[1]
        yield Daemon(url, folder / f"daemon-{port}.log")


def word_prefix(shorter: str, longer: str) -> bool:
    a, b = normalized_words(shorter), normalized_words(longer)
    return a == b[: len(a)]
