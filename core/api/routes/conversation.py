"""``POST /v1/conversation``: a spoken turn in, a spoken (and written) reply out.

Multipart like ``/v1/audio/transcriptions`` (``file`` plus optional fields). Returns JSON with the
transcript, the reply, base64 audio and a latency breakdown; ``stream=true`` sends the same as
SSE events while the turn runs. An optional ``rag`` field (a JSON object like the chat ``rag``
block, or just a collection name) grounds the reply in retrieved documents and returns the
citations.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.audio_upload import audio_from_form, form_bool, form_float, form_text
from core.api.auth import bearer_token
from core.api.bodies import read_form
from core.api.context import generation_of, limits_of, runtime_of
from core.api.conversation_history import ConversationHistory
from core.api.engine_calls import SpeakOptions, TranscribeOptions
from core.api.errors import ApiError, as_api_error, error_body
from core.api.grounding import rag_block_from_form
from core.api.sse import event, sse_response
from core.api.turn import TurnFailed, TurnPlan, TurnResult, run_turn
from core.audio.encode import OUTPUT_FORMATS, available_formats
from core.engines.llm import ChatMessage
from core.state.backend import HistoryLimits

_NO_AUDIO = "none"


def _history_key(request: Request, conversation_id: str) -> str:
    """Conversation ids are scoped per API key: one client cannot read or extend another's
    conversation by guessing or reusing its id. Keys are kept as a digest, never as text."""
    token = bearer_token(request.scope["headers"])
    if token is None:
        return conversation_id
    return f"{hashlib.sha256(token).hexdigest()[:16]}:{conversation_id}"


def _audio_format(form: FormData) -> str | None:
    fmt = form_text(form, "response_format") or "wav"
    if fmt == _NO_AUDIO:
        return None
    if fmt not in OUTPUT_FORMATS or fmt not in available_formats():
        choices = ", ".join((*available_formats(), _NO_AUDIO))
        raise ApiError(400, f"response_format must be one of {choices}", param="response_format")
    return fmt


def _plan(request: Request, form: FormData, history: list[ChatMessage]) -> TurnPlan:
    settings = generation_of(request).config.config.conversation
    max_tokens = form_float(form, "max_tokens", 1, 8192)
    rag = rag_block_from_form(form_text(form, "rag"))
    if rag is not None:  # web limits are checked before the audio is decoded
        generation_of(request).web_search.results_wanted(
            rag.web_search, rag.web_top_k, param="rag.web_top_k"
        )
    return TurnPlan(
        transcribe=TranscribeOptions(
            model=form_text(form, "stt_model"),
            language=form_text(form, "language"),
            prompt=form_text(form, "prompt"),
        ),
        speak=SpeakOptions(
            model=form_text(form, "tts_model"),
            voice=form_text(form, "voice"),
            speed=form_float(form, "speed", 0.25, 4.0) or 1.0,
            instructions=form_text(form, "instructions"),
            language=form_text(form, "language"),
        ),
        llm_model=form_text(form, "llm_model") or form_text(form, "model"),
        history=history,
        system_prompt=form_text(form, "system_prompt") or settings.system_prompt,
        temperature=form_float(form, "temperature", 0.0, 2.0),
        max_tokens=int(max_tokens) if max_tokens else settings.max_reply_tokens,
        audio_format=_audio_format(form),
        rag=rag,
    )


def _body(
    result: TurnResult, turn_id: str, conversation_id: str, fmt: str | None
) -> dict[str, Any]:
    usage = result.usage
    return {
        "id": turn_id,
        "object": "conversation.turn",
        "conversation_id": conversation_id,
        "transcript": {"text": result.transcript, "language": result.language},
        "reply": {"text": result.reply},
        "audio": None
        if fmt is None or not result.audio
        else {
            "format": fmt,
            "sample_rate": result.sample_rate,
            "voice": result.voice,
            "data": base64.b64encode(result.audio).decode(),
        },
        "engines": result.engines,
        "fallbacks": result.fallbacks,
        "usage": None
        if usage is None
        else {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        "latency_ms": result.latency_ms(),
        **({"citations": result.citations} if result.citations is not None else {}),
    }


async def _history(request: Request, conversation_id: str) -> list[ChatMessage]:
    """The conversation so far, from the state backend: with a fleet, whichever daemon served
    the earlier turns."""
    settings = generation_of(request).config.config.conversation
    return await runtime_of(request).state.history(
        _history_key(request, conversation_id), settings.idle_ttl
    )


async def _remember(request: Request, conversation_id: str, result: TurnResult) -> None:
    if not result.transcript or not result.reply:
        return
    settings = generation_of(request).config.config.conversation
    await runtime_of(request).state.remember(
        _history_key(request, conversation_id),
        [ChatMessage("user", result.transcript), ChatMessage("assistant", result.reply)],
        HistoryLimits(settings.max_history_messages, settings.max_conversations, settings.idle_ttl),
    )


async def conversation_turn(request: Request) -> Response:
    started = time.perf_counter()
    limits = limits_of(request)
    form = await read_form(request, limits.max_upload_bytes)
    try:
        conversation_id = form_text(form, "conversation_id") or ConversationHistory.new_id()
        if len(conversation_id) > 128:
            raise ApiError(400, "conversation_id is too long", param="conversation_id")
        plan = _plan(request, form, await _history(request, conversation_id))
        stream = form_bool(form, "stream")
        audio = await audio_from_form(request, form)
    finally:
        await form.close()
    generation = generation_of(request)
    turn_id = f"turn_{uuid.uuid4().hex[:20]}"

    if not stream:
        try:
            result = await run_turn(generation, audio, plan, started)
        except TurnFailed as failed:
            # What the turn made before it failed (the transcript, the reply's words) comes
            # back with the error, so a client can still show it.
            error = as_api_error(failed.error)
            partial = _body(failed.result, turn_id, conversation_id, None)
            return JSONResponse(
                {
                    **error_body(error.status, error.message, error.param, error.code),
                    "turn": {**partial, "complete": False},
                },
                status_code=error.status,
                headers=error.headers,
            )
        await _remember(request, conversation_id, result)
        return JSONResponse(_body(result, turn_id, conversation_id, plan.audio_format))

    events: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def emit(item: dict[str, Any]) -> None:
        if isinstance(item.get("audio"), bytes):
            item = {**item, "audio": base64.b64encode(item["audio"]).decode()}
        await events.put(event({**item, "conversation_id": conversation_id}))

    async def produce() -> None:
        try:
            result = await run_turn(generation, audio, plan, started, emit)
            await _remember(request, conversation_id, result)
            body = _body(result, turn_id, conversation_id, plan.audio_format)
            body.pop("audio")  # already sent as deltas
            await events.put(event({"type": "conversation.done", **body}))
        except Exception as exc:  # reported in-band: the response has started
            error = as_api_error(exc.error if isinstance(exc, TurnFailed) else exc)
            await events.put(
                event(error_body(error.status, error.message, error.param, error.code))
            )
        finally:
            await events.put(None)

    async def sse() -> AsyncIterator[bytes]:
        task = asyncio.create_task(produce())
        try:
            while (item := await events.get()) is not None:
                yield item
        finally:
            if not task.done():  # the client went away: stop the engines
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return sse_response(sse(), {"x-conversation-id": conversation_id})


routes = [Route("/v1/conversation", conversation_turn, methods=["POST"])]
