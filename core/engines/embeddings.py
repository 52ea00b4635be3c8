"""Text embedding engines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.engines.base import Capability, Engine
from core.engines.input_type import InputType as InputType


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
