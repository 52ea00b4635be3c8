"""Speech from hibari, transcribed by Whisper tiny.en, must come back as the same words."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.audio.chunk import AudioChunk
from plugins.tts_hibari.engine import HibariEngine
from tests.plugins.tts_hibari.support import (
    ROUND_TRIP_TEXT,
    collect,
    transcribe,
    word_error_rate,
)
from tests.support.engines import loaded_engine


def test_word_error_rate_helper() -> None:
    assert word_error_rate("Hello, World!", "hello world") == 0.0
    assert word_error_rate("don't stop-now", "dont stop now") == 0.0
    assert word_error_rate("a b c d", "a x c") == 0.5  # one substitution, one deletion
    assert word_error_rate("a b", "a b c d") == 1.0  # two insertions


def test_several_sentences_survive_a_round_trip_through_whisper(tmp_path: Path) -> None:
    with loaded_engine(HibariEngine, {"seed": 1}, tmp_path, "hibari") as engine:
        chunks = asyncio.run(collect(engine, ROUND_TRIP_TEXT))
    assert len(chunks) == 4
    heard = transcribe(AudioChunk.concat(chunks))
    assert word_error_rate(ROUND_TRIP_TEXT, heard) <= 0.1, heard
