"""Building the plugin's engines outside a runtime, and calling the STT engine directly."""

from __future__ import annotations

from typing import Any

from core.audio.chunk import AudioChunk
from core.engines.stt import (
    STTEngine,
    Transcription,
    TranscriptionRequest,
    collect_transcription,
)
from core.stt_stream.events import TranscribedAudio, Transcriber
from tests.support.engines import build_engine, loaded_engine

#: Building and loading an engine, as the tests here (and bench/bench_stt.py) call them.
build = build_engine
loaded = loaded_engine


async def transcribe(engine: STTEngine, audio: AudioChunk, **fields: Any) -> Transcription:
    request = TranscriptionRequest(audio=audio, **fields)
    return await collect_transcription(engine.transcribe(request), audio.duration)


def engine_transcriber(engine: STTEngine) -> Transcriber:
    """A session's transcriber backed by the engine itself (no router)."""

    async def run(audio: AudioChunk, *, final: bool) -> TranscribedAudio:
        options: dict[str, object] = {"vad_filter": False, "temperature_fallback": final}
        request = TranscriptionRequest(audio=audio, options=options)
        return TranscribedAudio(tuple([s async for s in engine.transcribe(request)]), engine.name)

    return run
