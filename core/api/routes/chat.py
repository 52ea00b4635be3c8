"""``POST /v1/chat/completions``: OpenAI chat, streamed as SSE or returned whole."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.bodies import read_json
from core.api.context import generation_of, limits_of
from core.api.errors import ApiError, as_api_error, error_body
from core.api.grounding import RagBlock, ground
from core.api.routing_headers import engine_headers
from core.api.sse import DONE, event, sse_response
from core.engines.base import Capability
from core.engines.llm import ChatDelta, ChatMessage, ChatRequest, LLMEngine, Usage


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.type != "text" or part.text is None:
                raise ApiError(
                    400,
                    f"content parts of type {part.type!r} are not supported",
                    param="messages",
                    code="unsupported_content",
                )
            parts.append(part.text)
        return "".join(parts)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatBody(BaseModel):
    """Known fields are validated; unknown ones (``user``, ``logprobs``...) are accepted and
    passed on to cloud engines untouched."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1, le=1)
    rag: RagBlock | None = None

    @field_validator("stop")
    @classmethod
    def _stop(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    def to_request(self) -> ChatRequest:
        stop: tuple[str, ...] = ()
        if isinstance(self.stop, str):
            stop = (self.stop,)
        elif self.stop:
            stop = tuple(self.stop)
        return ChatRequest(
            messages=tuple(ChatMessage(m.role, m.text(), m.name) for m in self.messages),
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            stop=stop,
            seed=self.seed,
            extra=dict(self.model_extra or {}),
        )


def usage_dict(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


async def chat_completions(request: Request) -> Response:
    limits = limits_of(request)
    body = await read_json(request, ChatBody, limits.max_request_bytes)
    if len(body.messages) > limits.max_chat_messages:
        # Checked before any engine is taken: rendering a huge history holds the model.
        raise ApiError(
            400,
            f"{len(body.messages)} messages; at most {limits.max_chat_messages} per request",
            param="messages",
            code="too_many_messages",
        )
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

    def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
        return engine.chat(chat_request)

    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    if not body.stream:
        # Gathered before answering, so an engine failing part-way still falls back.
        routed = await router.gather(Capability.LLM, body.model, run)
        text: list[str] = []
        finish: str | None = None
        usage: Usage | None = None
        for delta in routed.value:
            text.append(delta.text)
            finish = delta.finish_reason or finish
            usage = delta.usage or usage
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": body.model or routed.engine,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(text)},
                        "finish_reason": finish or "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage_dict(usage),
                **({"citations": citations} if citations is not None else {}),
            },
            headers=engine_headers(routed.engine, routed.attempts),
        )

    stream = await router.stream(Capability.LLM, body.model, run)
    headers = engine_headers(stream.engine, stream.attempts)
    model = body.model or stream.engine
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        return event(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
            }
        )

    async def sse() -> AsyncIterator[bytes]:
        # The role chunk leaves together with the first text, in one write: a client on a busy
        # machine then wakes up once for the first token, not twice.
        opening = chunk({"role": "assistant", "content": ""}, None)
        usage: Usage | None = None
        finish: str | None = None
        try:
            async for delta in stream:
                usage = delta.usage or usage
                finish = delta.finish_reason or finish
                if delta.text:
                    yield opening + chunk({"content": delta.text}, None)
                    opening = b""
        except Exception as exc:  # the stream has started: report in-band, then end cleanly
            error = as_api_error(exc)
            yield opening + event(error_body(error.status, error.message, error.param, error.code))
            yield DONE
            return
        yield opening + chunk({}, finish or "stop")
        if citations is not None:
            yield event(
                {"id": completion_id, "object": "chat.completion.citations", "citations": citations}
            )
        if include_usage:
            yield event(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage_dict(usage),
                }
            )
        yield DONE

    return sse_response(sse(), headers)


routes = [Route("/v1/chat/completions", chat_completions, methods=["POST"])]
