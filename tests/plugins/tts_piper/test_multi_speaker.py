"""Speaker selection on a multi-speaker Piper voice (a tiny random-weight one built here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.engines.errors import EngineUnavailable, InvalidRequest
from plugins.tts_piper.engine import PiperEngine
from tests.plugins.tts_hibari.support import collect
from tests.plugins.tts_piper.tiny_voice import SAMPLE_RATE, build_tiny_voice
from tests.support.engines import loaded_engine

TEXT = "Hello there. A second sentence."


@pytest.fixture(scope="module")
def tiny_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_voice(tmp_path_factory.mktemp("tiny-voice"))


@pytest.fixture(scope="module")
def engine(tiny_voice: Path) -> Iterator[PiperEngine]:
    settings = {"model": str(tiny_voice), "noise_scale": 0, "noise_w": 0, "speaker": "bob"}
    with loaded_engine(PiperEngine, settings, tiny_voice.parent, "piper-multi") as engine:
        yield engine


async def audio(engine: PiperEngine, voice: str | None) -> np.ndarray:
    chunks = await collect(engine, TEXT, voice=voice)
    assert all(c.sample_rate == SAMPLE_RATE for c in chunks)
    assert all(np.isfinite(c.samples).all() for c in chunks)
    return np.concatenate([c.samples for c in chunks])


async def test_each_speaker_is_a_voice(engine: PiperEngine) -> None:
    voices = await engine.voices()
    assert [v.id for v in voices] == [
        "xx_XX-tiny-low:alice",
        "xx_XX-tiny-low:bob",
        "xx_XX-tiny-low:carol",
    ]
    assert engine.default_voice() == "xx_XX-tiny-low:bob"


async def test_speakers_are_passed_to_the_model(engine: PiperEngine) -> None:
    alice = await audio(engine, "xx_XX-tiny-low:alice")
    bob = await audio(engine, "xx_XX-tiny-low:bob")
    # The speaker embedding changes the output; the same speaker repeats exactly (noise is off).
    assert not np.array_equal(alice, bob)
    assert np.array_equal(alice, await audio(engine, "alice"))
    assert np.array_equal(alice, await audio(engine, "xx_XX-tiny-low:0"))
    # No voice, or the bare voice name, means the configured speaker.
    assert np.array_equal(bob, await audio(engine, None))
    assert np.array_equal(bob, await audio(engine, "xx_XX-tiny-low"))


async def test_unknown_speaker_is_an_invalid_request(engine: PiperEngine) -> None:
    for voice in ("xx_XX-tiny-low:dave", "xx_XX-tiny-low:7"):
        with pytest.raises(InvalidRequest) as error:
            await collect(engine, TEXT, voice=voice)
        assert error.value.param == "voice"


def test_unknown_configured_speaker_fails_to_load(tiny_voice: Path, tmp_path: Path) -> None:
    settings = {"model": str(tiny_voice), "speaker": "dave"}
    with (
        pytest.raises(EngineUnavailable, match="dave"),
        loaded_engine(PiperEngine, settings, tmp_path, "piper-bad-speaker"),
    ):
        pass
