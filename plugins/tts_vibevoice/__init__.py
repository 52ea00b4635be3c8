"""VibeVoice (long-form, multi-speaker speech cloned from reference clips) as the ``vibevoice``
TTS engine, run by transformers in the daemon's own environment.

Install with ``pip install 'voxgate[tts_vibevoice]'`` (transformers 5 and diffusers), fetch a
model with ``voxgate models download vibevoice_1_5b``. Importing this module stays cheap: torch
and transformers are imported only when the engine loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.engines import TTSEngine
from core.hookspecs import hookimpl
from core.model_store.registry import ModelSpec
from plugins.tts_vibevoice.engine import VibeVoiceEngine
from plugins.tts_vibevoice.models import MODELS


@hookimpl
def voxgate_tts_engines() -> Mapping[str, type[TTSEngine]]:
    return {"vibevoice": VibeVoiceEngine}


@hookimpl
def voxgate_models() -> Sequence[ModelSpec]:
    return MODELS
