"""The qwen3 engine with its real worker process and tiny random-weight checkpoints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.audio.chunk import AudioChunk
from core.cloned_voices.store import VoiceStore
from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.engines.tts import ReferenceVoice, SpeechRequest
from plugins.tts_qwen3.engine import Qwen3Engine
from tests.plugins.tts_qwen3.support import make_engine

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    # The first test may build the worker environment (minutes, once; then it is cached).
    pytest.mark.timeout(1800),
]

RATE = 24_000
SAMPLES_PER_FRAME = 1920  # 24 kHz at 12.5 codec frames per second


def speech_like_clip(seconds: float = 3.0, rate: int = 16_000) -> AudioChunk:
    """Harmonics with a syllable-like envelope, between bits of silence (so trimming matters)."""
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 560), 1))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    silence = np.zeros(rate // 2)
    samples = np.concatenate([silence, 0.05 * voice * envelope, silence]).astype(np.float32)
    return AudioChunk(samples, rate)


@pytest.fixture(scope="module")
def engine_settings() -> dict[str, Any]:
    # Whole pieces: these tests count and compare pieces.
    return {"max_new_tokens": 12, "stream_frames": 0}


async def speak(engine: Qwen3Engine, text: str = "Hello there.", **fields: Any) -> list[AudioChunk]:
    return [chunk async for chunk in engine.synthesize(SpeechRequest(text=text, **fields))]


def assert_audio(chunks: list[AudioChunk]) -> None:
    assert chunks
    for chunk in chunks:
        assert chunk.sample_rate == RATE
        assert len(chunk.samples) > 0
        assert len(chunk.samples) % SAMPLES_PER_FRAME == 0
        assert np.isfinite(chunk.samples).all()
        assert np.abs(chunk.samples).max() <= 1.0
        assert float(np.sqrt(np.mean(chunk.samples**2))) > 0.01  # noise, not silence


async def prompt_stats(engine: Qwen3Engine) -> dict[str, Any]:
    assert engine._supervisor is not None
    reply = await engine._supervisor.call("stats", {})
    return dict(reply.header["value"])


async def test_load_starts_a_worker_and_reports_what_it_loaded(engine: Qwen3Engine) -> None:
    info = engine.info()
    assert info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["models"]["main"]["kind"] == "custom_voice"
    assert info["models"]["clone"]["kind"] == "base"
    assert info["worker"]["state"] == "ready"
    assert info["worker"]["pid"] != os.getpid()
    assert (await engine.health()).ok


async def test_voices_are_the_preset_speakers_with_language_and_gender(
    engine: Qwen3Engine,
) -> None:
    voices = {v.id: v for v in await engine.voices() if v.kind == "preset"}
    assert sorted(voices) == ["ono_anna", "ryan", "vivian"]
    assert (voices["vivian"].language, voices["vivian"].gender) == ("zh", "female")
    assert voices["ono_anna"].name == "Ono_Anna"
    assert engine.default_voice() == "ono_anna"


async def test_each_sentence_arrives_as_its_own_chunk(engine: Qwen3Engine) -> None:
    chunks = await speak(engine, "Hello there. This is the second sentence.", voice="vivian")
    assert len(chunks) == 2
    assert_audio(chunks)


async def test_language_codes_map_to_the_models_languages(engine: Qwen3Engine) -> None:
    assert_audio(await speak(engine, "こんにちは。", voice="ono_anna", language="ja-JP"))
    with pytest.raises(InvalidRequest, match="does not speak 'fr'") as caught:
        await speak(engine, "Bonjour.", language="fr")
    assert caught.value.param == "language"


async def test_an_unknown_speaker_is_a_client_error(engine: Qwen3Engine) -> None:
    with pytest.raises(InvalidRequest, match="invalid voice 'nobody'") as caught:
        await speak(engine, voice="nobody")
    assert (caught.value.param, caught.value.status) == ("voice", 400)


@pytest.mark.parametrize(
    "fields",
    [
        {"instructions": "Whisper it."},
        {"options": {"emotion": {"happiness": 0.8, "energy": 1.2}}},
        {"speed": 1.5},
    ],
)
async def test_style_controls_the_small_model_ignores_are_refused(
    engine: Qwen3Engine, fields: dict[str, Any]
) -> None:
    with pytest.raises(Unsupported, match=r"only the 1\.7B CustomVoice and VoiceDesign"):
        await speak(engine, voice="ryan", **fields)


async def test_the_same_seed_gives_the_same_audio(engine: Qwen3Engine) -> None:
    first = await speak(engine, voice="ryan", options={"seed": 7})
    again = await speak(engine, voice="ryan", options={"seed": 7})
    other = await speak(engine, voice="ryan", options={"seed": 8})
    assert np.array_equal(first[0].samples, again[0].samples)
    assert not (
        len(first[0].samples) == len(other[0].samples)
        and np.array_equal(first[0].samples, other[0].samples)
    )


async def test_cloning_from_a_reference_caches_the_prepared_prompt(engine: Qwen3Engine) -> None:
    before = await prompt_stats(engine)
    reference = ReferenceVoice(id="ref-a", audio=speech_like_clip())
    assert_audio(await speak(engine, "Cloned speech.", reference=reference))
    assert_audio(await speak(engine, "Again, cloned.", reference=reference))
    after = await prompt_stats(engine)
    assert after["prompt_misses"] - before["prompt_misses"] == 1
    assert after["prompt_hits"] - before["prompt_hits"] == 1
    # With a transcript the in-context mode is used: a different prompt, prepared once more.
    with_text = ReferenceVoice(id="ref-a", audio=speech_like_clip(), text="A short reference.")
    assert_audio(await speak(engine, "In context.", reference=with_text))
    assert (await prompt_stats(engine))["prompt_misses"] - before["prompt_misses"] == 2


async def test_a_stored_voice_is_offered_and_spoken_by_id(engine: Qwen3Engine) -> None:
    store = VoiceStore.for_data_dir(engine.context.data_dir)
    voice = store.create(speech_like_clip(rate=RATE), name="Narrator", language="en", gender="male")
    offered = {v.id: v for v in await engine.voices()}
    assert offered[voice.id].kind == "cloned"
    assert offered[voice.id].gender == "male"
    assert_audio(await speak(engine, "Stored voice speaking.", voice=voice.id))
    with pytest.raises(InvalidRequest, match="no stored voice") as caught:
        await speak(engine, voice="voice_0000000000000000")
    assert caught.value.status == 400


async def test_a_too_short_reference_is_refused(engine: Qwen3Engine) -> None:
    reference = ReferenceVoice(id="short", audio=speech_like_clip(seconds=0.3))
    with pytest.raises(InvalidRequest, match="at least 1 s"):
        await speak(engine, reference=reference)


async def test_closing_ends_the_worker_process(
    qwen_python: Path, tiny_models: Path, tmp_path: Path
) -> None:
    qwen = make_engine(tmp_path, tiny_models, python=str(qwen_python), warmup=False)
    await qwen.load()
    pid = qwen.info()["worker"]["pid"]
    os.kill(pid, 0)  # alive
    await qwen.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert qwen.info()["worker"] == {"state": "stopped"}


async def test_a_missing_environment_names_the_install_command(
    tiny_models: Path, tmp_path: Path
) -> None:
    qwen = make_engine(tmp_path, tiny_models)
    with pytest.raises(EngineUnavailable, match="voxgate plugins install tts_qwen3"):
        await qwen.load()


async def test_a_missing_model_names_the_download_command(
    qwen_python: Path, tmp_path: Path
) -> None:
    qwen = make_engine(tmp_path, tmp_path / "no-models", python=str(qwen_python))
    with pytest.raises(EngineUnavailable, match="voxgate models download custom_0_6b") as caught:
        await qwen.load()
    assert str(tmp_path / "no-models" / "Qwen" / "Qwen3-TTS-12Hz-0.6B-CustomVoice") in str(
        caught.value
    )


async def test_lenient_controls_are_dropped_instead_of_refused(
    tiny_models: Path, tmp_path: Path
) -> None:
    # Planning reads the model's config.json; no worker is needed to decide this.
    qwen = make_engine(tmp_path, tiny_models, strict_controls=False)
    request = SpeechRequest(text="Hi there.", voice="ryan", instructions="Whisper.", speed=1.5)
    params, payload = await qwen._plan(request)
    assert (params["mode"], params["speaker"], params["instruct"]) == ("custom", "ryan", None)
    assert payload == b""
    strict = make_engine(tmp_path, tiny_models)
    with pytest.raises(Unsupported, match="instructions and speed"):
        await strict._plan(request)
