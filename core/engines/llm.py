"""Chat LLM engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from core.engines.base import Capability, Engine

Role = Literal["system", "user", "assistant", "tool", "developer"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    name: str | None = None


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
    #: Provider-specific fields passed through untouched (cloud engines).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """A piece of the reply. The last delta carries ``finish_reason`` and, if known, ``usage``."""

    text: str = ""
    finish_reason: Literal["stop", "length", "cancelled"] | None = None
    usage: Usage | None = None


class LLMEngine(Engine):
    capability: ClassVar[Capability] = Capability.LLM

    def chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """Yield the reply token by token."""
        raise NotImplementedError

    def model_id(self) -> str:
        """The model name reported in responses."""
        return self.name
