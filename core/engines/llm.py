"""Chat LLM engines, and the typed shape of a chat request and its streamed reply.

Besides text, a request may carry function tools (with how the model must use them), a required
output format (a JSON object, or JSON valid for a schema) and a wish for token log-probabilities.
An engine says which of these it can honour through its ``supports_*`` flags; the API asks the
engine first (:func:`check_support`) and an engine that cannot do what a request needs is skipped
with :class:`~core.engines.errors.Unsupported`, never allowed to answer as if it had.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from core.engines.base import Capability, Engine
from core.engines.errors import Unsupported

Role = Literal["system", "user", "assistant", "tool", "developer"]
FinishReason = Literal["stop", "length", "tool_calls", "cancelled"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the assistant made: in the history, or complete in a reply."""

    id: str
    name: str
    #: The arguments as JSON text, exactly as the model wrote them.
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    name: str | None = None
    #: An assistant turn's function calls (its ``content`` may then be empty).
    tool_calls: tuple[ToolCall, ...] = ()
    #: On a ``tool`` message: the call this is the result of.
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A function the model may call; ``parameters`` is a JSON Schema for its arguments."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    #: The arguments must follow the schema exactly (OpenAI's structured outputs).
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """How the model must use the tools: ``auto`` (its choice), ``none`` (answer in text),
    ``required`` (call one of them), or ``required`` with ``function`` set (call that one)."""

    mode: Literal["auto", "none", "required"] = "auto"
    function: str | None = None

    @property
    def forced(self) -> bool:
        return self.mode == "required"


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """The form the reply's text must take: any JSON object, or JSON valid for ``schema``."""

    type: Literal["json_object", "json_schema"]
    schema: Mapping[str, Any] | None = None
    name: str | None = None
    strict: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    #: Whether the model may make more than one call in a turn (it may still make one).
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None
    #: Report each output token's log-probability, with this many alternatives beside it.
    logprobs: bool = False
    top_logprobs: int = 0
    #: Provider-specific fields passed through untouched (cloud engines).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Whether the caller passes the reply on piece by piece. False (the whole answer is sent
    #: at once) lets an engine hand over what it received together as one larger piece.
    streamed: bool = True

    @property
    def uses_tools(self) -> bool:
        """Whether the model may or must call a function in this reply."""
        return bool(self.tools) and self.tool_choice.mode != "none"


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token: str
    logprob: float
    #: The token's UTF-8 bytes (a token may hold part of a character).
    bytes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...]
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a function call in a streamed reply: the first piece of a call carries its
    ``id`` and ``name``, later pieces only more of its ``arguments`` text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """A piece of the reply. The last delta carries ``finish_reason`` and, if known, ``usage``."""

    text: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    #: Log-probabilities of the tokens behind this piece (when the request asked for them).
    logprobs: tuple[TokenLogprob, ...] = ()
    #: Which of several choices (``n``) this piece belongs to.
    choice: int = 0


class LLMEngine(Engine):
    capability: ClassVar[Capability] = Capability.LLM
    #: Function tools: calls with arguments valid for the function's schema.
    supports_tools: ClassVar[bool] = False
    #: ``response_format`` json_object / json_schema.
    supports_response_format: ClassVar[bool] = False
    #: ``logprobs`` / ``top_logprobs``.
    supports_logprobs: ClassVar[bool] = False
    #: ``logit_bias`` (token ids of the engine's own tokenizer).
    supports_logit_bias: ClassVar[bool] = False

    def chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """Yield the reply token by token."""
        raise NotImplementedError

    def model_id(self) -> str:
        """The model name reported in responses."""
        return self.name


def check_support(engine: LLMEngine, request: ChatRequest) -> None:
    """Raise :class:`Unsupported` when ``engine`` cannot honour part of ``request``, so the chain
    moves on to an engine that can (and the reason shows in ``x-voxgate-fallback``)."""
    missing = []
    if request.uses_tools and not engine.supports_tools:
        missing.append("function tools")
    if request.response_format is not None and not engine.supports_response_format:
        missing.append(f"response_format {request.response_format.type}")
    if request.logprobs and not engine.supports_logprobs:
        missing.append("logprobs")
    if request.extra.get("logit_bias") and not engine.supports_logit_bias:
        missing.append("logit_bias")
    if missing:
        raise Unsupported(f"engine {engine.name!r} cannot do {', '.join(missing)}")
