"""Retrieval (RAG) engines: document stores that answer questions with cited chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from core.engines.base import Capability, Engine

RetrievalMode = Literal["dense", "keyword", "hybrid"]


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    text: str
    collection: str = "default"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: str
    collection: str
    chunks: int
    chars: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RetrievalQuery:
    question: str
    collection: str = "default"
    top_k: int = 5
    mode: RetrievalMode = "hybrid"
    filters: dict[str, Any] = field(default_factory=dict)
    min_score: float | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """One retrieved chunk and where it came from."""

    document_id: str
    chunk_index: int
    start: int
    end: int
    text: str
    score: float
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class RetrievalEngine(Engine):
    capability: ClassVar[Capability] = Capability.RAG

    async def upsert(self, document: Document) -> DocumentInfo:
        """Add or replace a document; replacing never leaves a mix of old and new chunks."""
        raise NotImplementedError

    async def delete(self, collection: str, document_id: str) -> bool:
        """Remove a document and all its chunks; False when it did not exist."""
        raise NotImplementedError

    async def get(self, collection: str, document_id: str) -> DocumentInfo | None:
        raise NotImplementedError

    async def list_documents(
        self, collection: str, *, limit: int = 100, offset: int = 0
    ) -> list[DocumentInfo]:
        raise NotImplementedError

    async def query(self, query: RetrievalQuery) -> list[Citation]:
        raise NotImplementedError

    async def stats(self, collection: str | None = None) -> dict[str, Any]:
        raise NotImplementedError
