"""Settings of the chroma retrieval engine."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from core.engines import EngineSettings


class ChromaSettings(EngineSettings):
    #: Embedded store folder; default ``<data dir>/engines/<engine name>/chroma``.
    path: str | None = None
    #: A Chroma server (``chroma run``) instead of the embedded store.
    host: str | None = None
    port: int = Field(8000, ge=1, le=65535)
    ssl: bool = False
    #: Route, engine or alias that embeds chunks and questions (default: the embeddings route).
    embeddings: str | None = None
    chunk_chars: int = Field(500, ge=50, le=20_000)
    chunk_overlap: int = Field(100, ge=0)
    #: How dense and keyword results are combined in hybrid mode.
    fusion: Literal["rrf", "weighted"] = "rrf"
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(0.5, ge=0, le=1)
    #: Results taken from each retriever before fusion.
    candidates: int = Field(50, ge=1, le=1000)

    @model_validator(mode="after")
    def _overlap_fits(self) -> ChromaSettings:
        if self.chunk_overlap >= self.chunk_chars:
            raise ValueError("chunk_overlap must be smaller than chunk_chars")
        return self
