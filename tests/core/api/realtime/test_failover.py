"""A TTS engine that dies in the middle of a reply is replaced at once by the next engine of the
chain (real hibari here), which speaks the broken sentence again and the rest of the reply in the
closest voice; the session goes on. The dying engine is a fake (tests/support/realtime_fakes.py);
so is the language model, which must give a reply of several sentences."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.audio.chunk import AudioChunk
from tests.support.daemon import daemon_process
from tests.support.plugin_dist import REPO_ROOT, write_dist_info
from tests.support.realtime import PCM_RATE, connect, decode_output, wav
from tests.support.wer import word_error_rate

SENTENCES = (
    "The sun is a star.",
    "It gives us light and warmth every day.",
    "Plants need it to grow.",
)
CONFIG = f"""\
mode: local
reload: {{watch: false}}
logging: {{level: info, format: json}}
server: {{drain_timeout: 1}}
engines:
  whisper: {{capability: stt, engine: faster_whisper, preload: true}}
  silero: {{capability: vad, engine: silero, preload: true}}
  dying: {{capability: tts, engine: dying, settings: {{sentences: 1}}}}
  hibari: {{capability: tts, engine: hibari, preload: true, settings: {{seed: 3}}}}
  brain: {{capability: llm, engine: fake, settings: {{reply: "{" ".join(SENTENCES)}"}}}}
routes: {{stt: [whisper], tts: [dying, hibari], llm: [brain], vad: [silero]}}
aliases: {{whisper-1: stt}}
realtime:
  profiles:
    default: {{output_lead: null, voice: bella}}
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("realtime-failover")
    config = folder / "ai_backend.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    site = write_dist_info(
        folder / "site",
        "voxgate-test-realtime-fakes",
        {
            "fakes": "tests.support.fake_plugin:PLUGIN",
            "realtime_fakes": "tests.support.realtime_fakes:PLUGIN",
        },
    )
    paths = [str(site), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "VOXGATE_DATA_DIR": str(folder / "data"),
    }
    with daemon_process(config, env=env) as url:
        yield url, folder / f"daemon-{url.rsplit(':', 1)[1]}.log"


def logged(log: Path, event: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


async def test_a_tts_engine_dying_mid_reply_is_replaced(daemon: tuple[str, Path]) -> None:
    url, log = daemon
    async with connect(url) as session:
        await session.next("session.created")
        await session.say("Tell me about the sun.")
        await session.send({"type": "response.create"})
        done = (await session.next("response.done", timeout=60))["response"]
        assert done["status"] == "completed", done["status_details"]
        said = session.of("response.output_audio_transcript.done")[0]["transcript"]
        assert said == " ".join(SENTENCES)
        # The first sentence came from the dying engine (a tone of 60 ms a character, in 100 ms
        # chunks), then 100 ms of the second before it died; the rest is hibari's speech.
        audio = decode_output(session.audio_of(done["id"]), "pcm16")
        tone_seconds = (len(SENTENCES[0]) * 60 // 100 + 1) / 10
        start = int(tone_seconds * PCM_RATE)
        rest = AudioChunk(audio.samples[start:], PCM_RATE)
        back = await asyncio.to_thread(_transcribe, url, wav(rest))
        assert word_error_rate(" ".join(SENTENCES[1:]), back) <= 0.3, back
        # The session goes on: the next reply is spoken too.
        await session.send({"type": "response.create"})
        again = (await session.next("response.done", timeout=60))["response"]
        assert again["status"] == "completed"
    replaced = logged(log, "realtime.tts_replaced")
    assert replaced and replaced[0]["engine"] == "dying"
    first = next(r for r in logged(log, "realtime.response") if r["response"] == done["id"])
    assert first["engines"]["tts"] == "dying,hibari"
    # The replacement speaks in the voice closest to the one asked for (bella: female, en-US).
    assert first["voices"] == {"dying": "bella", "hibari": "heart"}


def _transcribe(url: str, audio: bytes) -> str:
    import httpx

    response = httpx.post(
        url + "/v1/audio/transcriptions",
        files={"file": ("reply.wav", audio, "audio/wav")},
        data={"model": "whisper-1"},
        timeout=60,
    )
    response.raise_for_status()
    return str(response.json()["text"])
