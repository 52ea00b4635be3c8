"""What engines may ask of the rest of the gateway (e.g. retrieval asking for embeddings)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

from core.engines.input_type import InputType


class Services(Protocol):
    """Capabilities reachable through the router, so they get fallback, breakers and metrics."""

    async def embed(
        self, texts: list[str], *, model: str | None = None, input_type: InputType | None = None
    ) -> list[list[float]]:
        """Embed texts through the ``embeddings`` route (or the named engine/alias)."""
        ...


class BoundEmbedder(Protocol):
    """One embeddings engine, fixed for a whole bulk job (a document's chunks must all come
    from the same model: vectors of two models do not mix)."""

    @property
    def engine(self) -> str: ...

    async def __call__(self, texts: list[str], input_type: InputType) -> list[list[float]]:
        """Embed one batch, as background work that gives way to interactive requests."""
        ...


@runtime_checkable
class BulkEmbedding(Protocol):
    """Services that can bind one embeddings engine for bulk work (ingestion): no fallback to
    another engine part-way, no request timeout over the whole job, no breaker verdicts."""

    def embedder(self, model: str | None = None) -> AbstractAsyncContextManager[BoundEmbedder]:
        """The first engine of the ``embeddings`` route (or the named engine/alias)."""
        ...
