"""One voice turn: audio in -> transcript -> streamed reply -> speech, overlapped.

Speech for the reply starts as soon as the model has produced its first whole sentence, so the
time to first audio is STT + the first sentence, not STT + the whole reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.api.engine_calls import SpeakOptions, TranscribeOptions, synthesize, transcribe_all
from core.api.grounding import RagBlock, ground
from core.audio.chunk import AudioChunk
from core.audio.encode import StreamEncoder, open_encoder
from core.audio.wav_file import finalize_wav_bytes
from core.engines.base import Capability
from core.engines.llm import ChatDelta, ChatMessage, ChatRequest, LLMEngine, Usage
from core.routing.errors import Attempt
from core.runtime.generation import Generation
from core.text.segment import SentenceSegmenter

# Sentences shorter than this are held back and joined with the next (fewer, smoother TTS calls).
_MIN_SENTENCE_CHARS = 12

Emit = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class TurnPlan:
    transcribe: TranscribeOptions
    speak: SpeakOptions
    llm_model: str | None
    history: list[ChatMessage]
    system_prompt: str
    temperature: float | None
    max_tokens: int
    #: Output audio format, or None for a text-only reply.
    audio_format: str | None
    #: Ground the reply in retrieved chunks (the transcript is the question).
    rag: RagBlock | None = None


@dataclass
class TurnResult:
    transcript: str = ""
    language: str | None = None
    reply: str = ""
    audio: bytes = b""
    sample_rate: int | None = None
    engines: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    voice: str | None = None
    usage: Usage | None = None
    #: Sources the reply was grounded in (None when the turn had no ``rag`` block).
    citations: list[dict[str, Any]] | None = None
    #: Seconds from the start of the turn for each milestone (see ``latency_ms``).
    marks: dict[str, float] = field(default_factory=dict)

    def latency_ms(self) -> dict[str, float | None]:
        def ms(key: str) -> float | None:
            value = self.marks.get(key)
            return None if value is None else round(value * 1000, 1)

        # "rag" only for grounded turns; the others are always reported.
        grounded = {"rag": ms("rag")} if "rag" in self.marks else {}
        return {
            "stt": ms("stt"),
            **grounded,
            "llm_first_token": ms("llm_first_token"),
            "llm_total": ms("llm_total"),
            "tts_first_audio": ms("tts_first_audio"),
            "tts_total": ms("tts_total"),
            "end_to_end": ms("end_to_end"),
        }


class TurnFailed(Exception):
    """A turn failed after it had produced something (the transcript, part of the reply): the
    client gets what was made together with the error."""

    def __init__(self, result: TurnResult, error: BaseException) -> None:
        super().__init__(str(error))
        self.result = result
        self.error = error


def _header_list(attempts: list[Attempt]) -> list[str]:
    return [a.header() for a in attempts]


async def run_turn(
    generation: Generation,
    audio: AudioChunk,
    plan: TurnPlan,
    started: float,
    emit: Emit | None = None,
) -> TurnResult:
    """Run the whole turn; ``emit`` (if given) receives events as they happen, for SSE."""
    result = TurnResult()

    def mark(name: str) -> None:
        result.marks.setdefault(name, time.perf_counter() - started)

    async def send(event: dict[str, Any]) -> None:
        if emit is not None:
            await emit(event)

    # The whole transcript is needed before the reply starts: an STT engine failing part-way
    # falls back like one failing at once.
    heard = await transcribe_all(generation, audio, plan.transcribe)
    texts: list[str] = []
    for segment in heard.value:
        if segment.language and result.language is None:
            result.language = segment.language
        if segment.text.strip():
            texts.append(segment.text.strip())
    mark("stt")
    result.transcript = " ".join(texts)
    result.engines["stt"] = heard.engine
    if heard.attempts:
        result.fallbacks["stt"] = _header_list(heard.attempts)
    await send(
        {"type": "conversation.transcript", "text": result.transcript, "language": result.language}
    )
    if not result.transcript:
        mark("end_to_end")
        return result

    messages = [ChatMessage("system", plan.system_prompt)]
    if plan.rag is not None:
        grounding = await ground(generation, plan.rag, result.transcript)
        mark("rag")
        result.citations = grounding.citations
        if grounding.engine:
            result.engines["rag"] = grounding.engine
        if grounding.web_engine:
            result.engines["search"] = grounding.web_engine
        messages.append(grounding.message)
        await send({"type": "conversation.citations", "citations": grounding.citations})
    messages += [*plan.history, ChatMessage("user", result.transcript)]
    request = ChatRequest(
        messages=tuple(messages), temperature=plan.temperature, max_tokens=plan.max_tokens
    )

    def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
        return engine.chat(request)

    tokens = await generation.router.stream(Capability.LLM, plan.llm_model, run)
    result.engines["llm"] = tokens.engine
    if tokens.attempts:
        result.fallbacks["llm"] = _header_list(tokens.attempts)

    sentences: asyncio.Queue[str | None] = asyncio.Queue()
    speaker = (
        asyncio.create_task(_speak_sentences(generation, plan, sentences, result, mark, send))
        if plan.audio_format is not None
        else None
    )
    buffer = SentenceSegmenter(min_chars=_MIN_SENTENCE_CHARS)
    reply: list[str] = []
    try:
        async for delta in tokens:
            if delta.usage is not None:
                result.usage = delta.usage
            if speaker is not None and speaker.done():
                break  # speech failed: no point generating words nobody will hear
            if not delta.text:
                continue
            mark("llm_first_token")
            reply.append(delta.text)
            await send({"type": "conversation.reply.delta", "delta": delta.text})
            for sentence in buffer.feed(delta.text):
                sentences.put_nowait(sentence)
        else:
            mark("llm_total")
            for sentence in buffer.flush():
                sentences.put_nowait(sentence)
        sentences.put_nowait(None)
        if speaker is not None:
            await speaker
    except Exception as exc:
        # The transcript and the words already written are not lost with the failure.
        result.reply = "".join(reply).strip()
        raise TurnFailed(result, exc) from exc
    finally:
        await tokens.aclose()  # stops the LLM if the loop was left early
        if speaker is not None and not speaker.done():
            speaker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await speaker
    result.reply = "".join(reply).strip()
    mark("end_to_end")
    return result


async def _speak_sentences(
    generation: Generation,
    plan: TurnPlan,
    sentences: asyncio.Queue[str | None],
    result: TurnResult,
    mark: Callable[[str], None],
    send: Emit,
) -> None:
    """Synthesize queued sentences in order into one encoded stream."""
    assert plan.audio_format is not None
    encoder: StreamEncoder | None = None
    parts: list[bytes] = []

    async def out(data: bytes) -> None:
        if data:
            parts.append(data)
            await send({"type": "conversation.audio.delta", "audio": data})

    while (sentence := await sentences.get()) is not None:
        stream, chooser = await synthesize(generation, sentence, plan.speak)
        result.engines.setdefault("tts", stream.engine)
        if stream.attempts:
            result.fallbacks.setdefault("tts", _header_list(stream.attempts))
        result.voice = chooser.used.get(stream.engine, result.voice)
        async for chunk in stream:
            mark("tts_first_audio")
            if encoder is None:
                encoder = open_encoder(plan.audio_format, chunk.sample_rate)
                result.sample_rate = encoder.sample_rate
            await out(await asyncio.to_thread(encoder.encode, chunk))
    if encoder is not None:
        await out(await asyncio.to_thread(encoder.finish))
    mark("tts_total")
    audio = b"".join(parts)
    # The whole file is in hand: the header gets its real sizes instead of "unknown".
    result.audio = finalize_wav_bytes(audio) if plan.audio_format == "wav" else audio
