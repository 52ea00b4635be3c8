"""What engines may ask of the rest of the gateway (e.g. retrieval asking for embeddings)."""

from __future__ import annotations

from typing import Protocol

from core.engines.input_type import InputType


class Services(Protocol):
    """Capabilities reachable through the router, so they get fallback, breakers and metrics."""

    async def embed(
        self, texts: list[str], *, model: str | None = None, input_type: InputType | None = None
    ) -> list[list[float]]:
        """Embed texts through the ``embeddings`` route (or the named engine/alias)."""
        ...
