"""What engines may ask of the rest of the gateway (e.g. retrieval asking for embeddings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.engines.embeddings import InputType
    from core.engines.llm import ChatDelta, ChatRequest


class Services(Protocol):
    """Capabilities reachable through the router, so they get fallback, breakers and metrics."""

    async def embed(
        self, texts: list[str], *, model: str | None = None, input_type: InputType | None = None
    ) -> list[list[float]]:
        """Embed texts through the ``embeddings`` route (or the named engine/alias)."""
        ...

    def chat(self, request: ChatRequest, *, model: str | None = None) -> AsyncIterator[ChatDelta]:
        """Stream a chat completion through the ``llm`` route."""
        ...
