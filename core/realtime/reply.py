"""The language model step of a reply: the chat context in, reply events out.

A reply is a stream of events rather than of text, so that function calls (when sessions get
tools) join as one more event kind without changing how responses consume it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from core.engines.base import Capability
from core.engines.llm import ChatDelta, ChatMessage, ChatRequest, LLMEngine, Usage
from core.runtime.generation import Generation


@dataclass(frozen=True, slots=True)
class TextPiece:
    text: str


@dataclass(frozen=True, slots=True)
class ReplyEnd:
    finish_reason: str | None
    usage: Usage | None
    engine: str


ReplyEvent = TextPiece | ReplyEnd


async def reply_events(
    generation: Generation,
    model: str | None,
    messages: list[ChatMessage],
    *,
    temperature: float | None,
    max_tokens: int,
) -> AsyncIterator[ReplyEvent]:
    """The reply through the LLM chain (fallback until its first token)."""
    request = ChatRequest(messages=tuple(messages), temperature=temperature, max_tokens=max_tokens)

    def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
        return engine.chat(request)

    stream = await generation.router.stream(Capability.LLM, model, run)
    finish: str | None = None
    usage: Usage | None = None
    async for delta in stream:
        if delta.usage is not None:
            usage = delta.usage
        if delta.finish_reason is not None:
            finish = delta.finish_reason
        if delta.text:
            yield TextPiece(delta.text)
    yield ReplyEnd(finish, usage, stream.engine)
