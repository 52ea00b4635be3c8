"""Blocking chromadb calls for one voxgate collection: chunks plus a document registry.

Replacing a document never shows a mix of old and new chunks: new chunks are written under a new
version, then the registry entry flips to that version, then the old chunks are deleted. Chunks
whose version is not the registered one are invisible (and removed later), so an ingest cut off
half-way leaves nothing visible.

Every write also stamps a new random ``generation`` on the registry's state record, so a daemon
sharing a Chroma server with others can tell cheaply whether it must reread the registry.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.engines.errors import InvalidRequest

_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_BATCH = 2000
#: Records read per request: chroma turns a read into one SQL statement with a variable per
#: record, and SQLite refuses more than 32,766 of them (a collection of 50k chunks would not open).
_PAGE = 5000
INTERNAL = "_vg_"
#: The registry record holding the generation stamp; document ids may not contain '#'.
_STATE_ID = "#state"
_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"})
_SCALAR = (str, int, float, bool)
#: Metadata names chroma refuses or keeps for itself (``chroma:document``; ``$`` and ``#`` start
#: its operators), refused in a document's metadata.
_CHROMA_RESERVED = ("chroma:", "$", "#")
#: Values one filter may hold: chroma turns each into an SQL variable, and SQLite refuses a
#: statement with more than 32,766 of them, which would read as the store failing.
MAX_FILTER_VALUES = 1000


def check_collection(name: str) -> str:
    # Chroma also refuses two periods in a row in its own collection names.
    if not _COLLECTION.match(name) or ".." in name:
        raise InvalidRequest(
            "collection must be 1-63 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit, without two periods in a row",
            param="collection",
        )
    return name


def chroma_where(filters: dict[str, Any]) -> dict[str, Any] | None:
    """Metadata filters (``{"author": "x", "year": {"$gte": 2020}}``) as a chroma ``where``.

    Everything chroma would refuse is refused here as the client's error: chroma's own refusal
    reads as the store failing. A range (``{"$gte": 2020, "$lt": 2025}``) becomes one clause
    per operator, since chroma takes one operator to a clause."""
    clauses: list[dict[str, Any]] = []
    for key, condition in filters.items():
        if not key or key.startswith((INTERNAL, "$")):
            raise InvalidRequest(f"cannot filter on {key!r}", param="filters")
        if isinstance(condition, dict):
            if not condition or not set(condition) <= _OPERATORS:
                raise InvalidRequest(
                    f"filter {key!r}: operators must be among {', '.join(sorted(_OPERATORS))}",
                    param="filters",
                )
            for operator, operand in condition.items():
                _check_operand(key, operator, operand)
                clauses.append({key: {operator: operand}})
        elif isinstance(condition, _SCALAR):
            clauses.append({key: condition})
        else:
            raise InvalidRequest(f"filter {key!r} must be a scalar or an operator", param="filters")
    if not clauses:
        return None
    values = sum(len(o) if isinstance(o, list) else 1 for c in clauses for o in _operands(c))
    if values > MAX_FILTER_VALUES:
        raise InvalidRequest(
            f"filters hold {values} values; at most {MAX_FILTER_VALUES} are allowed",
            param="filters",
        )
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _operands(clause: dict[str, Any]) -> list[Any]:
    [condition] = clause.values()
    return list(condition.values()) if isinstance(condition, dict) else [condition]


def _check_operand(key: str, operator: str, operand: Any) -> None:
    if operator in ("$in", "$nin"):
        # Chroma wants every item of the type of the first.
        valid = (
            isinstance(operand, list)
            and bool(operand)
            and all(isinstance(item, _SCALAR) for item in operand)
            and len({type(item) for item in operand}) == 1
        )
        needed = "a non-empty list of values of one type"
    elif operator in ("$gt", "$gte", "$lt", "$lte"):
        valid = isinstance(operand, int | float) and not isinstance(operand, bool)
        needed = "a number"
    else:
        valid = isinstance(operand, _SCALAR)
        needed = "a scalar"
    if not valid:
        raise InvalidRequest(f"filter {key!r}: {operator} needs {needed}", param="filters")


def check_chroma_metadata(metadata: dict[str, Any]) -> None:
    """Refuse the metadata names chroma keeps for itself (on top of ``check_metadata``)."""
    for key in metadata:
        if key.startswith(_CHROMA_RESERVED):
            raise InvalidRequest(
                f"metadata.{key}: names starting with {', '.join(_CHROMA_RESERVED)} are reserved",
                param=f"metadata.{key}",
            )


def flat_metadata(metadata: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """The scalar metadata values chroma can filter on (the full metadata is kept as JSON)."""
    return {
        k: v
        for k, v in metadata.items()
        if isinstance(v, str | int | float | bool) and not k.startswith(INTERNAL)
    }


def chunk_id(doc_id: str, version: str, index: int) -> str:
    """Chunk ids carry their document and version, so visibility needs no metadata read."""
    return f"{doc_id}#{version}#{index}"


def document_of(chunk_id: str) -> str:
    return chunk_id.rsplit("#", 2)[0]


def version_of(chunk_id: str) -> str:
    return chunk_id.rsplit("#", 2)[1]


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


@dataclass
class Registry:
    """What the store says is visible: document id -> (version, chunk count)."""

    versions: dict[str, str] = field(default_factory=dict)
    chunks: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistryChange:
    """Documents whose registered version changed since the last read (or that vanished)."""

    changed: dict[str, str]
    removed: set[str]


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
        metadata={k: v for k, v in meta.items() if not k.startswith(INTERNAL)},
    )


def read_all(
    collection: Any, include: list[str], where: dict[str, Any] | None = None
) -> dict[str, list[Any]]:
    """Every record of ``collection`` (matching ``where``), read a page at a time."""
    out: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": []}
    offset = 0
    while True:
        page = collection.get(where=where, include=include, limit=_PAGE, offset=offset)
        ids = page["ids"]
        out["ids"].extend(ids)
        for key in ("documents", "metadatas"):
            if key in include:
                out[key].extend(page[key] or [])
        if len(ids) < _PAGE:
            return out
        offset += len(ids)


def _chunks_from(records: Any) -> list[StoredChunk]:
    return [
        _chunk_from(i, t, dict(m))
        for i, t, m in zip(
            records["ids"], records["documents"] or [], records["metadatas"] or [], strict=True
        )
    ]


class CollectionStore:
    """One voxgate collection: ``voxgate-<name>-chunks`` and ``voxgate-<name>-docs``."""

    def __init__(self, client: Any, name: str, *, create: bool) -> None:
        """Opens the collection's two chroma collections; without ``create`` a collection that
        does not exist raises chromadb's ``NotFoundError``."""
        self.name = name
        if create:
            self._chunks = client.get_or_create_collection(
                f"voxgate-{name}-chunks",
                embedding_function=None,
                metadata={"hnsw:space": "cosine"},
            )
            # The registry holds no vectors worth searching; chroma still wants one per record.
            self._docs = client.get_or_create_collection(
                f"voxgate-{name}-docs", embedding_function=None
            )
        else:
            self._chunks = client.get_collection(f"voxgate-{name}-chunks", embedding_function=None)
            self._docs = client.get_collection(f"voxgate-{name}-docs", embedding_function=None)
        self.registry = Registry()
        self.generation: str | None = None
        self.dimensions: int | None = None
        #: The embeddings engine whose vectors the collection holds (None: not yet recorded).
        #: Two models may share a vector size (MiniLM and e5-small: 384), so size alone cannot
        #: tell them apart.
        self.embeddings: str | None = None

    # -- registry -------------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        records = self._docs.get(ids=[_STATE_ID], include=["metadatas"])
        return dict(records["metadatas"][0]) if records["ids"] else {}

    def changed_elsewhere(self) -> bool:
        """Whether any writer (this process or another) wrote since the registry was read."""
        return self._state().get("generation") != self.generation

    def read_registry(self) -> RegistryChange:
        """Reread the registry and say which documents changed since the last read."""
        state = self._state()  # read before the registry: a later write bumps it again
        records = read_all(self._docs, ["metadatas"])
        fresh = Registry()
        for doc_id, meta in zip(records["ids"], records["metadatas"] or [], strict=True):
            if doc_id != _STATE_ID:
                fresh.versions[doc_id] = str(meta["version"])
                fresh.chunks[doc_id] = int(meta.get("chunks", 0))
        old = self.registry.versions
        change = RegistryChange(
            changed={d: v for d, v in fresh.versions.items() if old.get(d) != v},
            removed=set(old) - set(fresh.versions),
        )
        self.registry = fresh
        self.generation = state.get("generation")
        dimensions = state.get("dimensions")
        self.dimensions = int(dimensions) if dimensions else None
        embeddings = state.get("embeddings")
        self.embeddings = str(embeddings) if embeddings else None
        return change

    def _stamp(self) -> None:
        """A new generation, so readers elsewhere know to reread the registry."""
        meta: dict[str, Any] = {"generation": uuid.uuid4().hex}
        if self.dimensions:
            meta["dimensions"] = self.dimensions
        if self.embeddings:
            meta["embeddings"] = self.embeddings
        self._docs.upsert(ids=[_STATE_ID], embeddings=[[1.0]], metadatas=[meta])

    def document(self, doc_id: str) -> dict[str, Any] | None:
        if doc_id == _STATE_ID:
            return None
        records = self._docs.get(ids=[doc_id], include=["metadatas"])
        if not records["ids"]:
            return None
        meta: dict[str, Any] = dict(records["metadatas"][0])
        return meta

    def documents(self, limit: int, offset: int) -> list[tuple[str, dict[str, Any]]]:
        records = read_all(self._docs, ["metadatas"])
        pairs = sorted(
            (i, m)
            for i, m in zip(records["ids"], records["metadatas"] or [], strict=True)
            if i != _STATE_ID
        )
        return [(i, dict(m)) for i, m in pairs[offset : offset + limit]]

    # -- writes ---------------------------------------------------------------------------------

    def check_dimensions(self, size: int) -> None:
        if self.dimensions is not None and size != self.dimensions:
            raise InvalidRequest(
                f"collection {self.name!r} holds {self.dimensions}-d vectors but the embeddings "
                f"engine gave {size}-d ones: use the engine the collection was built with (the "
                "retrieval engine's `embeddings` setting) or another collection",
                param="collection",
            )

    def check_embeddings(self, engine: str) -> None:
        """Refuse vectors of another model while the collection holds documents (an emptied
        collection takes whichever model writes to it next)."""
        if self.registry.versions and self.embeddings not in (None, engine):
            raise InvalidRequest(
                f"collection {self.name!r} holds vectors of embeddings engine "
                f"{self.embeddings!r}, not {engine!r}: two models' vectors do not mix. Ingest "
                "into another collection, or delete its documents and ingest them again",
                param="collection",
            )

    def write_chunks(
        self,
        ids: list[str],
        texts: list[str],
        vectors: list[list[float]],
        metadatas: list[dict[str, Any]],
        embeddings: str | None = None,
    ) -> None:
        if embeddings is not None:
            self.check_embeddings(embeddings)
            self.embeddings = embeddings
        if vectors:
            self.check_dimensions(len(vectors[0]))
        for at in range(0, len(ids), _BATCH):
            end = at + _BATCH
            self._chunks.add(
                ids=ids[at:end],
                documents=texts[at:end],
                embeddings=vectors[at:end],
                metadatas=metadatas[at:end],
            )
        if vectors and self.dimensions is None:
            self.dimensions = len(vectors[0])

    def write_version(
        self,
        doc_id: str,
        version: str,
        record: dict[str, Any],
        chunks: tuple[list[str], list[str], list[list[float]], list[dict[str, Any]]],
    ) -> str | None:
        """Write a document's new chunks, then flip the registry to them (see :meth:`register`)."""
        self.write_chunks(*chunks)
        return self.register(doc_id, version, record)

    def register(self, doc_id: str, version: str, record: dict[str, Any]) -> str | None:
        """The flip: from here on the new version's chunks are the document. Returns the
        version it replaced, whose chunks are then deleted."""
        current = self.document(doc_id)
        self._docs.upsert(
            ids=[doc_id], embeddings=[[1.0]], metadatas=[{**record, "version": version}]
        )
        self._stamp()
        self.registry.versions[doc_id] = version
        self.registry.chunks[doc_id] = int(record.get("chunks", 0))
        old = str(current["version"]) if current else None
        if old is not None and old != version:
            self._chunks.delete(where={"$and": [{"_vg_doc": doc_id}, {"_vg_version": old}]})
        return old

    def remove(self, doc_id: str) -> str | None:
        """Unregister a document and delete its chunks; returns its version, None if absent."""
        current = self.document(doc_id)
        if current is None:
            return None
        self._docs.delete(ids=[doc_id])
        self._stamp()
        self.registry.versions.pop(doc_id, None)
        self.registry.chunks.pop(doc_id, None)
        self._chunks.delete(where={"_vg_doc": doc_id})
        return str(current["version"])

    def discard(self, ids: list[str]) -> None:
        """Delete chunks of a version that was never registered (an ingest that stopped)."""
        for at in range(0, len(ids), _BATCH):
            self._chunks.delete(ids=ids[at : at + _BATCH])

    def remove_orphans(self, older_than: float) -> int:
        """Delete chunks of unregistered versions written before ``older_than`` (epoch seconds):
        an ingest that never flipped, or old chunks a crash left behind. Younger ones may belong
        to an ingest still running in another daemon."""
        records = read_all(self._chunks, ["metadatas"])
        orphans = [
            chunk_id
            for chunk_id, meta in zip(records["ids"], records["metadatas"] or [], strict=True)
            if self.registry.versions.get(str(meta["_vg_doc"])) != str(meta["_vg_version"])
            and float(meta.get("_vg_time", 0)) < older_than
        ]
        for at in range(0, len(orphans), _BATCH):
            self._chunks.delete(ids=orphans[at : at + _BATCH])
        return len(orphans)

    # -- reads ----------------------------------------------------------------------------------

    def visible(self, chunk: StoredChunk) -> bool:
        return self.registry.versions.get(chunk.document_id) == chunk.version

    def all_chunks(self) -> list[StoredChunk]:
        """Every visible chunk (to build the keyword index)."""
        records = read_all(self._chunks, ["documents", "metadatas"])
        return [c for c in _chunks_from(records) if self.visible(c)]

    def chunks_of(self, documents: dict[str, str]) -> list[StoredChunk]:
        """The chunks of the given (document id -> version) pairs."""
        found: list[StoredChunk] = []
        doc_ids = list(documents)
        for at in range(0, len(doc_ids), 100):
            where = {"_vg_doc": {"$in": doc_ids[at : at + 100]}}
            records = read_all(self._chunks, ["documents", "metadatas"], where)
            found.extend(
                c for c in _chunks_from(records) if documents.get(c.document_id) == c.version
            )
        return found

    def chunks_by_id(self, ids: Iterable[str]) -> dict[str, StoredChunk]:
        wanted = list(ids)
        if not wanted:
            return {}
        records = self._chunks.get(ids=wanted, include=["documents", "metadatas"])
        return {c.id: c for c in _chunks_from(records) if self.visible(c)}

    def ids_matching(self, where: dict[str, Any]) -> set[str]:
        return set(read_all(self._chunks, [], where)["ids"])

    def nearest(
        self, vector: list[float], k: int, where: dict[str, Any] | None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the visible chunks nearest ``vector``. Only ids and
        distances come back: the few chunks that make the final cut are fetched afterwards,
        which is cheaper than reading every candidate's text."""
        if not self.registry.versions:
            return []
        self.check_dimensions(len(vector))
        result = self._chunks.query(
            query_embeddings=[vector], n_results=k, where=where, include=["distances"]
        )
        versions = self.registry.versions
        return [
            (chunk_id, 1.0 - float(distance))
            for chunk_id, distance in zip(
                result["ids"][0], (result["distances"] or [[]])[0], strict=True
            )
            if versions.get(document_of(chunk_id)) == version_of(chunk_id)
        ]

    def counts(self) -> dict[str, int]:
        return {
            "documents": len(self.registry.versions),
            "chunks": sum(self.registry.chunks.values()),
        }


def registry_record(
    title: str | None, chunks: int, chars: int, metadata: dict[str, Any], sha256: str = ""
) -> dict[str, Any]:
    return {
        "title": title or "",
        "chunks": chunks,
        "chars": chars,
        "metadata_json": json.dumps(metadata, ensure_ascii=False, default=str),
        "sha256": sha256,
        "updated": time.time(),
    }
