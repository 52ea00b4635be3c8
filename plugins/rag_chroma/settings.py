"""Settings of the chroma retrieval engine."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from core.engines import EngineSettings


class ChromaSettings(EngineSettings):
    #: Embedded store folder; default ``<data dir>/chroma`` of this engine.
    path: str | None = None
    #: A Chroma server (``chroma run``) instead of the embedded store.
    host: str | None = None
    port: int = Field(8000, ge=1, le=65535)
    ssl: bool = False
    #: Route, engine or alias that embeds chunks and questions (default: the embeddings route).
    #: Vectors of different models do not mix: name one engine here when the route has several.
    embeddings: str | None = None
    chunk_chars: int = Field(500, ge=50, le=20_000)
    chunk_overlap: int = Field(100, ge=0)
    #: How dense and keyword results are combined in hybrid mode. ``adaptive`` mixes them with a
    #: weight set per question: keyword search counts as far as its best hit holds the question's
    #: words (all of them: BM25 leads; a word or two, as in a paraphrase: the embeddings lead).
    #: ``weighted`` mixes cosine similarity with BM25 scaled by the question's best BM25 score at
    #: the fixed ``dense_weight``; ``rrf`` is reciprocal rank fusion, which ignores scores.
    fusion: Literal["adaptive", "weighted", "rrf"] = "adaptive"
    rrf_k: int = Field(60, ge=1)
    #: Share of the dense score in ``weighted`` fusion. 0.3 did best on voxgate's English and
    #: Chinese evaluation sets with all-MiniLM-L6-v2 (questions in the documents' own words).
    dense_weight: float = Field(0.3, ge=0, le=1)
    #: Results taken from each retriever before fusion.
    candidates: int = Field(50, ge=1, le=1000)
    #: Server mode: how often (seconds) to check whether another daemon changed a collection.
    sync_seconds: float = Field(1.0, ge=0)
    #: Server mode: chunks of a version never registered are removed once this old (seconds);
    #: younger ones may be an ingest still running in another daemon.
    orphan_grace_seconds: float = Field(3600.0, ge=0)
    #: Chunks embedded and written per batch while ingesting (progress moves batch by batch).
    ingest_batch: int = Field(128, ge=1, le=4096)
    #: An open collection unused this long (seconds) is released, keyword index and all, and
    #: reopened from the store when next used; 0 keeps collections open until shutdown.
    collection_idle_seconds: float = Field(900.0, ge=0)

    @model_validator(mode="after")
    def _overlap_fits(self) -> ChromaSettings:
        if self.chunk_overlap >= self.chunk_chars:
            raise ValueError("chunk_overlap must be smaller than chunk_chars")
        return self
