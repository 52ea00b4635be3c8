"""The real engines, loaded once per test session (tiny.en and Silero both load in ~1-2 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plugins.stt_whisper.engine import FasterWhisperEngine
from plugins.stt_whisper.vad import SileroVADEngine
from tests.plugins.stt_whisper.support import loaded


@pytest.fixture(scope="session")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FasterWhisperEngine]:
    root = tmp_path_factory.mktemp("whisper")
    with loaded(FasterWhisperEngine, {}, root, "whisper") as engine:
        yield engine


@pytest.fixture(scope="session")
def whisper_vad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FasterWhisperEngine]:
    root = tmp_path_factory.mktemp("whisper-vad")
    with loaded(FasterWhisperEngine, {"vad_filter": True}, root, "whisper_vad") as engine:
        yield engine


@pytest.fixture(scope="session")
def silero(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SileroVADEngine]:
    root = tmp_path_factory.mktemp("silero")
    with loaded(SileroVADEngine, {}, root, "silero") as engine:
        yield engine
