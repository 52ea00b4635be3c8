"""Text embedding engines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from core.engines.base import Capability, Engine

#: What the texts are for. Asymmetric models (e5, bge, nomic...) embed a search question and the
#: passages it should find differently; ``None`` leaves it to the engine's own default.
InputType = Literal["query", "document"]


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


class EmbeddingsEngine(Engine):
    capability: ClassVar[Capability] = Capability.EMBEDDINGS

    async def embed(self, texts: list[str], input_type: InputType | None = None) -> Embeddings:
        """Embed a batch of texts; vectors come back in input order. Symmetric models may
        ignore ``input_type``."""
        raise NotImplementedError

    async def embed_bulk(self, texts: list[str], input_type: InputType) -> list[list[float]]:
        """One batch of bulk work (a document being ingested): engines that can let interactive
        calls (a search question) go first between their own batches."""
        return (await self.embed(texts, input_type)).vectors

    def dimensions(self) -> int | None:
        """Vector size, when known before the first call."""
        return None
