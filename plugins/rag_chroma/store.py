"""Blocking chromadb calls for one voxgate collection: chunks plus a document registry.

Replacing a document never shows a mix of old and new chunks: new chunks are written under a new
version, then the registry entry flips to that version, then the old chunks are deleted. Chunks
whose version is not the registered one are invisible (and removed when next seen), so an ingest
interrupted half-way leaves nothing visible.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.engines.errors import InvalidRequest

_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_BATCH = 2000
_INTERNAL = "_vg_"
_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"})


def check_collection(name: str) -> str:
    if not _COLLECTION.match(name):
        raise InvalidRequest(
            "collection must be 1-63 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit",
            param="collection",
        )
    return name


def chroma_where(filters: dict[str, Any]) -> dict[str, Any] | None:
    """Metadata filters (``{"author": "x", "year": {"$gte": 2020}}``) as a chroma ``where``."""
    clauses = []
    for key, condition in filters.items():
        if key.startswith(_INTERNAL) or not key:
            raise InvalidRequest(f"cannot filter on {key!r}", param="filters")
        if isinstance(condition, dict):
            if not condition or not set(condition) <= _OPERATORS:
                raise InvalidRequest(
                    f"filter {key!r}: operators must be among {', '.join(sorted(_OPERATORS))}",
                    param="filters",
                )
        elif not isinstance(condition, str | int | float | bool):
            raise InvalidRequest(f"filter {key!r} must be a scalar or an operator", param="filters")
        clauses.append({key: condition})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def flat_metadata(metadata: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """The scalar metadata values chroma can filter on (the full metadata is kept as JSON)."""
    return {
        k: v
        for k, v in metadata.items()
        if isinstance(v, str | int | float | bool) and not k.startswith(_INTERNAL)
    }


@dataclass
class StoredChunk:
    id: str
    document_id: str
    version: str
    index: int
    start: int
    end: int
    text: str
    title: str | None
    metadata: dict[str, Any]


def _chunk_from(chunk_id: str, text: str | None, meta: dict[str, Any]) -> StoredChunk:
    return StoredChunk(
        id=chunk_id,
        document_id=str(meta["_vg_doc"]),
        version=str(meta["_vg_version"]),
        index=int(meta["_vg_index"]),
        start=int(meta["_vg_start"]),
        end=int(meta["_vg_end"]),
        text=text or "",
        title=str(meta["_vg_title"]) if meta.get("_vg_title") else None,
        metadata={k: v for k, v in meta.items() if not k.startswith(_INTERNAL)},
    )


class CollectionStore:
    """One voxgate collection: ``voxgate-<name>-chunks`` and ``voxgate-<name>-docs``."""

    def __init__(self, client: Any, name: str) -> None:
        self.name = name
        self._chunks = client.get_or_create_collection(
            f"voxgate-{name}-chunks", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        # The registry holds no vectors worth searching; chroma still wants one per record.
        self._docs = client.get_or_create_collection(
            f"voxgate-{name}-docs", embedding_function=None
        )
        self.versions: dict[str, str] = {}
        self.reload_registry()
        self.remove_orphans()

    # -- registry -------------------------------------------------------------------------------

    def reload_registry(self) -> None:
        records = self._docs.get(include=["metadatas"])
        self.versions = {
            doc_id: str(meta["version"])
            for doc_id, meta in zip(records["ids"], records["metadatas"] or [], strict=True)
        }

    def document(self, doc_id: str) -> dict[str, Any] | None:
        records = self._docs.get(ids=[doc_id], include=["metadatas"])
        if not records["ids"]:
            return None
        meta: dict[str, Any] = dict(records["metadatas"][0])
        return meta

    def documents(self, limit: int, offset: int) -> list[tuple[str, dict[str, Any]]]:
        records = self._docs.get(include=["metadatas"])
        pairs = sorted(zip(records["ids"], records["metadatas"] or [], strict=True))
        return [(i, dict(m)) for i, m in pairs[offset : offset + limit]]

    # -- writes ---------------------------------------------------------------------------------

    def write_chunks(
        self,
        ids: list[str],
        texts: list[str],
        vectors: list[list[float]],
        metadatas: list[dict[str, Any]],
    ) -> None:
        for at in range(0, len(ids), _BATCH):
            end = at + _BATCH
            self._chunks.add(
                ids=ids[at:end],
                documents=texts[at:end],
                embeddings=vectors[at:end],
                metadatas=metadatas[at:end],
            )

    def register(self, doc_id: str, version: str, record: dict[str, Any]) -> None:
        """The flip: from here on the new version's chunks are the document."""
        self._docs.upsert(
            ids=[doc_id], embeddings=[[1.0]], metadatas=[{**record, "version": version}]
        )
        old = self.versions.get(doc_id)
        self.versions[doc_id] = version
        if old is not None and old != version:
            self._chunks.delete(where={"$and": [{"_vg_doc": doc_id}, {"_vg_version": old}]})

    def remove(self, doc_id: str) -> bool:
        if doc_id not in self.versions and self.document(doc_id) is None:
            return False
        self._docs.delete(ids=[doc_id])
        self.versions.pop(doc_id, None)
        self._chunks.delete(where={"_vg_doc": doc_id})
        return True

    def remove_orphans(self) -> int:
        """Delete chunks of unregistered versions (an ingest that never flipped)."""
        records = self._chunks.get(include=["metadatas"])
        orphans = [
            chunk_id
            for chunk_id, meta in zip(records["ids"], records["metadatas"] or [], strict=True)
            if self.versions.get(str(meta["_vg_doc"])) != str(meta["_vg_version"])
        ]
        for at in range(0, len(orphans), _BATCH):
            self._chunks.delete(ids=orphans[at : at + _BATCH])
        return len(orphans)

    # -- reads ----------------------------------------------------------------------------------

    def visible(self, chunk: StoredChunk) -> bool:
        return self.versions.get(chunk.document_id) == chunk.version

    def all_chunks(self) -> list[StoredChunk]:
        records = self._chunks.get(include=["documents", "metadatas"])
        chunks = [
            _chunk_from(i, t, dict(m))
            for i, t, m in zip(
                records["ids"], records["documents"] or [], records["metadatas"] or [], strict=True
            )
        ]
        return [c for c in chunks if self.visible(c)]

    def chunks_by_id(self, ids: list[str]) -> dict[str, StoredChunk]:
        if not ids:
            return {}
        records = self._chunks.get(ids=ids, include=["documents", "metadatas"])
        found = {
            i: _chunk_from(i, t, dict(m))
            for i, t, m in zip(
                records["ids"], records["documents"] or [], records["metadatas"] or [], strict=True
            )
        }
        return {i: c for i, c in found.items() if self.visible(c)}

    def ids_matching(self, where: dict[str, Any]) -> set[str]:
        return set(self._chunks.get(where=where, include=[])["ids"])

    def nearest(
        self, vector: list[float], k: int, where: dict[str, Any] | None
    ) -> list[tuple[StoredChunk, float]]:
        if not self.versions:
            return []
        result = self._chunks.query(
            query_embeddings=[vector],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        pairs = []
        for chunk_id, text, meta, distance in zip(
            result["ids"][0],
            (result["documents"] or [[]])[0],
            (result["metadatas"] or [[]])[0],
            (result["distances"] or [[]])[0],
            strict=True,
        ):
            chunk = _chunk_from(chunk_id, text, dict(meta))
            if self.visible(chunk):
                pairs.append((chunk, 1.0 - float(distance)))
        return pairs

    def counts(self) -> dict[str, int]:
        return {"documents": len(self.versions), "chunks": self._chunks.count()}


def registry_record(
    title: str | None, chunks: int, chars: int, metadata: dict[str, Any]
) -> dict[str, Any]:
    return {
        "title": title or "",
        "chunks": chunks,
        "chars": chars,
        "metadata_json": json.dumps(metadata, ensure_ascii=False, default=str),
    }
