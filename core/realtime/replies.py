"""A session's replies: at most one at a time, started by the client or by a finished turn,
queued behind the current one when it may not be interrupted, and cut when the user barges in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from core.engines.llm import ChatMessage
from core.observability.metrics import Metrics
from core.realtime import events as ev
from core.realtime.conversation import Conversation, Item, context_messages, heard_part
from core.realtime.echo import EchoGuard
from core.realtime.errors import RealtimeError
from core.realtime.formats import AudioFormat
from core.realtime.response import Response, ResponsePlan
from core.realtime.settings import Modality, SessionSettings
from core.realtime.tools import function_tools, tool_choice
from core.realtime.turns import Lease, Turn

log = structlog.get_logger(__name__)

Context = Callable[[], Awaitable[list[ChatMessage]]]
Spawn = Callable[[Awaitable[None]], None]


@dataclass(frozen=True, slots=True)
class ResponseRequest:
    """A client's ``response.create``; unset fields take the session's values."""

    instructions: str | None = None
    modalities: tuple[Modality, ...] | None = None
    voice: str | None = None
    output_format: AudioFormat | None = None
    #: None: the session's; "inf": the profile's cap.
    max_output_tokens: int | Literal["inf"] | None = None
    in_conversation: bool = True
    #: The context to answer from instead of the conversation (out-of-band replies).
    input: tuple[Item, ...] | None = None
    metadata: dict[str, str] | None = None
    #: This reply's own tools and tool choice (None: the session's).
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: str | None = None


def plan_for(settings: SessionSettings, request: ResponseRequest) -> ResponsePlan:
    asked = request.max_output_tokens
    if asked is None:
        reported, tokens = settings.max_output_tokens, settings.reply_tokens
    elif asked == "inf":
        reported, tokens = None, settings.token_cap
    else:
        reported, tokens = asked, min(asked, settings.token_cap)
    tools = settings.tools if request.tools is None else request.tools
    choice = settings.tool_choice if request.tool_choice is None else request.tool_choice
    return ResponsePlan(
        modalities=request.modalities or settings.output_modalities,
        voice=request.voice or settings.voice,
        output_format=request.output_format or settings.output_format,
        speed=settings.speed,
        llm=settings.engines.llm,
        tts=settings.engines.tts,
        max_tokens=tokens,
        max_output_tokens=reported,
        temperature=settings.temperature,
        in_conversation=request.in_conversation,
        output_lead=settings.output_lead,
        metadata=request.metadata,
        tools=function_tools(tools),
        tool_choice=tool_choice(choice, tools),
    )


@dataclass(eq=False, repr=False)
class Replies:
    _session_id: str
    _settings: Callable[[], SessionSettings]
    _conversation: Conversation
    _emit: Callable[[ev.Event], None]
    _guard: EchoGuard
    _spawn: Spawn
    _metrics: Metrics

    def __post_init__(self) -> None:
        #: The reply being made or spoken (released, or waiting for its turn's transcript).
        self.current: Response | None = None
        #: A reply waiting for the current one to end (``interrupt_response`` off).
        self._queued: Response | None = None
        #: The latest reply that reached the client (for cuts and the idle timeout).
        self.last: Response | None = None
        #: The turn each automatic reply answers (for the latency log).
        self._turns: dict[str, Turn] = {}
        #: Finished replies closing their engine streams and releasing their generation. Kept
        #: apart from the session's background work, which is cancelled on close: a release
        #: cancelled before it began would leave the generation held (reloads wait on it).
        self._letting_go: set[asyncio.Task[None]] = set()
        #: Set when a reply has been completed, until the idle timeout has asked for another.
        self.idle_armed = False

    @property
    def busy(self) -> bool:
        return self.current is not None and not self.current.finished

    # -- making replies --------------------------------------------------------------------

    def make(self, request: ResponseRequest, context: Context, lease: Lease) -> Response:
        def finished(response: Response) -> None:
            self._finished(response, lease)

        plan = plan_for(self._settings(), request)
        return Response(
            plan, lease.generation, context, self._conversation, self._emit, self._guard, finished
        )

    def from_conversation(
        self, request: ResponseRequest, lease: Lease, *, nudge: str | None = None
    ) -> Response:
        """A reply to the conversation (once every pending transcript is in), or to the
        request's own input."""
        instructions = request.instructions or self._settings().instructions
        conversation = self._conversation

        async def context() -> list[ChatMessage]:
            if request.input is not None:
                items = list(request.input)
                messages = context_messages(items, instructions, conversation.max_context)
            else:
                pending = list(conversation.pending.values())
                if pending:
                    await asyncio.gather(*pending)
                messages = conversation.messages(instructions)
            return [*messages, ChatMessage("system", nudge)] if nudge else messages

        return self.make(request, context, lease)

    def create(self, request: ResponseRequest, lease: Lease, *, nudge: str | None = None) -> None:
        """Start a reply now (the client asked, or the user was silent too long)."""
        if self.busy:
            lease.release()
            assert self.current is not None
            raise RealtimeError(
                f"conversation already has an active response in progress: {self.current.id}",
                code="conversation_already_has_active_response",
            )
        response = self.from_conversation(request, lease, nudge=nudge)
        self.current = response
        response.start()
        response.release()

    def for_turn(self, response: Response, turn: Turn, heard: asyncio.Future[None]) -> None:
        """A turn was committed: its reply is released once its transcript is known (and says
        something), after the current reply if that one may not be interrupted."""
        self._turns[response.id] = turn
        if self.busy:
            self._queued = response
        else:
            self.current = response
        self._spawn(self._release_when_heard(response, turn.item_id, heard))

    async def _release_when_heard(
        self, response: Response, item_id: str, heard: asyncio.Future[None]
    ) -> None:
        await heard
        said = ""
        with contextlib.suppress(RealtimeError):  # deleted meanwhile: nothing to answer
            said = self._conversation.get(item_id).text()
        if not said:
            # Nothing was understood (noise, a cough): no reply.
            log.info("realtime.empty_turn", session=self._session_id, item=item_id)
            if self._queued is response:
                self._queued = None
            await response.aclose()
            return
        if self.current is response:
            response.release()

    # -- stopping replies ------------------------------------------------------------------

    def cancel(self, response_id: str | None) -> None:
        response = self.current
        if response is None or response.finished or (response_id and response_id != response.id):
            raise RealtimeError(
                "there is no response in progress to cancel"
                + (f" with id {response_id!r}" if response_id else ""),
                code="response_cancel_not_active",
                param="response_id" if response_id else None,
            )
        response.cancel("client_cancelled")

    def barge_in(self, now: float, *, interrupt: bool) -> None:
        """The user started speaking at ``now``: stop the reply (if allowed) and keep only what
        was heard of the last one."""
        response = self.current
        if response is not None and interrupt:
            log.info("realtime.barge_in", session=self._session_id, response=response.id)
            response.cancel("turn_detected", now)
        self.cut_last(now)

    def cut_last(self, now: float) -> None:
        """A reply fully sent may still be playing: keep only what was heard of it by ``now``."""
        reply = self.last
        if reply is None or not reply.clock.playing(now):
            return
        played = reply.clock.played_ms(now)
        try:
            item = self._conversation.get(reply.item.id)
        except RealtimeError:
            return
        if item.content and item.content[0].kind == "output_audio":
            self._conversation.replace_content(item, 0, heard_part(item.content[0], played))

    def truncated(self, item_id: str) -> None:
        """The client stopped playing a reply: one still being spoken stops too."""
        response = self.current
        if response is not None and response.item.id == item_id and response.released:
            response.cancel("client_cancelled")

    async def aclose(self) -> None:
        for response in (self.current, self._queued):
            if response is not None:
                await response.aclose()
        await self.let_go()

    async def let_go(self) -> None:
        """Wait until every finished reply has closed its engine streams and released its
        generation."""
        while self._letting_go:
            await asyncio.gather(*self._letting_go, return_exceptions=True)

    # -- after a reply ---------------------------------------------------------------------

    def _finished(self, response: Response, lease: Lease) -> None:
        if self.current is response:
            self.current = None
        if response.released and response.clock.first_at is not None:
            self.last = response
        if response.status == "completed":
            self.idle_armed = True
        letting_go = asyncio.ensure_future(self._let_go(response, lease))
        self._letting_go.add(letting_go)
        letting_go.add_done_callback(self._letting_go.discard)
        self._log(response)
        queued, self._queued = self._queued, None
        if queued is not None and not queued.finished:
            self.current = queued
            self._spawn(self._release_when_transcribed(queued))

    async def _release_when_transcribed(self, response: Response) -> None:
        pending = list(self._conversation.pending.values())
        if pending:
            await asyncio.gather(*pending)
        if self.current is response:
            response.release()

    async def _let_go(self, response: Response, lease: Lease) -> None:
        try:
            await response.aclose()
        finally:
            lease.release()

    def _log(self, response: Response) -> None:
        """One log event per reply that reached the client: engines, voices and, for a spoken
        turn, when each step was done (milliseconds after the turn's final pause began)."""
        turn = self._turns.pop(response.id, None)
        if not response.released:
            return
        marks = response.marks
        timing: dict[str, object] = {}
        self._metrics.realtime_replies.labels(response.status).inc()
        if turn is not None and turn.pause_seen is not None:
            origin = turn.pause_seen
            if marks.first_audio_sent is not None:
                self._metrics.realtime_first_audio.observe(marks.first_audio_sent - origin)

            def ms(value: float | None) -> float | None:
                return None if value is None else round((value - origin) * 1000, 1)

            timing = {
                "pause_seen_monotonic": round(origin, 6),
                "transcript_ms": ms(turn.transcript_ready),
                "confirmed_ms": ms(turn.confirmed),
                "llm_first_sentence_ms": ms(marks.first_sentence),
                "tts_first_audio_ms": ms(marks.first_audio_ready),
                "released_ms": ms(marks.released),
                "first_audio_sent_ms": ms(marks.first_audio_sent),
                "speculative": marks.started < (turn.confirmed or marks.started),
            }
        log.info(
            "realtime.response",
            session=self._session_id,
            response=response.id,
            status=response.status,
            engines=response.engines,
            voices=response.voices,
            **timing,
        )
