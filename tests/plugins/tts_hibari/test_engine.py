"""The hibari engine on the real bundled voice: streaming, speed, voices, errors."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.audio.chunk import AudioChunk
from plugins.tts_hibari.engine import HibariEngine, readable_numbers
from tests.plugins.tts_hibari.engine_checks import (
    assert_left_to_another_engine,
    assert_usable_after_an_early_close,
    refusal,
    seconds_of_one_chunk_per_sentence,
    spoken_seconds,
)
from tests.plugins.tts_hibari.support import assert_real_audio, collect
from tests.support.engines import loaded_engine

RATE = 24_000
FOUR_SENTENCES = (
    "The morning was cold and bright. We walked along the river for an hour. "
    "Then we stopped for coffee near the old bridge. It was a good day."
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HibariEngine]:
    with loaded_engine(HibariEngine, {}, tmp_path_factory.mktemp("hibari"), "hibari") as engine:
        yield engine


async def test_streams_one_chunk_per_sentence(engine: HibariEngine) -> None:
    total = await seconds_of_one_chunk_per_sentence(engine, FOUR_SENTENCES, 4, RATE)
    # About two to three words a second: 33 words -> somewhere between 6 and 20 seconds.
    assert 6 < total < 20


async def test_closing_the_stream_early_stops_work_and_leaves_the_engine_usable(
    engine: HibariEngine,
) -> None:
    await assert_usable_after_an_early_close(engine, FOUR_SENTENCES * 5, RATE)


async def test_speed_changes_duration(engine: HibariEngine) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    normal, slow, fast = await asyncio.gather(
        *(spoken_seconds(engine, text, speed=speed) for speed in (1.0, 0.5, 1.5))
    )
    assert slow > 1.6 * normal
    assert fast < 0.8 * normal


async def test_concurrent_requests_each_get_their_own_audio(engine: HibariEngine) -> None:
    short, long = await asyncio.gather(
        collect(engine, "One short sentence."), collect(engine, FOUR_SENTENCES)
    )
    assert len(short) == 1 and len(long) == 4
    assert sum(c.duration for c in long) > 3 * short[0].duration


async def test_voices_and_default(engine: HibariEngine) -> None:
    voices = {v.id: v for v in await engine.voices()}
    assert engine.default_voice() == "heart"
    assert voices["heart"].language == "en-US"
    assert voices["heart"].gender == "female"
    # The other hibari voices are not in the package and nothing downloads them unasked.
    assert "emma" not in voices
    assert len(await collect(engine, "Hello there.", voice="heart")) == 1


async def test_unknown_or_missing_voice_is_an_invalid_request(engine: HibariEngine) -> None:
    assert "heart" in await refusal(engine, "Hello.", "voice", voice="no-such-voice")
    assert "download_voices" in await refusal(engine, "Hello.", "voice", voice="emma")


async def test_chinese_text_or_language_is_left_to_another_engine(engine: HibariEngine) -> None:
    await assert_left_to_another_engine(engine, "今天天气很好。我们去公园吧。")
    await assert_left_to_another_engine(engine, "Hello there.", language="zh")
    assert len(await collect(engine, "Hello there.", language="en-US")) == 1


async def test_nothing_to_speak_is_an_invalid_input(engine: HibariEngine) -> None:
    await refusal(engine, " ... ", "input")


@pytest.mark.parametrize(
    "number", ["1" * 37, "-" + "9" * 40 + ".5", "$" + "9" * 37, "1" + ",000" * 12, "2" * 37 + "th"]
)
async def test_a_number_too_long_to_read_whole_is_read_digit_by_digit(
    engine: HibariEngine, number: str
) -> None:
    # hibari's number reader stops at decillions: a longer number failed the whole request.
    chunks = await collect(engine, f"The code is {number} today.")
    assert len(chunks) == 1
    assert_real_audio(chunks[0], RATE)


def test_only_numbers_beyond_the_readers_range_are_spelled_out() -> None:
    assert readable_numbers("pay $" + "9" * 36 + " now") == "pay $" + "9" * 36 + " now"
    assert readable_numbers("1" + ",000" * 12) == " ".join("1" + "0" * 36)
    assert readable_numbers("7" * 4400) == " ".join("7" * 4400)  # past int()'s digit limit too


def test_a_voice_file_placed_in_the_models_directory_is_offered(tmp_path: Path) -> None:
    """emma's file is looked for in <models>/hibari; a British voice gets the British G2P."""
    from hibari.voices import voice_path

    folder = tmp_path / "models" / "hibari"
    folder.mkdir(parents=True)
    # Same architecture and inputs as every hibari voice, so it stands in for emma's download.
    shutil.copy(voice_path("heart", download_missing=False), folder / "bf_emma.int8.onnx")
    with loaded_engine(HibariEngine, {"voice": "emma"}, tmp_path, "hibari-gb") as engine:
        voices = {v.id: v for v in asyncio.run(engine.voices())}
        assert voices["emma"].language == "en-GB"
        chunks: list[AudioChunk] = asyncio.run(collect(engine, "Hello there."))
        assert_real_audio(chunks[0], RATE)
        assert engine.info()["loaded_voices"] == ["emma"]


def test_a_seed_makes_output_repeatable(tmp_path: Path) -> None:
    with loaded_engine(HibariEngine, {"seed": 7}, tmp_path, "hibari-seeded") as engine:
        first = asyncio.run(collect(engine, "Repeat after me."))
        second = asyncio.run(collect(engine, "Repeat after me."))
        assert np.array_equal(first[0].samples, second[0].samples)


def test_unavailable_default_voice_fails_to_load_with_a_clear_message(tmp_path: Path) -> None:
    from core.engines.errors import EngineUnavailable

    with (
        pytest.raises(EngineUnavailable, match="download_voices"),
        loaded_engine(HibariEngine, {"voice": "fable"}, tmp_path, "hibari-missing"),
    ):
        pass
