"""Which voice each TTS engine of a chain is asked for (fake engines: this tests the chooser)."""

from __future__ import annotations

import httpx
import pytest

from tests.support import WriteConfig
from tests.support.daemon import asgi_client
from tests.support.fake_plugin import SWITCHES
from tests.support.runtime import running_runtime

CONFIG = """\
engines:
  cast: {capability: tts, engine: fake, settings: {voices: [ann, bob, cid], switch: cast}}
  solo: {capability: tts, engine: fake, settings: {voices: [solo-f, solo-m]}}
routes:
  tts: [cast, solo]
"""


async def speak(write_config: WriteConfig, voice: str) -> httpx.Response:
    async with running_runtime(write_config(CONFIG)) as runtime, asgi_client(runtime) as client:
        body = {"input": "Hello.", "response_format": "pcm", "voice": voice}
        return await client.post("/v1/audio/speech", json=body)


async def test_one_voice_per_speaker_is_passed_on_when_the_engine_offers_each(
    write_config: WriteConfig,
) -> None:
    response = await speak(write_config, "ann, bob")
    assert response.status_code == 200, response.text
    assert response.headers["x-voxgate-engine"] == "cast"
    assert response.headers["x-voxgate-voice"] == "ann,bob"


async def test_a_fallback_engine_gets_the_first_speakers_closest_voice(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SWITCHES, "cast", "fail")
    response = await speak(write_config, "ann,bob")
    assert response.status_code == 200, response.text
    assert response.headers["x-voxgate-engine"] == "solo"
    # ann is the first voice of its engine, so female, like solo-f.
    assert response.headers["x-voxgate-voice"] == "solo-f"


async def test_a_voice_no_engine_offers_is_an_invalid_voice(write_config: WriteConfig) -> None:
    response = await speak(write_config, "ann,nobody")
    assert response.status_code == 200  # cast takes ann, the first speaker, which it offers
    assert response.headers["x-voxgate-voice"] == "ann"
    missing = await speak(write_config, "nobody,ann")
    assert missing.status_code == 400
    error = missing.json()["error"]
    assert error["param"] == "voice"
    assert error["message"].startswith("invalid voice 'nobody,ann'")
