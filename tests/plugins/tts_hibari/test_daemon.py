"""hibari served by a real daemon process, called with the official ``openai`` client."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import openai
import pytest
import soundfile

from tests.support.daemon import daemon_process

CONFIG = """\
reload: {watch: false}
logging: {level: warning}
engines:
  hibari: {capability: tts, engine: hibari, preload: true}
routes: {tts: [hibari]}
aliases: {tts-1: tts}
voices: {aliases: {alloy: heart}}
"""
TEXT = "Good morning. The train leaves at nine. Please be on time."


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    folder = tmp_path_factory.mktemp("hibari-daemon")
    config = folder / "ai_backend.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {"VOXGATE_DATA_DIR": str(folder / "data"), "HIBARI_HOME": str(folder / "cache")}
    with (
        daemon_process(config, env=env) as url,
        openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as api,
    ):
        yield api


def test_speech_as_wav_through_an_openai_alias(client: openai.OpenAI) -> None:
    speech = client.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="wav"
    )
    assert speech.response.headers["x-voxgate-engine"] == "hibari"
    assert speech.response.headers["x-voxgate-voice"] == "heart"
    samples, rate = soundfile.read(io.BytesIO(speech.content), dtype="float32")
    assert rate == 24_000
    assert np.isfinite(samples).all()
    assert 2.0 < len(samples) / rate < 10.0
    assert float(np.sqrt(np.mean(samples**2))) > 0.01


def test_streaming_pcm_arrives_as_one_continuous_stream(client: openai.OpenAI) -> None:
    received = bytearray()
    with client.audio.speech.with_streaming_response.create(
        model="hibari", voice="alloy", input=TEXT, response_format="pcm"
    ) as response:
        assert response.headers["x-sample-rate"] == "24000"
        for block in response.iter_bytes():
            received += block
    assert len(received) % 2 == 0
    pcm = np.frombuffer(bytes(received), dtype="<i2")
    assert 2.0 < len(pcm) / 24_000 < 10.0
    assert np.abs(pcm).max() > 1000


def test_speed_is_honoured(client: openai.OpenAI) -> None:
    def seconds(speed: float) -> float:
        data = client.audio.speech.create(
            model="hibari", voice="alloy", input=TEXT, response_format="pcm", speed=speed
        ).read()
        return len(data) / 2 / 24_000

    assert seconds(0.5) > 1.6 * seconds(1.0)


def test_unknown_voice_is_a_client_error_naming_the_field(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        client.audio.speech.create(model="hibari", voice="nobody", input=TEXT)
    assert error.value.param == "voice"
    assert "invalid voice 'nobody'" in error.value.message
    assert "heart" in error.value.message


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"input": "今天天气很好。"}, "hibari speaks English only: it cannot read Chinese"),
        ({"input": "Hello means 你好."}, "hibari speaks English only: it cannot read Chinese"),
        ({"input": TEXT, "extra_body": {"language": "zh"}}, "hibari speaks English only, not 'zh'"),
    ],
)
def test_what_an_english_voice_cannot_say_is_a_400(
    client: openai.OpenAI, fields: dict[str, object], said: str
) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        client.audio.speech.create(model="tts-1", voice="alloy", **fields)  # type: ignore[arg-type]
    assert error.value.code == "unsupported_request"
    assert said in error.value.message
