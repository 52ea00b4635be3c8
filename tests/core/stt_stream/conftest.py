"""Real engines for the session tests: Whisper tiny.en and Silero VAD, loaded once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plugins.stt_whisper.engine import FasterWhisperEngine
from plugins.stt_whisper.vad import SileroVADEngine
from tests.plugins.stt_whisper.support import loaded


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FasterWhisperEngine]:
    with loaded(FasterWhisperEngine, {}, tmp_path_factory.mktemp("whisper"), "whisper") as engine:
        yield engine


@pytest.fixture(scope="module")
def silero(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SileroVADEngine]:
    with loaded(SileroVADEngine, {}, tmp_path_factory.mktemp("silero"), "silero") as engine:
        yield engine
