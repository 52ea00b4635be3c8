"""Wyoming requests take the router's path: a stalled engine falls back to the next one, a voice
of a later engine starts the chain there, and a capability nothing serves is an error event."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from wyoming.audio import AudioStart
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.core.wyoming.support import (
    WyomingDaemon,
    command_events,
    read_until,
    synthesize,
    write_all,
    wyoming_daemon,
)
from tests.support.plugin_dist import fake_plugin_env

CONFIG = """\
mode: local
reload: {watch: false}
policy: {engines: {stalling: {timeout: 0.5s}}, breaker: {failures: 100}}
engines:
  stalling: {capability: tts, engine: fake, settings: {delay: 30, voices: [fake-a]}}
  hibari: {capability: tts, engine: hibari, preload: true}
routes: {tts: [stalling, hibari]}
"""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WyomingDaemon]:
    folder = tmp_path_factory.mktemp("wyoming-routing")
    env = fake_plugin_env(Path(folder))
    with wyoming_daemon(folder, CONFIG, env=env) as daemon:
        yield daemon


def fallbacks(running: WyomingDaemon) -> float:
    text = httpx.get(running.daemon.url + "/metrics", timeout=10).text
    pattern = r'voxgate_fallbacks_total\{capability="tts",engine="stalling",reason="timeout"\} '
    found = [float(line.split(" ")[-1]) for line in text.splitlines() if re.match(pattern, line)]
    return found[0] if found else 0.0


async def test_a_stalled_engine_falls_back_to_the_next(running: WyomingDaemon) -> None:
    before = fallbacks(running)
    answer = await synthesize(running, Synthesize(text="The first engine is stuck.").event())
    assert AudioStart.from_event(answer[0]).rate == 24000  # hibari spoke
    assert answer[-1].type == "audio-stop"
    assert fallbacks(running) == before + 1


async def test_a_voice_of_a_later_engine_starts_the_chain_there(running: WyomingDaemon) -> None:
    async with running.client() as client:
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, "info"))[-1])
    assert {voice.name for voice in info.tts[0].voices} == {"fake-a", "heart"}
    assert info.asr == []  # no speech-to-text route: no program offered
    before = fallbacks(running)
    voice = SynthesizeVoice(name="heart")
    answer = await synthesize(running, Synthesize(text="Straight to hibari.", voice=voice).event())
    assert answer[-1].type == "audio-stop"
    assert fallbacks(running) == before  # the stalled engine was not even asked


async def test_transcribing_without_a_speech_to_text_route(running: WyomingDaemon) -> None:
    async with running.client() as client:
        await write_all(client, command_events(bytes(3200)))
        events = await read_until(client, "transcript-stop")
    assert events[-1].type == "error" and events[-1].data["code"] == "no_engine"
