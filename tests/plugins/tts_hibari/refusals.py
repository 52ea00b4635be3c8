"""The invalid requests of a TTS engine, checked the same way for each engine (also used by the
Piper tests)."""

from __future__ import annotations

from typing import Any

import pytest

from core.engines.errors import InvalidRequest
from core.engines.tts import TTSEngine
from tests.plugins.tts_hibari.support import collect


async def refusal(engine: TTSEngine, text: str, param: str, **fields: Any) -> str:
    """The message of the invalid request that speaking ``text`` gets; it must blame ``param``."""
    with pytest.raises(InvalidRequest) as refused:
        await collect(engine, text, **fields)
    assert refused.value.param == param
    return refused.value.message
