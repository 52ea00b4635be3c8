"""Helpers for the VibeVoice tests and bench: settings for the tiny model, loaded engines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from plugins.tts_vibevoice.engine import VibeVoiceEngine
from tests.support.engines import engine_context
from tests.support.tiny_vibevoice import TinyCheckpoint

#: The voices directory's files: three formats, with and without language and gender.
VOICE_FILES = {
    "en-Alice_woman.wav": 210.0,
    "en-Frank_man.mp3": 120.0,
    "zh-Xinran_woman.flac": 260.0,
    "Narrator.wav": 160.0,
}


def tiny_settings(tiny: TinyCheckpoint, voices_dir: Path, **overrides: Any) -> dict[str, Any]:
    """Settings that keep a random model talking for a few frames, cheaply."""
    return {
        "model": "vibevoice_1_5b",
        "voices_dir": str(voices_dir),
        "threads": 1,
        "diffusion_steps": 2,
        "min_new_tokens": 2,
        "max_new_tokens": 3,
        "suppress_tokens": tiny.keep_talking(),
        "segment_chars": 40,
        "pause_ms": 100,
        "warmup": False,
        **overrides,
    }


@contextlib.contextmanager
def loaded(settings: dict[str, Any], models: Path, data: Path) -> Iterator[VibeVoiceEngine]:
    context = engine_context("vibe", data, models)
    engine = VibeVoiceEngine(VibeVoiceEngine.Settings.model_validate(settings), context)
    asyncio.run(engine.load())
    try:
        yield engine
    finally:
        asyncio.run(engine.close())
