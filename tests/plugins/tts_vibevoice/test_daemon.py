"""VibeVoice through a real daemon and the real ``openai`` client: one voice, a two-speaker
script, per-segment streaming as server-sent events, the voice list, the model manager's view
and the engine's status, all on the tiny random-weight checkpoint (the audio is noise)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
import soundfile

from plugins.tts_vibevoice.script import pack_sentences
from tests.plugins.tts_vibevoice.support import tiny_settings
from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import serving
from tests.support.tiny_vibevoice import FRAME_SAMPLES, SAMPLE_RATE, TinyCheckpoint

PAUSE = SAMPLE_RATE * 100 // 1000  # pause_ms: 100 in tiny_settings
TEXT = "Hello there, this is the first sentence. A second one follows. And a third closes."
SCRIPT = "Speaker 1: Welcome to the show, Frank.\nSpeaker 2: Thanks Alice, glad to be here."


@pytest.fixture(scope="module")
def daemon(
    tiny: TinyCheckpoint,
    models_root: Path,
    voices_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("vibevoice-daemon")
    # The smallest lookahead, and the warm-up a real daemon does at preload.
    settings = tiny_settings(tiny, voices_dir, lookahead_segments=1, warmup=True)
    engines = {"vibe": engine_entry("tts", "vibevoice", settings)}
    config = daemon_config(engines, log_level="info", models_dir=models_root)
    with serving(folder, config) as url:
        yield url


@pytest.fixture(scope="module")
def api(daemon: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=daemon + "/v1", api_key="unused", max_retries=0) as client:
        yield client


def assert_segments(samples: np.ndarray, segments: int) -> None:
    """``segments`` pieces of 2-3 frames each, the pauses between them silent."""
    assert np.isfinite(samples).all()
    speech = len(samples) - (segments - 1) * PAUSE
    assert speech % FRAME_SAMPLES == 0
    assert 2 * segments <= speech // FRAME_SAMPLES <= 3 * segments
    assert float(np.sqrt(np.mean(samples**2))) > 0.01


def test_one_voice_through_the_openai_client(api: openai.OpenAI) -> None:
    speech = api.audio.speech.create(
        model="tts", voice="en-Alice_woman", input=TEXT, response_format="wav"
    )
    headers = speech.response.headers
    assert headers["x-voxgate-engine"] == "vibe"
    assert headers["x-voxgate-voice"] == "en-Alice_woman"
    samples, rate = soundfile.read(io.BytesIO(speech.content), dtype="float32")
    assert rate == SAMPLE_RATE and samples.ndim == 1
    assert_segments(samples, len(pack_sentences(TEXT, 40)))


def spoken_script(api: openai.OpenAI, speakers: list[str]) -> bytes:
    """The two-speaker script as 16-bit pcm, a turn in each of ``speakers``' voices; the seed
    is fixed, so two casts differ only where their voices do."""
    speech = api.audio.speech.create(
        model="tts",
        voice="en-Alice_woman",
        input=SCRIPT,
        response_format="pcm",
        extra_body={"speakers": speakers, "seed": 5},
    )
    return speech.content


def test_a_two_speaker_script_with_a_voice_each(api: openai.OpenAI) -> None:
    speech = spoken_script(api, ["en-Alice_woman", "en-Frank_man"])
    pcm = np.frombuffer(speech, dtype="<i2")
    assert_segments(pcm.astype(np.float32) / 32768.0, 2)

    recast = spoken_script(api, ["en-Alice_woman", "zh-Xinran_woman"])
    # The first turn is Alice's both times (at least two frames long); the second voice changed.
    head = 2 * FRAME_SAMPLES * 2  # bytes of 16-bit samples
    assert recast[:head] == speech[:head]
    assert recast != speech

    # Plain OpenAI clients name both voices in `voice`, comma-separated: the same cast.
    joined = api.audio.speech.with_raw_response.create(
        model="tts",
        voice="en-Alice_woman,en-Frank_man",
        input=SCRIPT,
        response_format="pcm",
        extra_body={"seed": 5},
    )
    assert joined.headers["x-voxgate-voice"] == "en-Alice_woman,en-Frank_man"
    assert joined.content == speech


def test_each_segment_is_its_own_event_in_a_streamed_response(api: openai.OpenAI) -> None:
    with api.audio.speech.with_streaming_response.create(
        model="tts",
        voice="zh-Xinran_woman",
        input=TEXT,
        response_format="pcm",
        stream_format="sse",
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    events = [json.loads(line.removeprefix("data:").strip()) for line in lines]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert events[-1]["type"] == "speech.audio.done"
    assert len(deltas) == len(pack_sentences(TEXT, 40)) == 3
    pieces = [np.frombuffer(base64.b64decode(e["audio"]), dtype="<i2") for e in deltas]
    assert not pieces[1][:PAUSE].any() and not pieces[2][:PAUSE].any()
    assert_segments(np.concatenate(pieces).astype(np.float32) / 32768.0, 3)


def test_unknown_voices_are_invalid_voices(api: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as unknown:
        api.audio.speech.create(model="tts", voice="nobody", input="Hi there.")
    assert "invalid voice 'nobody'" in unknown.value.message
    with pytest.raises(openai.BadRequestError) as speakers:
        api.audio.speech.create(
            model="tts",
            voice="en-Alice_woman",
            input=SCRIPT,
            extra_body={"speakers": ["en-Alice_woman", "nobody"]},
        )
    body = speakers.value.body
    assert isinstance(body, dict)
    assert body.get("error", body)["param"] == "speakers"


def test_voices_models_and_status(daemon: str) -> None:
    voices = httpx.get(daemon + "/v1/voices", timeout=10).json()
    ids = {v["id"] for v in voices["data"] if v.get("engine") == "vibe"}
    assert {"en-Alice_woman", "en-Frank_man", "zh-Xinran_woman", "Narrator"} <= ids

    models = httpx.get(daemon + "/control/models", timeout=10).json()["models"]
    by_key = {m["key"]: m for m in models}
    assert by_key["vibevoice_1_5b"]["status"] == "ok"
    assert by_key["vibevoice_realtime_0_5b"]["status"] == "missing"

    status = httpx.get(daemon + "/control/status", timeout=10).json()
    info = status["engines"]["vibe"]["info"]
    assert info["device"] == "cpu" and info["sample_rate"] == SAMPLE_RATE
    assert info["speaker_cache"]["clips"] >= 2
    assert info["segments_synthesized"] >= 3
