"""The local TTS engines (hibari, Piper) served by a real daemon process, called with the
official ``openai`` client: one daemon per engine, the same checks on each."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile

from tests.support.daemon import serving
from tests.support.openai_speech import stream_pcm

TEXT = "Good morning. The train leaves at nine. Please be on time."


@dataclass(frozen=True)
class Speaker:
    engine: str
    voice: str
    rate: int
    #: Requests this engine refuses with a 400, and what the message says.
    refusals: tuple[tuple[dict[str, object], str], ...] = ()
    #: Extra environment for the daemon, given its folder.
    env: dict[str, str] = field(default_factory=dict)

    def config(self) -> str:
        return (
            "reload: {watch: false}\n"
            "logging: {level: warning}\n"
            "engines:\n"
            f"  {self.engine}: {{capability: tts, engine: {self.engine}, preload: true}}\n"
            f"routes: {{tts: [{self.engine}]}}\n"
            "aliases: {tts-1: tts}\n"
            f"voices: {{aliases: {{alloy: {self.voice}}}}}\n"
        )


SPEAKERS = [
    Speaker(
        "hibari",
        "heart",
        24_000,
        refusals=(
            ({"input": "今天天气很好。"}, "hibari speaks English only: it cannot read Chinese"),
            ({"input": "Hello means 你好."}, "hibari speaks English only: it cannot read Chinese"),
            (
                {"input": TEXT, "extra_body": {"language": "zh"}},
                "hibari speaks English only, not 'zh'",
            ),
        ),
        # hibari's own voice cache stays inside the test's folder.
        env={"HIBARI_HOME": "cache"},
    ),
    Speaker("piper", "en_US-joe-medium", 22_050),
]


@dataclass(frozen=True)
class Served:
    speaker: Speaker
    api: openai.OpenAI


@pytest.fixture(scope="module", params=SPEAKERS, ids=lambda speaker: speaker.engine)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    speaker: Speaker = request.param
    folder = tmp_path_factory.mktemp(f"{speaker.engine}-daemon")
    env = {name: str(folder / Path(value)) for name, value in speaker.env.items()}
    with (
        serving(folder, speaker.config(), env=env) as url,
        openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as api,
    ):
        yield Served(speaker, api)


def test_speech_as_wav_through_an_openai_alias(served: Served) -> None:
    speaker = served.speaker
    speech = served.api.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="wav"
    )
    assert speech.response.headers["x-voxgate-engine"] == speaker.engine
    assert speech.response.headers["x-voxgate-voice"] == speaker.voice
    samples, rate = soundfile.read(io.BytesIO(speech.content), dtype="float32")
    assert rate == speaker.rate
    assert np.isfinite(samples).all()
    assert 2.0 < len(samples) / rate < 10.0
    assert float(np.sqrt(np.mean(samples**2))) > 0.01


def test_streaming_pcm_arrives_as_one_continuous_stream(served: Served) -> None:
    speaker = served.speaker
    speech = stream_pcm(served.api, model=speaker.engine, voice="alloy", text=TEXT)
    assert speech.headers["x-sample-rate"] == str(speaker.rate)
    assert len(speech.pcm) % 2 == 0
    pcm = speech.samples
    assert 2.0 < len(pcm) / speaker.rate < 10.0
    assert np.abs(pcm).max() > 1000


def test_speed_is_honoured(served: Served) -> None:
    speaker = served.speaker

    def seconds(speed: float) -> float:
        data = served.api.audio.speech.create(
            model=speaker.engine, voice="alloy", input=TEXT, response_format="pcm", speed=speed
        ).read()
        return len(data) / 2 / speaker.rate

    assert seconds(0.5) > 1.6 * seconds(1.0)


def test_unknown_voice_is_a_client_error_naming_the_field(served: Served) -> None:
    speaker = served.speaker
    with pytest.raises(openai.BadRequestError) as error:
        served.api.audio.speech.create(model=speaker.engine, voice="nobody", input=TEXT)
    assert error.value.param == "voice"
    assert "invalid voice 'nobody'" in error.value.message
    assert speaker.voice in error.value.message


def test_what_a_voice_cannot_say_is_a_400(served: Served) -> None:
    for fields, said in served.speaker.refusals:
        with pytest.raises(openai.BadRequestError) as error:
            served.api.audio.speech.create(model="tts-1", voice="alloy", **fields)  # type: ignore[arg-type]
        assert error.value.code == "unsupported_request"
        assert said in error.value.message
