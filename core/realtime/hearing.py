"""Speech to text for a session: one piece of an utterance through the STT chain.

The whole transcript of a piece is collected before it counts (``Router.gather``), so an engine
that fails part-way falls back like one that fails at once. One decoding pass is enough (what
live transcription asks of an engine too). Pieces the session's voice activity detector cut need
no more silence trimming; audio no detector saw (a manual commit, an item's audio part) keeps the
engine's own, or a buffer of silence comes back as Whisper's "you".
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

_UNCUT = {name: value for name, value in QUICK_PASS.items() if name != "vad_filter"}


def transcriber(
    generation: Generation, model: str | None, settings: TranscriptionSettings, *, cut: bool = True
) -> Transcribe:
    """``cut``: the audio is speech the detector found, not whatever a client sent."""
    options = QUICK_PASS if cut else _UNCUT

    async def transcribe(audio: AudioChunk, before: str | None) -> str:
        async def run(engine: STTEngine) -> AsyncIterator[Segment]:
            chunk = await at_rate(audio, engine.sample_rate)
            prompt = " ".join(p for p in (settings.prompt, before) if p) or None
            request = TranscriptionRequest(
                audio=chunk, language=settings.language, prompt=prompt, options=dict(options)
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
