"""Qwen3-TTS (multilingual preset speakers, style instructions, voice cloning) as the ``qwen3``
TTS engine.

The engine runs in a worker process inside its own virtual environment (qwen-tts pins
transformers 4.57, which cannot live beside the daemon's transformers 5): create it with
``voxgate plugins install tts_qwen3``, then fetch a model with ``voxgate models download
custom_0_6b``. Importing this module stays cheap: nothing heavy is imported in the daemon at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.engines import TTSEngine
from core.hookspecs import hookimpl
from core.model_store.registry import ModelSpec
from core.workers.environment import WorkerEnvironment
from plugins.tts_qwen3.engine import Qwen3Engine
from plugins.tts_qwen3.environment import ENVIRONMENT
from plugins.tts_qwen3.models import MODELS


@hookimpl
def voxgate_tts_engines() -> Mapping[str, type[TTSEngine]]:
    return {"qwen3": Qwen3Engine}


@hookimpl
def voxgate_models() -> Sequence[ModelSpec]:
    return MODELS


@hookimpl
def voxgate_worker_environments() -> Sequence[WorkerEnvironment]:
    return (ENVIRONMENT,)
