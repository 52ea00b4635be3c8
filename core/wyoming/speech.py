"""Text to speech: ``synthesize`` (one text) and streaming synthesis (``synthesize-start``,
``-chunk``s, ``-stop``, answered by ``synthesize-stopped``).

A one-shot text is one routed call (the engines speak it sentence by sentence). A stream is cut
into sentences as text arrives (:class:`core.text.segment.SentenceSegmenter`) and each sentence
is spoken as soon as it is complete, one routed call per sentence, in order, while more text is
still arriving: Home Assistant hears the start of a long answer while the language model is
still writing the end. Each sentence is framed by its own ``audio-start``/``audio-stop`` in the
format of the first.

A voice that only a later engine of the chain offers starts the chain at that engine (the
engines after it remain the fallback); any other voice name is matched as over HTTP (aliases,
``voice_map``, the closest voice of each engine).
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import structlog
from wyoming.tts import SynthesizeStopped

from core.api.engine_calls import SpeakOptions, synthesize
from core.engines.base import Capability
from core.runtime.generation import Generation
from core.text.segment import SentenceSegmenter
from core.wyoming.audio_out import SpeechOut
from core.wyoming.context import Context
from core.wyoming.errors import Refusal
from core.wyoming.info import offered_voices

log = structlog.get_logger(__name__)

#: A streamed answer may be this many times ``limits.max_speech_chars`` long in all.
STREAM_CHARS_FACTOR = 16


@dataclass(frozen=True, slots=True)
class VoiceAsked:
    """The ``voice`` of a synthesize event: a voice name (and speaker), or only a language."""

    name: str | None = None
    speaker: str | None = None
    language: str | None = None

    @classmethod
    def of(cls, value: Any) -> VoiceAsked:
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise Refusal("'voice' must be an object with name, speaker or language")
        fields = {key: value.get(key) for key in ("name", "speaker", "language")}
        if any(v is not None and not isinstance(v, str) for v in fields.values()):
            raise Refusal("voice name, speaker and language must be strings")
        return cls(**{key: v or None for key, v in fields.items()})


def text_of(data: dict[str, Any], limit: int) -> str:
    text = data.get("text")
    if not isinstance(text, str):
        raise Refusal("the event needs a string 'text'")
    if len(text) > limit:
        raise Refusal(f"text is longer than the limit of {limit} characters", code="input_too_long")
    return text


def _speakable(text: str) -> bool:
    # Zero-width characters and bare punctuation leave an engine nothing to say.
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


async def _plan(
    generation: Generation, model: str | None, voice: VoiceAsked
) -> tuple[SpeakOptions, frozenset[str]]:
    """Options for the engine calls, and the engines of the chain to pass over."""
    if voice.name is None:
        return SpeakOptions(model=model, language=voice.language), frozenset()
    name = generation.config.config.voices.aliases.get(voice.name, voice.name)
    wanted = [f"{name}:{voice.speaker}", name] if voice.speaker else [name]
    slots = generation.router.chain(Capability.TTS, model).slots
    for index, slot in enumerate(slots):
        offered = {voice.id for voice in await offered_voices(slot)}
        for candidate in wanted:
            if candidate in offered:
                skip = frozenset(s.name for s in slots[:index])
                return SpeakOptions(model=model, voice=candidate), skip
    return SpeakOptions(model=model, voice=voice.name), frozenset()


async def _speak(
    ctx: Context,
    generation: Generation,
    text: str,
    plan: tuple[SpeakOptions, frozenset[str]],
    out: SpeechOut,
) -> str | None:
    """Speak one text as audio-start, chunks, audio-stop; the engine, or None without audio."""
    options, skip = plan
    stream, _ = await synthesize(generation, text, options, skip=skip)
    spoke = False
    async for chunk in stream:
        if not spoke:
            await ctx.writer.write(out.start(chunk.sample_rate))
            spoke = True
        await ctx.writer.write_all(out.chunks(chunk))
    if not spoke:
        return None
    await ctx.writer.write(out.stop())
    return stream.engine


async def speak_once(ctx: Context, data: dict[str, Any]) -> None:
    """Answer a ``synthesize`` event outside a stream."""
    text = text_of(data, ctx.limits.max_speech_chars).strip()
    if not _speakable(text):
        raise Refusal("text must contain something to speak", code="empty_input")
    voice = VoiceAsked.of(data.get("voice"))
    started = time.perf_counter()
    out = SpeechOut(on_first=lambda: ctx.first_result("synthesize", started))
    async with ctx.runtime.lease() as generation:
        plan = await _plan(generation, ctx.settings.tts_model, voice)
        engine = await _speak(ctx, generation, text, plan, out)
        if engine is None:
            await ctx.writer.write(out.stop())
    ctx.count("synthesize", "ok")
    log.info("wyoming.spoke", engine=engine, chars=len(text), audio_seconds=out.seconds)


class SpeechStream:
    """One streaming synthesis: text pieces in (:meth:`feed`), audio out as sentences complete.

    The speaking runs in its own task (:attr:`task`) so text keeps arriving meanwhile; the
    connection watches that task and reports its failure.
    """

    def __init__(self, ctx: Context, data: dict[str, Any]) -> None:
        self._ctx = ctx
        self._voice = VoiceAsked.of(data.get("voice"))
        self._segmenter = SentenceSegmenter()
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self._chars = 0
        self._limit = ctx.limits.max_speech_chars * STREAM_CHARS_FACTOR
        #: When the first sentence was complete: the stream's own latency counts from there.
        self._first_sentence: float | None = None
        self._busy = False
        self._out = SpeechOut(on_first=self._first_audio)
        self._engines: set[str] = set()
        self._spoken = 0
        self.task = asyncio.create_task(self._speak_all(), name="wyoming-speech-stream")

    @property
    def speaking(self) -> bool:
        """Sentences are queued or being spoken."""
        return self._busy or not self._sentences.empty()

    def feed(self, data: dict[str, Any]) -> None:
        text = text_of(data, self._ctx.limits.max_speech_chars)
        self._chars += len(text)
        if self._chars > self._limit:
            raise Refusal(
                f"a streamed text may be {self._limit} characters long in all",
                code="input_too_long",
            )
        self._queue(self._segmenter.feed(text))

    async def finish(self) -> None:
        """The text is complete: speak the rest, then say ``synthesize-stopped``."""
        self._queue(self._segmenter.flush())
        self._sentences.put_nowait(None)
        await self.task
        await self._ctx.writer.write(SynthesizeStopped().event())
        self._ctx.count("synthesize_stream", "ok")
        log.info(
            "wyoming.spoke_stream",
            engines=sorted(self._engines),
            sentences=self._spoken,
            chars=self._chars,
            audio_seconds=self._out.seconds,
        )

    def _queue(self, sentences: list[str]) -> None:
        if sentences and self._first_sentence is None:
            self._first_sentence = time.perf_counter()
        for sentence in sentences:
            self._sentences.put_nowait(sentence)

    def _first_audio(self) -> None:
        self._ctx.first_result("synthesize_stream", self._first_sentence or time.perf_counter())

    async def cancel(self) -> None:
        if not self.task.done():
            self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def _speak_all(self) -> None:
        # One configuration for the whole answer: a reload never changes the voice mid-answer.
        async with self._ctx.runtime.lease() as generation:
            plan = await _plan(generation, self._ctx.settings.tts_model, self._voice)
            while (sentence := await self._sentences.get()) is not None:
                self._busy = True
                if _speakable(sentence):
                    engine = await _speak(self._ctx, generation, sentence, plan, self._out)
                    self._engines.update([engine] if engine else [])
                    self._spoken += 1
                self._busy = False
