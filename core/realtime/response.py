"""One reply of a session: the language model's tokens cut into sentences, each spoken as soon as
it is complete, the audio sent to the client in small pieces, paced to real time.

Three tasks work at once: the *writer* (LLM tokens -> sentences), the *speaker* (sentences ->
audio, :mod:`core.realtime.voice`) and the *sender* (events to the client). The writer and the
speaker start at once; the sender waits until the reply is *released*. A reply made
speculatively (while the user may still go on talking) is thus ready but unheard until its turn
is confirmed, and can be dropped without the client ever seeing it.

Pacing: audio is sent at most ``output_lead`` ahead of real time, counted from the first byte,
which is also when playback is assumed to start. That clock says what the listener has heard
when the reply is cut short (:meth:`Response.cancel`): the reply is truncated there, so the next
reply's context holds no word that was not heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
import structlog

from core.audio.chunk import FloatArray
from core.audio.resample import resample
from core.engines.llm import ChatMessage, FunctionTool, ToolChoice, Usage
from core.realtime import events as ev
from core.realtime.conversation import Content, Conversation, Item, heard_part, new_id
from core.realtime.echo import EchoGuard
from core.realtime.failures import failure_info
from core.realtime.formats import AudioFormat, OutputEncoder
from core.realtime.reply import NO_TOOLS, FunctionCall, ReplyEnd, TextPiece, reply_events
from core.realtime.settings import Modality
from core.realtime.spoken import SpokenSentence
from core.realtime.voice import ReplyVoice
from core.runtime.generation import Generation
from core.stt_stream.framing import ChunkDecoder
from core.text.segment import SentenceSegmenter

log = structlog.get_logger(__name__)

Emit = Callable[[ev.Event], None]
#: Sentences shorter than this are joined with the next (fewer, smoother TTS calls).
_MIN_SENTENCE_CHARS = 12
#: Audio is sent in pieces of this length.
_PIECE_MS = 100
_ECHO_RATE = 16_000


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    modalities: tuple[Modality, ...]
    voice: str
    output_format: AudioFormat
    speed: float
    llm: str | None
    tts: str | None
    max_tokens: int
    #: What the client asked for (reported back; None means "inf").
    max_output_tokens: int | None
    temperature: float | None
    #: False for an out-of-band reply that does not join the conversation.
    in_conversation: bool
    output_lead: float | None
    metadata: dict[str, str] | None = None
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: ToolChoice = NO_TOOLS

    @property
    def speaks(self) -> bool:
        return "audio" in self.modalities

    @property
    def may_call(self) -> bool:
        """Whether the model may answer with function calls instead of (or after) words."""
        return bool(self.tools) and self.tool_choice.mode != "none"


class PlaybackClock:
    """Where the client is in the reply's audio, assuming it plays from the first byte on."""

    def __init__(self) -> None:
        self.first_at: float | None = None
        self.sent_ms = 0.0

    def played_ms(self, now: float) -> float:
        if self.first_at is None:
            return 0.0
        return min(self.sent_ms, (now - self.first_at) * 1000)

    def ends_at(self) -> float | None:
        return None if self.first_at is None else self.first_at + self.sent_ms / 1000

    def playing(self, now: float) -> bool:
        end = self.ends_at()
        return end is not None and now < end


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str


@dataclass(frozen=True, slots=True)
class _Restart:
    """The current sentence starts again (its engine died)."""


@dataclass(frozen=True, slots=True)
class _Audio:
    data: bytes
    samples: FloatArray
    rate: int


@dataclass(frozen=True, slots=True)
class _End:
    finish_reason: str | None = None
    usage: Usage | None = None
    error: ev.ErrorInfo | None = None


#: What the sender works through in order; the model's text pieces (replies that do not speak)
#: and function calls pass through as the model's reply gave them.
_Step = _Sentence | _Restart | _Audio | TextPiece | FunctionCall | _End


@dataclass
class Marks:
    """perf_counter() times of a reply's milestones (for the latency log and the bench)."""

    started: float = field(default_factory=time.perf_counter)
    first_sentence: float | None = None
    first_audio_ready: float | None = None
    released: float | None = None
    first_audio_sent: float | None = None


@dataclass(eq=False, repr=False)
class Response:
    plan: ResponsePlan
    _generation: Generation
    _context: Callable[[], Awaitable[list[ChatMessage]]]
    _conversation: Conversation
    _emit: Emit
    _guard: EchoGuard
    _on_finished: Callable[[Response], None]

    def __post_init__(self) -> None:
        self.id = new_id("resp")
        first = (
            Content("output_audio", transcript="")
            if self.plan.speaks
            else Content("output_text", text="")
        )
        self.item = Item(id=new_id("item"), role="assistant", status="in_progress", content=[first])
        self.clock = PlaybackClock()
        self.marks = Marks()
        self.status: ev.ResponseStatus = "in_progress"
        self._steps: asyncio.Queue[_Step] = asyncio.Queue()
        self._release = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sender: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()
        self._closing: asyncio.Task[None] | None = None
        self._spoken: list[SpokenSentence] = []
        self._text: list[str] = []
        self._usage: Usage | None = None
        self._announced = False
        #: The assistant message is announced at release, or (when the model may call functions
        #: instead of speaking) with its first words; ``_outputs`` lists what was announced.
        self._message_open = False
        self._outputs: list[Item] = []
        self._speak_error: ev.ErrorInfo | None = None
        self.engines: dict[str, str] = {}
        #: The function calls this reply made (sent whole, in order).
        self.calls: list[FunctionCall] = []
        self._message_index = 0
        #: The voice each TTS engine was asked for (a replacement gets the closest one).
        self.voices: dict[str, str | None] = {}

    # -- control ---------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._write(), name=f"realtime-write:{self.id}")]
        self._sender = asyncio.create_task(self._send(), name=f"realtime-send:{self.id}")

    @property
    def released(self) -> bool:
        return self._release.is_set()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def release(self) -> None:
        """Let the reply reach the client (its turn is confirmed)."""
        if not self._release.is_set():
            self.marks.released = time.perf_counter()
            self._release.set()

    async def wait(self) -> None:
        await self._finished.wait()

    def cancel(self, reason: ev.StatusReason | None, now: float | None = None) -> None:
        """Stop now: nothing more is sent; the reply is cut at what the client had heard at
        ``now`` (perf_counter time; default: this moment).

        A reply never released is dropped silently. The engines' work stops in the background
        (each stops within one token or one chunk)."""
        if self._finished.is_set():
            return
        if self._sender is not None:
            self._sender.cancel()
        for task in self._tasks:
            task.cancel()
        if self._announced:
            played = self.clock.played_ms(time.perf_counter() if now is None else now)
            self._cut_at(played)
            self.item.status = "incomplete"
            self._close_events("cancelled", reason=reason)
        self.status = "cancelled"
        self._finish()

    async def aclose(self) -> None:
        """Cancel (if still running) and wait until every task has let go of its engine."""
        self.cancel(None)
        if self._closing is not None:
            await asyncio.shield(self._closing)

    # -- the writer: LLM -> sentences ------------------------------------------------------

    async def _write(self) -> None:
        plan = self.plan
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        speaker: asyncio.Task[None] | None = None
        if plan.speaks:
            speaker = asyncio.create_task(self._speak(sentences), name=f"realtime-speak:{self.id}")
            self._tasks.append(speaker)
        segmenter = SentenceSegmenter(min_chars=_MIN_SENTENCE_CHARS)
        end = _End()
        calls: list[FunctionCall] = []
        try:
            messages = await self._context()
            async for event in reply_events(
                self._generation,
                plan.llm,
                messages,
                temperature=plan.temperature,
                max_tokens=plan.max_tokens,
                tools=plan.tools,
                tool_choice=plan.tool_choice,
            ):
                if isinstance(event, TextPiece):
                    self._text.append(event.text)
                    if not plan.speaks:
                        self._steps.put_nowait(event)
                        continue
                    for sentence in segmenter.feed(event.text):
                        self._sentence_ready()
                        sentences.put_nowait(sentence)
                elif isinstance(event, FunctionCall):
                    calls.append(event)
                elif isinstance(event, ReplyEnd):
                    self.engines["llm"] = event.engine
                    end = _End(event.finish_reason, event.usage)
            for sentence in segmenter.flush():
                self._sentence_ready()
                sentences.put_nowait(sentence)
        except Exception as exc:  # reported on the reply (status failed); the session goes on
            end = _End(error=_error_info(exc))
        sentences.put_nowait(None)
        if speaker is not None:
            await speaker
            if self._speak_error is not None and end.error is None:
                end = _End(end.finish_reason, end.usage, self._speak_error)
        if end.error is None:
            # After the words (if any): calls come whole once the model has finished.
            for call in calls:
                self._steps.put_nowait(call)
        self._steps.put_nowait(end)

    def _sentence_ready(self) -> None:
        if self.marks.first_sentence is None:
            self.marks.first_sentence = time.perf_counter()

    # -- the speaker: sentences -> audio pieces --------------------------------------------

    async def _speak(self, sentences: asyncio.Queue[str | None]) -> None:
        plan = self.plan
        voice = ReplyVoice(self._generation, plan.tts, plan.voice, speed=plan.speed)
        encoder = OutputEncoder(plan.output_format)
        piece = int(plan.output_format.sample_rate * _PIECE_MS / 1000)
        try:
            while (sentence := await sentences.get()) is not None:
                self._steps.put_nowait(_Sentence(sentence))
                attempt = 0
                pending = np.zeros(0, dtype=np.float32)
                async for spoken in voice.speak(sentence):
                    if spoken.attempt != attempt:
                        attempt = spoken.attempt
                        pending = np.zeros(0, dtype=np.float32)
                        encoder.flush()
                        self._steps.put_nowait(_Restart())
                    if self.marks.first_audio_ready is None:
                        self.marks.first_audio_ready = time.perf_counter()
                    pending = np.concatenate([pending, encoder.resampled(spoken.chunk)])
                    while len(pending) >= piece:
                        self._queue_audio(encoder, pending[:piece])
                        pending = pending[piece:]
                if len(pending):
                    self._queue_audio(encoder, pending)
            self._queue_audio(encoder, None)
        except Exception as exc:  # a sentence no engine could speak: the reply ends there
            self._speak_error = _error_info(exc)
        finally:
            if voice.engines:
                self.engines["tts"] = ",".join(voice.engines)
                self.voices = {name: voice.voice_of(name) for name in voice.engines}

    def _queue_audio(self, encoder: OutputEncoder, samples: FloatArray | None) -> None:
        if samples is None:
            data = encoder.flush()
            if not data:
                return
            rate = encoder.format.sample_rate
            samples = _decoded(data, encoder.format)
        else:
            data = encoder.to_bytes(samples)
            rate = encoder.format.sample_rate
        self._steps.put_nowait(_Audio(data, samples, rate))

    # -- the sender: events to the client --------------------------------------------------

    async def _send(self) -> None:
        await self._release.wait()
        self._announced = True
        self._emit(ev.ResponseCreated(self.info()))
        if not self.plan.may_call:
            self._open_message()
        sentence: str | None = None
        sentence_start = 0.0
        announced = False
        while True:
            step = await self._steps.get()
            if isinstance(step, _Sentence | TextPiece | _Audio):
                self._open_message()
            if isinstance(step, _Sentence):
                sentence, sentence_start, announced = step.text, self.clock.sent_ms, False
            elif isinstance(step, _Restart):
                sentence_start = self.clock.sent_ms
            elif isinstance(step, TextPiece):
                self._emit(ev.TextDelta(self._ref(), step.text))
                self._set_content(text="".join(self._text))
            elif isinstance(step, _Audio):
                if sentence is not None and not announced:
                    announced = True
                    delta = sentence if not self._spoken else " " + sentence
                    self._emit(ev.AudioTranscriptDelta(self._ref(), delta))
                    self._spoken.append(SpokenSentence(sentence, sentence_start, sentence_start))
                await self._pace()
                self._send_audio(step)
                if self._spoken:
                    last = self._spoken[-1]
                    self._spoken[-1] = SpokenSentence(last.text, sentence_start, self.clock.sent_ms)
                self._set_spoken()
            elif isinstance(step, FunctionCall):
                self._send_call(step)
            else:
                if not self._outputs:
                    self._open_message()  # a reply that said nothing still has its message
                self._complete(step)
                return

    def _open_message(self) -> None:
        if self._message_open:
            return
        self._message_open = True
        self._message_index = len(self._outputs)
        self._outputs.append(self.item)
        previous = self._conversation.add(self.item) if self.plan.in_conversation else None
        self._emit(ev.OutputItemAdded(self.id, self._message_index, self.item.snapshot()))
        if self.plan.in_conversation:
            self._emit(ev.ItemAdded(self.item.snapshot(), previous))
        self._emit(ev.ContentPartAdded(self._ref(), self.item.content[0]))

    def _send_call(self, call: FunctionCall) -> None:
        """A function call as its own output item (and conversation item): added, its
        arguments, done. The client runs it and answers with a function_call_output item."""
        item = Item(
            id=new_id("item"),
            type="function_call",
            status="in_progress",
            call_id=call.call_id,
            name=call.name,
            arguments="",
        )
        index = len(self._outputs)
        self._outputs.append(item)
        previous = self._conversation.add(item) if self.plan.in_conversation else None
        self._emit(ev.OutputItemAdded(self.id, index, item.snapshot()))
        if self.plan.in_conversation:
            self._emit(ev.ItemAdded(item.snapshot(), previous))
        self._emit(ev.CallArgumentsDelta(self.id, item.id, index, call.call_id, call.arguments))
        item.arguments = call.arguments
        item.status = "completed"
        self._emit(
            ev.CallArgumentsDone(self.id, item.id, index, call.call_id, call.name, call.arguments)
        )
        self._emit(ev.OutputItemDone(self.id, index, item.snapshot()))
        if self.plan.in_conversation:
            self._emit(ev.ItemDone(item.snapshot(), previous))
        self.calls.append(call)

    async def _pace(self) -> None:
        lead = self.plan.output_lead
        first = self.clock.first_at
        if lead is None or first is None:
            return
        due = first + self.clock.sent_ms / 1000 - lead
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

    def _send_audio(self, step: _Audio) -> None:
        now = time.perf_counter()
        if self.clock.first_at is None:
            self.clock.first_at = now
            self.marks.first_audio_sent = now
        plays_at = self.clock.first_at + self.clock.sent_ms / 1000
        self.clock.sent_ms += self.plan.output_format.milliseconds(len(step.data))
        self._emit(ev.AudioDelta(self._ref(), step.data))
        if self._guard.enabled:
            self._guard.played(resample(step.samples, step.rate, _ECHO_RATE), plays_at)

    def _complete(self, end: _End) -> None:
        self._usage = end.usage
        status: ev.ResponseStatus
        reason: ev.StatusReason | None
        if end.error is not None:
            status, reason = "failed", None
        elif end.finish_reason == "length":
            status, reason = "incomplete", "max_output_tokens"
        else:
            status, reason = "completed", None
        self.item.status = "completed" if status == "completed" else "incomplete"
        self._close_events(status, reason=reason, error=end.error)
        self.status = status
        self._finish()

    def _close_events(
        self,
        status: ev.ResponseStatus,
        *,
        reason: ev.StatusReason | None = None,
        error: ev.ErrorInfo | None = None,
    ) -> None:
        if self._message_open:
            self._close_message()
        self.status = status
        self._emit(ev.ResponseDone(self.info(reason=reason, error=error)))

    def _close_message(self) -> None:
        ref = self._ref()
        part = self.item.content[0]
        if self.plan.speaks:
            self._emit(ev.AudioDone(ref))
            self._emit(ev.AudioTranscriptDone(ref, part.transcript or ""))
        else:
            self._emit(ev.TextDone(ref, part.text or ""))
        self._emit(ev.ContentPartDone(ref, part))
        self._emit(ev.OutputItemDone(self.id, self._message_index, self.item.snapshot()))
        if self.plan.in_conversation:
            with contextlib.suppress(Exception):  # deleted by the client meanwhile
                previous = self._conversation.previous_of(self.item.id)
                self._emit(ev.ItemDone(self.item.snapshot(), previous))

    def _finish(self) -> None:
        self._finished.set()
        self._closing = asyncio.create_task(self._teardown(), name=f"realtime-close:{self.id}")
        self._on_finished(self)

    async def _teardown(self) -> None:
        tasks = [t for t in (*self._tasks, self._sender) if t is not None]
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- content and reporting -------------------------------------------------------------

    def _ref(self) -> ev.PartRef:
        return ev.PartRef(self.id, self.item.id, output_index=self._message_index)

    def _set_content(self, *, text: str) -> None:
        self.item.content[0] = Content("output_text", text=text)

    def _set_spoken(self) -> None:
        sentences = tuple(self._spoken)
        self.item.content[0] = Content(
            "output_audio",
            transcript=" ".join(s.text for s in sentences),
            audio_ms=self.clock.sent_ms,
            sentences=sentences,
        )

    def _cut_at(self, played_ms: float) -> None:
        part = self.item.content[0]
        if part.kind == "output_audio":
            self.item.content[0] = heard_part(part, played_ms)

    def info(
        self, *, reason: ev.StatusReason | None = None, error: ev.ErrorInfo | None = None
    ) -> ev.ResponseInfo:
        plan = self.plan
        done = self.status != "in_progress"
        return ev.ResponseInfo(
            id=self.id,
            status=self.status,
            output=tuple(item.snapshot() for item in self._outputs) if done else (),
            modalities=plan.modalities,
            voice=plan.voice,
            output_format=plan.output_format,
            max_output_tokens=plan.max_output_tokens,
            conversation_id="auto" if plan.in_conversation else None,
            metadata=plan.metadata,
            reason=reason,
            error=error,
            usage=self._usage,
            audio_seconds=self.clock.sent_ms / 1000,
        )


def _error_info(exc: BaseException) -> ev.ErrorInfo:
    return failure_info(exc)


def _decoded(data: bytes, fmt: AudioFormat) -> FloatArray:
    """The float samples of a short encoded tail (for the echo guard's copy)."""
    return ChunkDecoder(fmt.encoding).decode(data)
