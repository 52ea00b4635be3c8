"""Offline text-to-speech with Piper voices (piper-tts, GPL-3.0-or-later: an optional extra).

Registers the ``piper`` TTS engine. Importing this module stays cheap: piper and onnxruntime are
imported only when the engine loads.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.engines import TTSEngine
from core.hookspecs import hookimpl
from plugins.tts_piper.engine import PiperEngine


@hookimpl
def voxgate_tts_engines() -> Mapping[str, type[TTSEngine]]:
    return {"piper": PiperEngine}
