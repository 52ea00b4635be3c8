"""``POST /v1/chat/completions``: OpenAI chat, streamed as SSE or returned whole."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import jsonx
from core.api.bodies import read_json
from core.api.chat_body import ChatBody
from core.api.chat_calls import Choice, chat_call, check_message_count, gather, total_usage
from core.api.context import generation_of, limits_of
from core.api.errors import as_api_error, error_body
from core.api.grounding import ground
from core.api.logprobs import logprob_items
from core.api.routing_headers import engine_headers
from core.api.sse import DONE, event, sse_response
from core.engines.base import Capability
from core.engines.llm import ChatDelta, TokenLogprob, ToolCall, ToolCallDelta, Usage


def usage_dict(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def logprobs_json(tokens: Iterable[TokenLogprob]) -> dict[str, Any]:
    return {"content": logprob_items(tokens), "refusal": None}


def tool_call_json(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def tool_call_delta_json(piece: ToolCallDelta) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": piece.arguments}
    entry: dict[str, Any] = {"index": piece.index, "function": function}
    if piece.id is not None:
        entry["id"] = piece.id
        entry["type"] = "function"
    if piece.name is not None:
        function["name"] = piece.name
    return entry


def choice_json(choice: Choice, with_logprobs: bool) -> dict[str, Any]:
    calls = choice.tool_calls
    message: dict[str, Any] = {
        "role": "assistant",
        # A reply that is only function calls has no content, as OpenAI answers it.
        "content": choice.content if choice.text or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = [tool_call_json(call) for call in calls]
    return {
        "index": choice.index,
        "message": message,
        "finish_reason": choice.finish_reason,
        "logprobs": logprobs_json(choice.logprobs) if with_logprobs else None,
    }


def delta_json(delta: ChatDelta) -> dict[str, Any]:
    """The ``delta`` object of a chunk (empty when the piece carries nothing to show)."""
    shown: dict[str, Any] = {}
    if delta.text:
        shown["content"] = delta.text
    if delta.tool_calls:
        shown["tool_calls"] = [tool_call_delta_json(piece) for piece in delta.tool_calls]
    return shown


async def chat_completions(request: Request) -> Response:
    limits = limits_of(request)
    body = await read_json(request, ChatBody, limits.max_request_bytes)
    check_message_count(len(body.messages), limits)
    chat_request = body.to_request()
    citations: list[dict[str, Any]] | None = None
    if body.rag is not None:
        question = next(
            (m.content for m in reversed(chat_request.messages) if m.role == "user"), ""
        )
        grounding = await ground(generation_of(request), body.rag, question)
        messages = (grounding.message, *chat_request.messages)
        chat_request = dataclasses.replace(chat_request, messages=messages)
        citations = grounding.citations
    router = generation_of(request).router
    run = chat_call(chat_request, body.choices)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    if not body.streaming:
        # Gathered before answering, so an engine failing part-way still falls back.
        routed = await router.gather(Capability.LLM, body.model, run)
        choices = gather(routed.value, body.choices)
        return Response(
            jsonx.dumps(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": body.model or routed.engine,
                    "choices": [choice_json(c, chat_request.logprobs) for c in choices],
                    "usage": usage_dict(total_usage(c.usage for c in choices)),
                    "system_fingerprint": None,
                    **({"citations": citations} if citations is not None else {}),
                }
            ),
            media_type="application/json",
            headers=engine_headers(routed.engine, routed.attempts),
        )

    stream = await router.stream(Capability.LLM, body.model, run)
    headers = engine_headers(stream.engine, stream.attempts)
    model = body.model or stream.engine

    def chunk(index: int, delta: dict[str, Any], finish: str | None, logprobs: Any = None) -> bytes:
        return event(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [
                    {"index": index, "delta": delta, "finish_reason": finish, "logprobs": logprobs}
                ],
            }
        )

    async def sse() -> AsyncIterator[bytes]:
        # A choice's role chunk leaves together with its first piece, in one write: a client on a
        # busy machine then wakes up once for the first token, not twice.
        opened: set[int] = set()
        usages: dict[int, Usage] = {}
        finishes: dict[int, str] = {}
        has_calls: set[int] = set()

        def opening(index: int) -> bytes:
            if index in opened:
                return b""
            opened.add(index)
            return chunk(index, {"role": "assistant", "content": ""}, None)

        try:
            async for delta in stream:
                index = delta.choice
                if delta.usage is not None:
                    usages[index] = delta.usage
                if delta.finish_reason is not None:
                    finishes[index] = delta.finish_reason
                if delta.tool_calls:
                    has_calls.add(index)
                shown = delta_json(delta)
                if shown or delta.logprobs:
                    logprobs = logprobs_json(delta.logprobs) if chat_request.logprobs else None
                    yield opening(index) + chunk(index, shown, None, logprobs)
        except Exception as exc:  # the stream has started: report in-band, then end cleanly
            error = as_api_error(exc)
            yield event(error_body(error.status, error.message, error.param, error.code))
            yield DONE
            return
        for index in range(body.choices):
            default = "tool_calls" if index in has_calls else "stop"
            yield opening(index) + chunk(index, {}, finishes.get(index, default))
        if citations is not None:
            yield event(
                {"id": completion_id, "object": "chat.completion.citations", "citations": citations}
            )
        if body.include_usage:
            yield event(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage_dict(total_usage(usages.values())),
                }
            )
        yield DONE

    return sse_response(sse(), headers)


routes = [Route("/v1/chat/completions", chat_completions, methods=["POST"])]
