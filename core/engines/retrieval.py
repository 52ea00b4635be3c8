"""Retrieval (RAG) engines: document stores that answer questions with cited chunks."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from core.engines.base import Capability, Engine
from core.engines.errors import InvalidRequest

RetrievalMode = Literal["dense", "keyword", "hybrid"]
#: Ingestion progress of one document: (chunks written, chunks in all).
Progress = Callable[[int, int], None]

MetadataValue = str | int | float | bool
#: Bounds that keep one document's metadata a label, not a payload.
MAX_METADATA_KEYS = 64
MAX_METADATA_KEY_CHARS = 128
MAX_METADATA_VALUE_CHARS = 4096


def check_metadata(metadata: Any, *, param: str = "metadata") -> dict[str, MetadataValue]:
    """Document metadata as stores can index it: a flat mapping of names to strings, numbers or
    booleans. Anything else (nested objects, lists, nulls, NaN) is the client's 400, found
    before anything is written, never a half-stored document."""
    if not isinstance(metadata, dict):
        raise InvalidRequest(f"{param} must be a JSON object", param=param)
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidRequest(f"{param} has more than {MAX_METADATA_KEYS} keys", param=param)
    for key, value in metadata.items():
        where = f"{param}.{key}"
        if not isinstance(key, str) or not key or len(key) > MAX_METADATA_KEY_CHARS:
            raise InvalidRequest(
                f"{param} keys must be 1-{MAX_METADATA_KEY_CHARS} characters", param=param
            )
        if key.startswith("_vg_"):
            raise InvalidRequest(f"{where}: names starting with _vg_ are reserved", param=where)
        if isinstance(value, str):
            if len(value) > MAX_METADATA_VALUE_CHARS:
                raise InvalidRequest(
                    f"{where} is longer than {MAX_METADATA_VALUE_CHARS} characters", param=where
                )
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidRequest(f"{where} must be a finite number", param=where)
        elif not isinstance(value, bool | int | float):
            kind = type(value).__name__ if value is not None else "null"
            raise InvalidRequest(
                f"{where} is a {kind}; metadata values must be strings, numbers or booleans "
                "(flatten nested values into their own keys)",
                param=where,
            )
    return metadata


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
    #: Hash of the collection, text and metadata it was stored with (see core.ingest.content).
    content_sha256: str | None = None


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

    def check(self, document: Document) -> None:
        """Refuse (:class:`InvalidRequest`) a document this engine cannot store. An upload of
        several documents is checked whole before any is written, so one bad record leaves
        none of the others stored."""
        # A document's URL is /v1/rag/documents/{id}: one with a line break could never be
        # read or deleted again.
        if any(unicodedata.category(ch) == "Cc" for ch in document.id):
            raise InvalidRequest("document id must not hold control characters", param="id")
        check_metadata(document.metadata)

    async def upsert(self, document: Document) -> DocumentInfo:
        """Add or replace a document; replacing never leaves a mix of old and new chunks."""
        raise NotImplementedError

    async def ingest(self, document: Document, progress: Progress | None = None) -> DocumentInfo:
        """:meth:`upsert` for ingestion jobs, which run outside any request timeout: engines that
        can embed in batches report ``progress`` as they go. Cancelling it leaves nothing of the
        new version visible."""
        return await self.upsert(document)

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
