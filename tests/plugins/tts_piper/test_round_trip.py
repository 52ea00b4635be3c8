"""Speech from Piper's joe voice, transcribed by Whisper tiny.en, must come back word for word."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.audio.chunk import AudioChunk
from plugins.tts_piper.engine import PiperEngine
from tests.plugins.tts_hibari.support import (
    ROUND_TRIP_TEXT,
    collect,
    transcribe,
    word_error_rate,
)
from tests.support.engines import loaded_engine


def test_several_sentences_survive_a_round_trip_through_whisper(tmp_path: Path) -> None:
    with loaded_engine(PiperEngine, {}, tmp_path, "piper") as engine:
        chunks = asyncio.run(collect(engine, ROUND_TRIP_TEXT))
    assert len(chunks) == 4
    heard = transcribe(AudioChunk.concat(chunks))
    assert word_error_rate(ROUND_TRIP_TEXT, heard) <= 0.1, heard
