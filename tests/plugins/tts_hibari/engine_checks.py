"""Checks that hold for every TTS engine, written once (also used by the Piper tests)."""

from __future__ import annotations

from typing import Any

import pytest

from core.engines.errors import InvalidRequest, Unsupported
from core.engines.tts import SpeechRequest, TTSEngine
from tests.plugins.tts_hibari.support import assert_real_audio, collect


async def refusal(engine: TTSEngine, text: str, param: str, **fields: Any) -> str:
    """The message of the invalid request that speaking ``text`` gets; it must blame ``param``."""
    with pytest.raises(InvalidRequest) as refused:
        await collect(engine, text, **fields)
    assert refused.value.param == param
    return refused.value.message


async def assert_left_to_another_engine(engine: TTSEngine, text: str, **fields: Any) -> None:
    """Speaking ``text`` is refused as unsupported, so the router goes on to the next engine."""
    with pytest.raises(Unsupported):
        await collect(engine, text, **fields)


async def spoken_seconds(engine: TTSEngine, text: str, **fields: Any) -> float:
    return sum(chunk.duration for chunk in await collect(engine, text, **fields))


async def seconds_of_one_chunk_per_sentence(
    engine: TTSEngine, text: str, sentences: int, rate: int
) -> float:
    """Speaks ``text``, which must come as one chunk of real audio per sentence; the length."""
    chunks = await collect(engine, text)
    assert len(chunks) == sentences
    for chunk in chunks:
        assert_real_audio(chunk, rate)
    return sum(chunk.duration for chunk in chunks)


async def assert_usable_after_an_early_close(engine: TTSEngine, text: str, rate: int) -> None:
    """A stream closed after its first chunk stops there, and the engine speaks on."""
    stream = engine.synthesize(SpeechRequest(text=text))
    assert_real_audio(await anext(stream), rate)
    await stream.aclose()  # type: ignore[attr-defined]
    assert len(await collect(engine, "Still working.")) == 1
