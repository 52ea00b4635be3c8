"""``openai_embeddings``: text embeddings from an OpenAI-compatible server."""

from __future__ import annotations

from typing import Any, ClassVar

from core.engines.base import EngineSettings
from core.engines.embeddings import Embeddings, EmbeddingsEngine, InputType
from core.engines.errors import EngineUpstreamError
from plugins.fallback_cloud.cloud_engine import CloudEngine
from plugins.fallback_cloud.settings import EmbeddingSettings


class OpenAIEmbeddingsEngine(CloudEngine, EmbeddingsEngine):
    Settings: ClassVar[type[EngineSettings]] = EmbeddingSettings
    description: ClassVar[str] = "embeddings through any OpenAI-compatible server"
    default_max_concurrency: ClassVar[int] = 32

    settings: EmbeddingSettings

    def info(self) -> dict[str, Any]:
        return {**super().info(), "dimensions": self.settings.dimensions}

    def dimensions(self) -> int | None:
        return self.settings.dimensions

    async def embed(self, texts: list[str], input_type: InputType | None = None) -> Embeddings:
        # OpenAI's embeddings API has no input_type: its models are symmetric.
        vectors: list[list[float]] = []
        tokens = 0
        size = self.settings.batch_size
        for start in range(0, len(texts), size):
            batch = texts[start : start + size]
            payload: dict[str, Any] = {
                "model": self.settings.model,
                "input": batch,
                "encoding_format": "float",
            }
            if self.settings.dimensions is not None:
                payload["dimensions"] = self.settings.dimensions
            result = await self._http.post_json("embeddings", payload)
            batch_vectors, batch_tokens = self._parse(result, len(batch))
            vectors.extend(batch_vectors)
            tokens += batch_tokens
        return Embeddings(vectors=vectors, prompt_tokens=tokens)

    def _parse(self, result: Any, expected: int) -> tuple[list[list[float]], int]:
        try:
            rows = sorted(result["data"], key=lambda row: int(row["index"]))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (KeyError, TypeError, ValueError):
            raise EngineUpstreamError(
                f"{self.name!r}: the server's embeddings answer is not in OpenAI's shape"
            ) from None
        if len(vectors) != expected:
            raise EngineUpstreamError(
                f"{self.name!r}: asked for {expected} embeddings, the server sent {len(vectors)}"
            )
        usage = result.get("usage") if isinstance(result, dict) else None
        tokens = int(usage.get("prompt_tokens") or 0) if isinstance(usage, dict) else 0
        return vectors, tokens
