"""Speech to text for a session: one piece of an utterance through the STT chain.

The whole transcript of a piece is collected before it counts (``Router.gather``), so an engine
that fails part-way falls back like one that fails at once. Pieces were cut by the session's
voice activity detector, so the engine's own silence trimming is turned off, and one decoding
pass is enough (what live transcription asks of an engine too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.audio.chunk import AudioChunk
from core.audio.resample import at_rate
from core.engines.base import Capability
from core.engines.stt import Segment, STTEngine, TranscriptionRequest
from core.realtime.settings import TranscriptionSettings
from core.realtime.utterance import Transcribe
from core.runtime.generation import Generation
from core.stt_stream.events import joined_text
from core.stt_stream.routed import QUICK_PASS


def transcriber(
    generation: Generation, model: str | None, settings: TranscriptionSettings
) -> Transcribe:
    async def transcribe(audio: AudioChunk, before: str | None) -> str:
        async def run(engine: STTEngine) -> AsyncIterator[Segment]:
            chunk = await at_rate(audio, engine.sample_rate)
            prompt = " ".join(p for p in (settings.prompt, before) if p) or None
            request = TranscriptionRequest(
                audio=chunk, language=settings.language, prompt=prompt, options=dict(QUICK_PASS)
            )
            async for segment in engine.transcribe(request):
                yield segment

        # A long piece (up to 25 s) may take its engine longer to read, as a long file would.
        per_second = generation.config.config.policy.stt_timeout_per_audio_second
        routed = await generation.router.gather(
            Capability.STT, model, run, extra_time=audio.duration * per_second
        )
        return joined_text(routed.value)

    return transcribe
