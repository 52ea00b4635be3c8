"""The language model step of a reply: the chat context in, reply events out.

A reply is a stream of events: pieces of text to speak, and function calls, each sent whole
(its arguments are gathered from the engine's pieces, so a call always carries complete JSON).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from core.engines.base import Capability
from core.engines.llm import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    FunctionTool,
    LLMEngine,
    ToolChoice,
    Usage,
    check_support,
)
from core.runtime.generation import Generation


@dataclass(frozen=True, slots=True)
class TextPiece:
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    call_id: str
    name: str
    #: JSON text, as the model wrote it.
    arguments: str


@dataclass(frozen=True, slots=True)
class ReplyEnd:
    finish_reason: str | None
    usage: Usage | None
    engine: str


ReplyEvent = TextPiece | FunctionCall | ReplyEnd
#: The choice of a reply that has no tools.
NO_TOOLS = ToolChoice("none")


@dataclass
class _CallParts:
    call_id: str = ""
    name: str = ""
    arguments: str = ""

    def whole(self) -> FunctionCall:
        call_id = self.call_id or f"call_{uuid.uuid4().hex[:20]}"
        return FunctionCall(call_id, self.name, self.arguments)


async def reply_events(
    generation: Generation,
    model: str | None,
    messages: list[ChatMessage],
    *,
    temperature: float | None,
    max_tokens: int,
    tools: tuple[FunctionTool, ...] = (),
    tool_choice: ToolChoice = NO_TOOLS,
) -> AsyncIterator[ReplyEvent]:
    """The reply through the LLM chain (fallback until its first token; an engine that cannot
    call functions is skipped when this reply may call one, as on the chat API)."""
    request = ChatRequest(
        messages=tuple(messages),
        temperature=temperature,
        max_tokens=max_tokens,
        tools=tools if tool_choice.mode != "none" else (),
        tool_choice=tool_choice if tools else NO_TOOLS,
    )

    async def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
        check_support(engine, request)
        # Closed at once when the reply is cut, so the engine stops within a token.
        deltas = engine.chat(request)
        try:
            async for delta in deltas:
                yield delta
        finally:
            close = getattr(deltas, "aclose", None)
            if close is not None:
                await close()

    stream = await generation.router.stream(Capability.LLM, model, run)
    finish: str | None = None
    usage: Usage | None = None
    calls: dict[int, _CallParts] = {}
    async for delta in stream:
        if delta.usage is not None:
            usage = delta.usage
        if delta.finish_reason is not None:
            finish = delta.finish_reason
        if delta.text:
            yield TextPiece(delta.text)
        for piece in delta.tool_calls:
            parts = calls.setdefault(piece.index, _CallParts())
            parts.call_id = piece.id or parts.call_id
            parts.name = piece.name or parts.name
            parts.arguments += piece.arguments
    for index in sorted(calls):
        yield calls[index].whole()
    yield ReplyEnd(finish, usage, stream.engine)
