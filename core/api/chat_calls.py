"""Running one chat request on an engine of the chain, and gathering its streamed reply.

Shared by ``/v1/chat/completions`` and ``/v1/responses`` (one chat path, two front doors).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from core.api.errors import ApiError
from core.config.schema import LimitsConfig
from core.engines.llm import (
    ChatDelta,
    ChatRequest,
    FinishReason,
    LLMEngine,
    TokenLogprob,
    ToolCall,
    Usage,
    check_support,
)


def chat_call(
    request: ChatRequest, choices: int = 1
) -> Callable[[LLMEngine], AsyncIterator[ChatDelta]]:
    """What the router runs on each engine it tries: refuse early (``Unsupported``) what the
    engine cannot do, so the chain moves on; then the reply, ``choices`` times over on the same
    engine (a fixed seed moves on by one per choice, so the choices differ)."""

    async def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
        check_support(engine, request)
        for index in range(choices):
            one = request
            if index and request.seed is not None:
                one = dataclasses.replace(request, seed=request.seed + index)
            async for delta in engine.chat(one):
                yield dataclasses.replace(delta, choice=index) if index else delta

    return run


@dataclass
class CallBuilder:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def build(self) -> ToolCall:
        return ToolCall(self.id, self.name, "".join(self.arguments))


@dataclass
class Choice:
    """One choice's whole reply, gathered from its deltas."""

    index: int
    text: list[str] = field(default_factory=list)
    calls: dict[int, CallBuilder] = field(default_factory=dict)
    finish: FinishReason | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)
    usage: Usage | None = None

    def add(self, delta: ChatDelta) -> None:
        if delta.text:
            self.text.append(delta.text)
        for piece in delta.tool_calls:
            call = self.calls.setdefault(piece.index, CallBuilder())
            call.id = piece.id or call.id
            call.name = piece.name or call.name
            if piece.arguments:
                call.arguments.append(piece.arguments)
        self.logprobs.extend(delta.logprobs)
        self.finish = delta.finish_reason or self.finish
        self.usage = delta.usage or self.usage

    @property
    def content(self) -> str:
        return "".join(self.text)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [self.calls[index].build() for index in sorted(self.calls)]

    @property
    def finish_reason(self) -> FinishReason:
        if self.finish is None:
            return "tool_calls" if self.calls else "stop"
        return self.finish


def gather(deltas: Iterable[ChatDelta], choices: int = 1) -> list[Choice]:
    gathered = [Choice(index) for index in range(choices)]
    for delta in deltas:
        gathered[delta.choice].add(delta)
    return gathered


def total_usage(choices: Iterable[Usage | None]) -> Usage | None:
    """The prompt once (every choice reads the same one), the completions added up."""
    known = [usage for usage in choices if usage is not None]
    if not known:
        return None
    return Usage(known[0].prompt_tokens, sum(u.completion_tokens for u in known))


def check_message_count(count: int, limits: LimitsConfig) -> None:
    """Refused before any engine is taken: rendering a huge history holds the model."""
    if count > limits.max_chat_messages:
        raise ApiError(
            400,
            f"{count} messages; at most {limits.max_chat_messages} per request",
            param="messages",
            code="too_many_messages",
        )
