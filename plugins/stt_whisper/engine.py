"""The ``faster_whisper`` STT engine: Whisper through CTranslate2, offline.

The model is found locally (:mod:`plugins.stt_whisper.model_source`) and loaded in a thread;
each request decodes in its own thread and hands segments out as they are decoded, so the SSE
mode of ``/v1/audio/transcriptions`` streams them. faster-whisper itself is imported only in
:meth:`FasterWhisperEngine.load`.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

import structlog

from core.audio.chunk import FloatArray
from core.audio.resample import resample
from core.engines.base import EngineContext, EngineSettings, Health
from core.engines.errors import EngineUnavailable
from core.engines.stt import Segment, STTEngine, TranscriptionRequest
from core.engines.threaded import ThreadedIterator
from plugins.stt_whisper.model_source import resolve_model
from plugins.stt_whisper.request_options import decode_options
from plugins.stt_whisper.settings import WhisperSettings

if TYPE_CHECKING:
    from plugins.stt_whisper.decoding import WhisperDecoder

log = structlog.get_logger(__name__)

INSTALL_HINT = "install it with: pip install 'voxgate[stt_whisper]'"


class FasterWhisperEngine(STTEngine):
    Settings: ClassVar[type[EngineSettings]] = WhisperSettings
    description: ClassVar[str] = (
        "faster-whisper (CTranslate2): Whisper tiny.en offline by default, any CTranslate2 model"
    )
    # With a multilingual model; English-only models (tiny.en) answer Unsupported instead.
    supports_translation: ClassVar[bool] = True
    # One request decodes while the next extracts features; CTranslate2 queues the rest.
    default_max_concurrency: ClassVar[int] = 2

    settings: WhisperSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._decoder: WhisperDecoder | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def load(self) -> None:
        decoder = await asyncio.to_thread(self._open)
        await asyncio.to_thread(decoder.warm_up)
        self._decoder = decoder
        log.info(
            "stt.model_loaded",
            engine=self.name,
            model=self.settings.model,
            folder=str(decoder.source.folder),
            device=decoder.placement.device,
            compute_type=decoder.placement.compute_type,
            threads=decoder.placement.threads,
        )

    def _open(self) -> WhisperDecoder:
        source = resolve_model(self.settings.model, self.context.models_dir)
        if importlib.util.find_spec("faster_whisper") is None:
            raise EngineUnavailable(f"faster-whisper is not installed; {INSTALL_HINT}")
        from plugins.stt_whisper.decoding import WhisperDecoder

        return WhisperDecoder(source, self.settings)

    async def close(self) -> None:
        # Dropping the last reference frees the CTranslate2 model (and its GPU memory).
        self._decoder = None

    async def health(self) -> Health:
        if self._decoder is None:
            return Health(ok=False, detail="not loaded")
        return Health(ok=True)

    def info(self) -> dict[str, Any]:
        decoder = self._decoder
        facts: dict[str, Any] = {
            "model": self.settings.model,
            "vad_filter": self.settings.vad_filter,
            "vad_runtime": self.settings.vad_runtime,
        }
        if decoder is not None:
            facts.update(
                folder=str(decoder.source.folder),
                origin=decoder.source.origin,
                multilingual=decoder.multilingual,
                device=decoder.placement.device,
                compute_type=decoder.placement.compute_type,
                threads=decoder.placement.threads,
            )
        return facts

    def languages(self) -> tuple[str, ...]:
        decoder = self._decoder
        if decoder is None:
            return ()
        return tuple(sorted(decoder.languages)) if decoder.multilingual else ("en",)

    # -- transcription -------------------------------------------------------------------------

    async def transcribe(self, request: TranscriptionRequest) -> AsyncIterator[Segment]:
        decoder = self._decoder
        if decoder is None:
            raise EngineUnavailable(f"engine {self.name!r} is not loaded")
        options = decode_options(
            request,
            self.settings,
            multilingual=decoder.multilingual,
            languages=decoder.languages,
        )
        audio = request.audio
        segments = ThreadedIterator(
            lambda: decoder.segments(_at_16k(audio.samples, audio.sample_rate), options),
            name="faster-whisper",
        )
        try:
            async for segment in segments:
                yield segment
        finally:
            await segments.aclose()


def _at_16k(samples: FloatArray, rate: int) -> FloatArray:
    # The API already resamples to ``sample_rate``; direct callers might not.
    return resample(samples, rate, FasterWhisperEngine.sample_rate)
