"""Session fixtures: a tiny random-weight VibeVoice checkpoint and a voices directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.tts_vibevoice.support import VOICE_FILES
from tests.support.tiny_vibevoice import TinyCheckpoint, build, write_voice


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    return build(tmp_path_factory.mktemp("vibevoice") / "models")


@pytest.fixture(scope="session")
def models_root(tiny: TinyCheckpoint) -> Path:
    return tiny.folder.parents[1]


@pytest.fixture(scope="session")
def voices_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vibevoice-voices")
    for name, pitch in VOICE_FILES.items():
        write_voice(folder / name, pitch=pitch)
    (folder / "notes.txt").write_text("not a voice", encoding="utf-8")
    return folder
