"""Speech to text: ``transcribe`` (options), ``audio-start``/``-chunk``/``-stop`` (the command),
answered by ``transcript``, framed by ``transcript-start``/``-chunk``/``-stop`` when streaming
transcripts is on (the chunks joined are exactly the transcript's text).

Streamed, segments leave as the engine decodes them; otherwise the whole transcript is gathered
first, so an engine failing part-way still falls back to the next one, as over HTTP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop

from core.api.engine_calls import TranscribeOptions, transcribe, transcribe_all
from core.engines.stt import Segment
from core.wyoming.audio_in import IncomingAudio
from core.wyoming.context import Context
from core.wyoming.errors import Refusal

log = structlog.get_logger(__name__)

#: Names and terms a client wants recognized become the decoder's prompt, up to this length
#: (Whisper reads about 220 tokens of prompt).
_PROMPT_CHARS = 600


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Refusal(f"'{field}' must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _language(value: Any) -> str | None:
    """``en-US`` or ``en_US`` as ``en``: speech-to-text engines take ISO 639-1 codes."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Refusal("'language' must be a string")
    return value.replace("_", "-").split("-", 1)[0].lower() or None


@dataclass(frozen=True, slots=True)
class CommandOptions:
    """What a ``transcribe`` event asked for (all optional)."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> CommandOptions:
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise Refusal("'name' must be a string")
        hints = _strings(data.get("transcript_names"), "transcript_names")
        hints += _strings(data.get("transcript_terms"), "transcript_terms")
        prompt = ", ".join(hints)[:_PROMPT_CHARS] or None
        return cls(model=name or None, language=_language(data.get("language")), prompt=prompt)


async def answer(ctx: Context, options: CommandOptions, audio: IncomingAudio | None) -> None:
    """Transcribe a finished command and send the transcript."""
    started = time.perf_counter()
    stream = ctx.settings.stream_transcripts
    if audio is None or audio.empty:
        await _send(ctx, "", options.language, stream=stream)
        ctx.first_result("transcribe", started)
        ctx.count("transcribe", "ok")
        return
    chunk = audio.chunk()
    engine: str
    call = TranscribeOptions(
        model=options.model or ctx.settings.stt_model,
        language=options.language,
        prompt=options.prompt,
    )
    async with ctx.runtime.lease() as generation:
        if not stream:
            whole = await transcribe_all(generation, chunk, call)
            text, language = _joined(whole.value, options.language)
            await _send(ctx, text, language, stream=False)
            engine = whole.engine
        else:
            routed = await transcribe(generation, chunk, call)
            first = routed.first
            language = (first.language if first else None) or options.language
            await ctx.writer.write(TranscriptStart(language=language).event())
            pieces: list[str] = []
            async for segment in routed:
                piece = segment.text.strip()
                if not piece:
                    continue
                await ctx.writer.write(
                    TranscriptChunk(text=piece if not pieces else " " + piece).event()
                )
                pieces.append(piece)
            text = " ".join(pieces)
            await ctx.writer.write(Transcript(text=text, language=language).event())
            await ctx.writer.write(TranscriptStop().event())
            engine = routed.engine
    ctx.first_result("transcribe", started)
    ctx.count("transcribe", "ok")
    log.info(
        "wyoming.transcribed",
        engine=engine,
        audio_seconds=round(audio.seconds, 2),
        seconds=round(time.perf_counter() - started, 3),
        chars=len(text),
    )


def _joined(segments: list[Segment], language: str | None) -> tuple[str, str | None]:
    detected = next((s.language for s in segments if s.language), language)
    return " ".join(s.text.strip() for s in segments if s.text.strip()), detected


async def _send(ctx: Context, text: str, language: str | None, *, stream: bool) -> None:
    if not stream:
        await ctx.writer.write(Transcript(text=text, language=language).event())
        return
    await ctx.writer.write_all(
        [
            TranscriptStart(language=language).event(),
            *([TranscriptChunk(text=text).event()] if text else []),
            Transcript(text=text, language=language).event(),
            TranscriptStop().event(),
        ]
    )
