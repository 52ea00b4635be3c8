"""A realtime voice session: live audio in, turns taken, spoken replies out.

Protocol-neutral: a front door (the OpenAI realtime WebSocket today) calls the methods below for
its client's events and renders the :mod:`core.realtime.events` the session emits.

Turn-taking with voice activity detection (``turn_detection`` set):

- Each detector frame updates :class:`VoiceActivity`. Confirmed speech opens a :class:`Turn`
  (``speech_started``); if a reply is playing and ``interrupt_response`` is on, it is cancelled
  in the same frame (barge-in) and cut at what the listener heard.
- When a pause begins, the speech so far is transcribed at once (a transcript piece) and, when
  the session answers on its own, a reply to it is started *speculatively*: the language model
  and the speech engine work during the silence wait, but nothing reaches the client. Speech
  resuming drops that reply (the piece stays: it is part of the transcript); the pause lasting
  long enough (:mod:`core.realtime.turn_policy`) commits the turn and releases the reply, whose
  first audio is often ready by then.
- With the echo guard on, speech during (or just after) the reply's own audio is compared with
  it first (:mod:`core.realtime.echo`); echo neither barges in nor becomes a turn.

Without turn detection the client commits the buffer and asks for replies itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import numpy as np
import structlog

from core.audio.chunk import FloatArray
from core.audio.resample import resample
from core.config.schema import RealtimeLimits, ServerVadSettings
from core.engines.llm import ChatMessage
from core.realtime import events as ev
from core.realtime.conversation import (
    Content,
    Conversation,
    Item,
    new_id,
)
from core.realtime.echo import EchoGuard
from core.realtime.errors import RealtimeError
from core.realtime.formats import AudioFormat
from core.realtime.hearing import transcriber
from core.realtime.input_audio import Frame, InputAudio
from core.realtime.replies import Replies, ResponseRequest
from core.realtime.settings import SessionPatch, SessionSettings
from core.realtime.tools import check_tool_choice
from core.realtime.transcripts import record_transcript
from core.realtime.turn_policy import longest_pause_ms, required_pause_ms
from core.realtime.turns import Lease, Turn
from core.realtime.utterance import UtteranceText
from core.realtime.voice_activity import Signal, VoiceActivity
from core.runtime.runtime import Runtime
from core.stt_stream.framing import ChunkDecoder
from core.stt_stream.routed import routed_detector

log = structlog.get_logger(__name__)

Emit = Callable[[ev.Event], None]

_DEFAULT_RATE, _DEFAULT_FRAME = 16_000, 512
#: A pause this long starts transcribing (and speculatively answering) what was said.
_SPECULATE_AFTER_MS = 60
#: Audio kept after the start of a pause in a transcript piece (word endings fade out).
_PIECE_PAD_MS = 100
#: Speech this long without a pause is cut into a piece anyway (Whisper reads 30 s windows).
_MAX_PIECE_MS = 25_000
#: Prefix padding for semantic_vad, which has no setting of its own.
_SEMANTIC_PREFIX_MS = 300
#: A manual commit needs at least this much audio (OpenAI's rule).
_MIN_COMMIT_MS = 100
_ECHO_RATE = 16_000


class RealtimeSession:
    def __init__(
        self,
        runtime: Runtime,
        settings: SessionSettings,
        emit: Emit,
        *,
        limits: RealtimeLimits,
        context_messages: int,
    ) -> None:
        self.id = new_id("sess")
        self.settings = settings
        self._runtime = runtime
        self._emit = emit
        self._limits = limits
        self.conversation = Conversation(
            context_messages,
            limits.max_items,
            on_dropped=lambda item_id: self._emit(ev.ItemDeleted(item_id)),
        )
        self._guard = EchoGuard(settings.echo_guard)
        self._input = InputAudio(settings.input_format, None, _DEFAULT_RATE, _DEFAULT_FRAME)
        self._activity: VoiceActivity | None = None
        self._detector_generation: int | None = None
        self._lock = asyncio.Lock()
        self._turn: Turn | None = None
        self._buffer_start = 0
        #: Where the silence counted by ``idle_timeout_ms`` began.
        self._idle_from: int | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False
        self.replies = Replies(
            self.id,
            lambda: self.settings,
            self.conversation,
            emit,
            self._guard,
            self._spawn,
            runtime.metrics,
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._refresh_detector()
        self._emit(ev.SessionChanged(self.settings, created=True))
        log.info(
            "realtime.session_started",
            session=self.id,
            kind=self.settings.kind,
            profile=self.settings.profile,
            model=self.settings.model,
        )

    async def close(self) -> None:
        """End the session: stop every reply and transcript, let go of every engine."""
        if self._closed:
            return
        self._closed = True
        await self.replies.aclose()
        turn, self._turn = self._turn, None
        if turn is not None:
            await self._drop_turn(turn)
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.replies.let_go()  # a reply that ended as its work was cancelled
        log.info("realtime.session_closed", session=self.id, items=len(self.conversation))

    async def finish_reply(self) -> None:
        """Let the reply being spoken end (the daemon is stopping and takes no more input)."""
        response = self.replies.current
        if response is not None and response.released:
            await response.wait()

    # -- session settings ------------------------------------------------------------------

    async def update(self, patch: SessionPatch) -> None:
        updated = self.settings.apply(patch)
        if updated.kind != self.settings.kind:
            raise RealtimeError(
                f"a {self.settings.kind} session cannot become a {updated.kind} session",
                code="invalid_session_type",
                param="session.type",
            )
        async with self._lock:
            detection_changed = updated.turn_detection != self.settings.turn_detection
            self.settings = updated
            self._input.set_format(updated.input_format)
            if detection_changed:
                turn, self._turn = self._turn, None
                if turn is not None:
                    await self._drop_turn(turn)
                self._activity = None
                await self._refresh_detector(force=True)
        self._emit(ev.SessionChanged(self.settings))

    async def _refresh_detector(self, *, force: bool = False) -> None:
        """A detector from the current generation's ``vad`` route (at start, when turn detection
        changes, and between turns after a reload)."""
        detection = self.settings.turn_detection
        if detection is None:
            self._input.detector, self._activity = None, None
            return
        current = self._runtime.current.number
        if not force and self._activity is not None and self._detector_generation == current:
            return
        async with self._runtime.lease() as generation:
            routed = await routed_detector(generation, self.settings.engines.vad)
        self._detector_generation = generation.number
        if (routed.sample_rate, routed.detector.frame_size) != (
            self._input.rate,
            self._input.frame_size,
        ):
            self._input = InputAudio(
                self.settings.input_format,
                None,
                routed.sample_rate,
                routed.detector.frame_size,
            )
            self._buffer_start = 0
        self._input.detector = routed.detector
        threshold = detection.threshold if isinstance(detection, ServerVadSettings) else 0.5
        self._activity = VoiceActivity(
            threshold, self._input.samples(self.settings.speech_confirm * 1000)
        )

    # -- input audio -----------------------------------------------------------------------

    async def append(self, audio: bytes) -> None:
        """Analyse ``audio`` (in the input format) before taking more: a client sending faster
        than real time waits for the analysis instead of filling memory."""
        if not audio:
            return
        async with self._lock:
            activity = self._activity
            if activity is None:
                self._check_buffer_room(len(audio))
            elif self._turn is None and not activity.speaking and not activity.pending:
                await self._refresh_detector()
            frames = await asyncio.to_thread(self._input.analyse, audio)
            if not frames:
                return
            now = time.perf_counter()
            size, rate = self._input.frame_size, self._input.rate
            last_end = frames[-1].start + size
            for frame in frames:
                # Input is taken to arrive in real time: each frame ended that long before now.
                self._on_frame(frame, now - (last_end - frame.start - size) / rate)

    def _check_buffer_room(self, size: int) -> None:
        fmt = self.settings.input_format
        adding = self._input.samples(fmt.milliseconds(size))
        held = self._input.position - self._buffer_start
        if held + adding > self._input.samples(self._limits.max_buffer * 1000):
            raise RealtimeError(
                f"the input audio buffer holds at most {self._limits.max_buffer:g} seconds; "
                "commit or clear it",
                code="input_audio_buffer_full",
            )

    async def commit(self) -> None:
        async with self._lock:
            end = self._input.position
            turn = self._turn
            if turn is not None and turn.echo is False:
                self._turn = None
                if self._activity is not None:
                    self._activity.reset()
                self._final_piece(turn, end)
                self._commit_turn(turn, end, answer=False)
                return
            if turn is not None:
                self._turn = None
                await self._drop_turn(turn)
            # Without it the last ~30 ms appended would be left out, and exactly 100 ms
            # appended would be refused as too little.
            self._input.flush()
            end, start = self._input.position, self._buffer_start
            if self._input.ms(end - start) < _MIN_COMMIT_MS:
                raise RealtimeError(
                    f"buffer too small: at least {_MIN_COMMIT_MS} ms of audio must be appended "
                    f"before a commit, {self._input.ms(end - start)} ms are",
                    code="input_audio_buffer_commit_empty",
                )
            manual = self._new_turn(start, start, cut=False)
            manual.text.add_piece(self._input.recording.between(start, end), end)
            self._commit_turn(manual, end, answer=False)

    async def clear(self) -> None:
        async with self._lock:
            turn, self._turn = self._turn, None
            if turn is not None:
                await self._drop_turn(turn)
            if self._activity is not None:
                self._activity.reset()
            self._buffer_start = self._input.position
            self._input.recording.forget_before(self._input.position)
        self._emit(ev.InputCleared())

    # -- frames ----------------------------------------------------------------------------

    def _on_frame(self, frame: Frame, now: float) -> None:
        activity = self._activity
        if activity is None or frame.probability is None:
            return
        size = self._input.frame_size
        end = frame.start + size
        change = activity.push(frame.probability, frame.start, size)
        turn = self._turn
        if change is not None:
            if change.signal is Signal.CONFIRMED:
                turn = self._open_turn(change.sample, now)
            elif turn is not None and change.signal is Signal.PAUSED:
                turn.pause_start, turn.pause_seen = change.sample, now
            elif turn is not None and change.signal is Signal.RESUMED:
                self._resume(turn)
        if turn is None:
            keep_from = activity.speech_start if activity.pending else end
            self._input.recording.forget_before(keep_from - self._prefix_samples() - size)
            self._buffer_start = max(self._buffer_start, self._input.recording.start)
            self._check_idle(end, now)
            return
        if turn.echo is not False and turn.pause_start is None:
            # Compared only while the speech goes on: a pause resembles nothing.
            self._check_echo(turn, end, now)
        if turn.pause_start is not None:
            self._check_pause(turn, end, now)
        elif turn.echo is False and self._input.ms(end - turn.text.cut) >= _MAX_PIECE_MS:
            turn.text.add_piece(self._input.recording.between(turn.text.cut, end), end)
        if self._turn is turn and end - turn.audio_start > self._input.samples(
            self._limits.max_buffer * 1000
        ):
            self._end_turn(turn, end, now)

    def _prefix_samples(self) -> int:
        detection = self.settings.turn_detection
        if isinstance(detection, ServerVadSettings):
            return self._input.samples(detection.prefix_padding_ms)
        return self._input.samples(_SEMANTIC_PREFIX_MS)

    def _new_turn(self, speech_start: int, audio_start: int, *, cut: bool = True) -> Turn:
        lease = Lease(self._runtime.current)
        hear = transcriber(
            lease.generation, self.settings.engines.stt, self.settings.transcription, cut=cut
        )
        item_id = new_id("item")
        turn_ref: list[Turn] = []
        text = UtteranceText(
            hear, self._input.rate, audio_start, lambda piece: self._piece_heard(turn_ref[0], piece)
        )
        turn = Turn(item_id, speech_start, audio_start, text, lease)
        turn_ref.append(turn)
        return turn

    def _open_turn(self, speech_start: int, now: float) -> Turn:
        audio_start = max(speech_start - self._prefix_samples(), self._input.recording.start)
        turn = self._new_turn(speech_start, audio_start)
        turn.echo_checked_at = speech_start
        self._turn = turn
        self._idle_from = None
        if self._guard.active(now):
            turn.echo = None  # compared with the reply's audio once enough has been heard
        else:
            self._announce(turn, now)
        return turn

    def _announce(self, turn: Turn, now: float) -> None:
        """The user is speaking: say so, and barge in on the reply being spoken."""
        turn.echo = False
        self._emit(ev.SpeechStarted(turn.item_id, self._input.ms(turn.audio_start)))
        self.replies.barge_in(now, interrupt=self.settings.interrupt_response)

    def _check_echo(self, turn: Turn, end: int, now: float) -> None:
        probe = self._input.samples(self.settings.echo_guard.probe * 1000)
        if end - turn.echo_checked_at < probe:
            return
        turn.echo_checked_at = end
        if self._is_echo(end - probe, end, end, now):
            if turn.echo is None:
                log.info("realtime.echo_ignored", session=self.id)
            turn.echo = True
        else:
            self._announce(turn, now)

    def _is_echo(self, start: int, stop: int, frame_end: int, now: float) -> bool:
        """Whether the input between ``start`` and ``stop`` is the reply's echo (``now`` is the
        wall-clock time of ``frame_end``)."""
        if not self._guard.active(now):
            return False
        heard: FloatArray = self._input.recording.between(start, stop)
        if self._input.rate != _ECHO_RATE:
            heard = resample(heard, self._input.rate, _ECHO_RATE)
        score = self._guard.score(heard, now - (frame_end - stop) / self._input.rate)
        log.debug("realtime.echo_score", session=self.id, score=round(score, 3))
        return score >= self._guard.config.similarity

    def _resume(self, turn: Turn) -> None:
        turn.pause_start = turn.pause_seen = turn.transcript_ready = None
        speculation, turn.speculation = turn.speculation, None
        if speculation is not None:
            self._spawn(speculation.aclose())

    def _check_pause(self, turn: Turn, end: int, now: float) -> None:
        assert turn.pause_start is not None
        detection = self.settings.turn_detection
        assert detection is not None
        pause_ms = self._input.ms(end - turn.pause_start)
        speculate = turn.echo is False and turn.cut_pause != turn.pause_start
        if speculate and pause_ms >= _SPECULATE_AFTER_MS:
            self._final_piece(turn, end)
            self._speculate(turn)
        known = turn.text.known() if turn.echo is False else ""
        if known is not None and turn.cut_pause == turn.pause_start and turn.echo is False:
            turn.transcript_ready = turn.transcript_ready or now
        required = required_pause_ms(detection, known)
        if pause_ms >= (required if required is not None else longest_pause_ms(detection)):
            self._end_turn(turn, end, now)

    def _final_piece(self, turn: Turn, end: int) -> None:
        """Cut the transcript piece that ends at the current pause (or at ``end``)."""
        pause = turn.pause_start
        if pause is not None and turn.cut_pause == pause:
            return
        turn.cut_pause = pause
        cut = end if pause is None else min(pause + self._input.samples(_PIECE_PAD_MS), end)
        if cut > turn.text.cut:
            turn.text.add_piece(self._input.recording.between(turn.text.cut, cut), cut)

    def _speculate(self, turn: Turn) -> None:
        if (
            not self.settings.create_response
            or turn.speculation is not None
            or self.replies.busy
            or self._closed
        ):
            return
        leave_out = turn.item_id
        instructions = self.settings.instructions

        async def context() -> list[ChatMessage]:
            said = await turn.text.text()
            messages = self.conversation.messages(instructions, leave_out=leave_out)
            return [*messages, ChatMessage("user", said)] if said else messages

        response = self.replies.make(ResponseRequest(), context, turn.lease.share())
        turn.speculation, turn.speculation_version = response, self.conversation.version
        response.start()

    def _end_turn(self, turn: Turn, end: int, now: float) -> None:
        """The pause was long enough (or the turn too long): commit it, maybe answer it."""
        if self._activity is not None:
            self._activity.reset()
        self._turn = None
        spoken_until = turn.pause_start if turn.pause_start is not None else end
        if turn.echo is None and not self._is_echo(turn.speech_start, spoken_until, end, now):
            self._announce(turn, now)
        if turn.echo is not False:
            self._spawn(self._drop_turn(turn))
            return
        turn.confirmed = now
        self._final_piece(turn, end)
        self._emit(ev.SpeechStopped(turn.item_id, self._input.ms(end)))
        self._commit_turn(turn, end, answer=self.settings.create_response)

    def _commit_turn(self, turn: Turn, end: int, *, answer: bool) -> None:
        length = float(self._input.ms(end - turn.audio_start))
        item = Item(turn.item_id, role="user", content=[Content("input_audio", audio_ms=length)])
        previous = self.conversation.add(item)
        self._emit(ev.InputCommitted(item.id, previous))
        self._emit(ev.ItemAdded(item.snapshot(), previous))
        self._buffer_start = end
        self._input.recording.forget_before(end - self._prefix_samples())

        def ready() -> None:
            turn.transcript_ready = turn.transcript_ready or time.perf_counter()

        heard = self._transcribe_item(item, 0, turn.text, turn.lease, length, ready)
        speculation, turn.speculation = turn.speculation, None
        if not answer or self.settings.kind != "realtime":
            if speculation is not None:
                self._spawn(speculation.aclose())
            return
        # The speculative reply stands if nothing changed the context since it began (our own
        # item was just added: one change).
        if speculation is None or turn.speculation_version != self.conversation.version - 1:
            if speculation is not None:
                self._spawn(speculation.aclose())
            speculation = self.replies.from_conversation(ResponseRequest(), turn.lease.share())
            speculation.start()
        self.replies.for_turn(speculation, turn, heard)

    def _transcribe_item(
        self,
        item: Item,
        index: int,
        text: UtteranceText,
        lease: Lease,
        audio_ms: float,
        ready: Callable[[], None] = lambda: None,
    ) -> asyncio.Future[None]:
        """Put the transcript in the item once it is known, and report it; replies wait for
        the returned future."""
        heard: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.conversation.pending[item.id] = heard

        async def finish() -> None:
            try:
                await text.text()
                ready()
                record_transcript(self.conversation, self._emit, item, index, text, audio_ms)
            finally:
                # A newer item may have taken the id (this one deleted): its wait stays.
                if self.conversation.pending.get(item.id) is heard:
                    del self.conversation.pending[item.id]
                if not heard.done():
                    heard.set_result(None)
                lease.release()

        self._spawn(finish())
        return heard

    def _piece_heard(self, turn: Turn, piece: str) -> None:
        if turn.echo is not False:
            return
        self._emit(ev.TranscriptDelta(turn.item_id, 0, piece if not turn.deltas else " " + piece))
        turn.deltas += 1

    async def _drop_turn(self, turn: Turn) -> None:
        speculation, turn.speculation = turn.speculation, None
        if speculation is not None:
            await speculation.aclose()
        await turn.text.cancel()
        turn.lease.release()

    def _check_idle(self, end: int, now: float) -> None:
        detection = self.settings.turn_detection
        if not isinstance(detection, ServerVadSettings) or detection.idle_timeout_ms is None:
            return
        replies = self.replies
        if not replies.idle_armed or replies.busy or self.settings.kind != "realtime":
            self._idle_from = None
            return
        reply = replies.last
        if reply is not None and reply.clock.playing(now):
            return
        if self._idle_from is None:
            self._idle_from = end
            return
        waited = self._input.ms(end - self._idle_from)
        if waited < detection.idle_timeout_ms:
            return
        replies.idle_armed = False
        item = Item(new_id("item"), role="user", content=[Content("input_audio", transcript="")])
        self._emit(ev.InputTimedOut(item.id, self._input.ms(self._idle_from), self._input.ms(end)))
        self._idle_from = None
        previous = self.conversation.add(item)
        self._emit(ev.InputCommitted(item.id, previous))
        self._emit(ev.ItemAdded(item.snapshot(), previous))
        self._emit(ev.ItemDone(item.snapshot(), previous))
        nudge = f"The user has said nothing for {waited / 1000:.0f} seconds."
        replies.create(ResponseRequest(), Lease(self._runtime.current), nudge=nudge)

    # -- conversation items ----------------------------------------------------------------

    async def create_item(
        self, item: Item, previous_item_id: str | None, audio: bytes | None = None
    ) -> None:
        """Add a client's item; the audio of an ``input_audio`` part is transcribed (the reply
        needs words), and the transcript is reported like a spoken turn's."""
        if audio is not None:
            self._check_clip_length(item, audio)
        turn = self._turn
        if turn is not None and item.id == turn.item_id:
            # Announced in speech_started: the turn's item takes it when the turn is committed.
            raise RealtimeError(
                f"the id {item.id!r} belongs to the turn being spoken",
                code="duplicate_item_id",
                param="item.id",
            )
        previous = self.conversation.add(item, previous_item_id)
        self._emit(ev.ItemAdded(item.snapshot(), previous))
        if audio is None:
            self._emit(ev.ItemDone(item.snapshot(), previous))
            return
        index = next(i for i, part in enumerate(item.content) if part.kind == "input_audio")
        fmt = self.settings.input_format
        samples = await asyncio.to_thread(_decode_clip, audio, fmt, _DEFAULT_RATE)
        lease = Lease(self._runtime.current)
        hear = transcriber(
            lease.generation, self.settings.engines.stt, self.settings.transcription, cut=False
        )
        text = UtteranceText(hear, _DEFAULT_RATE, 0, lambda _piece: None)
        text.add_piece(samples, len(samples))
        self._transcribe_item(item, index, text, lease, len(samples) * 1000 / _DEFAULT_RATE)

    def _check_clip_length(self, item: Item, audio: bytes) -> None:
        """An item's audio is held to the input buffer's limit: one event of G.711 could
        otherwise carry half an hour for the engine to read."""
        seconds = self.settings.input_format.milliseconds(len(audio)) / 1000
        if seconds > self._limits.max_buffer:
            index = next(i for i, part in enumerate(item.content) if part.kind == "input_audio")
            raise RealtimeError(
                f"an input_audio part holds at most {self._limits.max_buffer:g} seconds of "
                f"audio; this one has {seconds:.0f}",
                code="audio_too_long",
                param=f"item.content.{index}.audio",
            )

    def retrieve_item(self, item_id: str) -> None:
        self._emit(ev.ItemRetrieved(self.conversation.get(item_id).snapshot()))

    def delete_item(self, item_id: str) -> None:
        self.conversation.delete(item_id)
        self._emit(ev.ItemDeleted(item_id))

    def truncate_item(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """The client stopped playing a reply at ``audio_end_ms``: keep only what was heard. A
        reply still being spoken stops there (a truncation that would be refused stops
        nothing)."""
        self.conversation.check_truncate(item_id, content_index, audio_end_ms)
        self.replies.truncated(item_id)
        self.conversation.truncate(item_id, content_index, audio_end_ms)
        self._emit(ev.ItemTruncated(item_id, content_index, audio_end_ms))

    # -- responses -------------------------------------------------------------------------

    def create_response(self, request: ResponseRequest) -> None:
        if self.settings.kind != "realtime":
            raise RealtimeError(
                "a transcription session makes no responses", code="invalid_session_type"
            )
        if request.tool_choice is not None:
            tools = self.settings.tools if request.tools is None else request.tools
            check_tool_choice(request.tool_choice, tools, "response.tool_choice")
        self.replies.create(request, Lease(self._runtime.current))

    def cancel_response(self, response_id: str | None) -> None:
        self.replies.cancel(response_id)

    # -- helpers ---------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None]) -> None:
        # The task runs ``work`` itself: cancelled before its first step, the coroutine is still
        # closed properly (a wrapper that never started would leave it unawaited).
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _decode_clip(audio: bytes, fmt: AudioFormat, rate: int) -> FloatArray:
    samples = ChunkDecoder(fmt.encoding).decode(audio)
    return np.ascontiguousarray(resample(samples, fmt.sample_rate, rate), dtype=np.float32)
