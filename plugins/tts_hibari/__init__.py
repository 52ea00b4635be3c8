"""Offline English text-to-speech with hibari-tts (Apache-2.0), the embedded default voice.

Registers the ``hibari`` TTS engine. Importing this module stays cheap: hibari and onnxruntime
are imported only when the engine loads.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.engines import TTSEngine
from core.hookspecs import hookimpl
from plugins.tts_hibari.engine import HibariEngine


@hookimpl
def voxgate_tts_engines() -> Mapping[str, type[TTSEngine]]:
    return {"hibari": HibariEngine}
