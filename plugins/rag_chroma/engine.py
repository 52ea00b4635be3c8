"""The ``chroma`` retrieval engine: ingest with atomic replace, dense / keyword / hybrid search,
citations. chromadb calls are blocking and run in threads, one writer at a time."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any, ClassVar

import structlog

from core.engines import EngineSettings, RetrievalEngine
from core.engines.errors import EngineUnavailable, InvalidRequest
from core.engines.retrieval import Citation, Document, DocumentInfo, RetrievalQuery
from core.ingest.chunking import chunk_text
from plugins.rag_chroma.fusion import reciprocal_rank_fusion, weighted_blend
from plugins.rag_chroma.keyword_index import KeywordIndex
from plugins.rag_chroma.settings import ChromaSettings
from plugins.rag_chroma.store import (
    CollectionStore,
    StoredChunk,
    check_collection,
    chroma_where,
    flat_metadata,
    registry_record,
)

log = structlog.get_logger(__name__)


class ChromaRetrievalEngine(RetrievalEngine):
    Settings: ClassVar[type[EngineSettings]] = ChromaSettings
    description = "chromadb store (embedded or server) with BM25 hybrid search and citations"
    settings: ChromaSettings

    _client: Any = None

    def __init__(self, settings: EngineSettings, context: Any) -> None:
        super().__init__(settings, context)
        self._stores: dict[str, CollectionStore] = {}
        self._keyword: dict[str, KeywordIndex] = {}
        self._stale: set[str] = set()
        self._write_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def where(self) -> str:
        if self.settings.host:
            scheme = "https" if self.settings.ssl else "http"
            return f"{scheme}://{self.settings.host}:{self.settings.port}"
        return str(self._path())

    def _path(self) -> Path:
        if self.settings.path:
            return Path(self.settings.path).expanduser()
        return self.context.data_dir / "chroma"

    async def load(self) -> None:
        def connect() -> Any:
            import chromadb
            from chromadb.config import Settings

            options = Settings(anonymized_telemetry=False)
            if self.settings.host:
                client = chromadb.HttpClient(
                    host=self.settings.host,
                    port=self.settings.port,
                    ssl=self.settings.ssl,
                    settings=options,
                )
                client.heartbeat()
                return client
            path = self._path()
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=options)

        try:
            self._client = await asyncio.to_thread(connect)
        except Exception as exc:  # chromadb raises many kinds for an unreachable server
            raise EngineUnavailable(
                f"cannot open the Chroma store at {self.where()}: {exc}"
            ) from exc
        log.info("engine.loaded", engine=self.name, store=self.where())

    async def close(self) -> None:
        self._stores.clear()
        self._keyword.clear()
        self._client = None

    async def _store(self, collection: str) -> CollectionStore:
        check_collection(collection)
        store = self._stores.get(collection)
        if store is None:
            if self._client is None:
                raise EngineUnavailable("the retrieval engine is not loaded")
            store = await asyncio.to_thread(CollectionStore, self._client, collection)
            self._stores[collection] = store
            self._stale.add(collection)
        return store

    # -- writes ---------------------------------------------------------------------------------

    async def upsert(self, document: Document) -> DocumentInfo:
        if not document.id or len(document.id) > 256 or "#" in document.id:
            raise InvalidRequest("document id must be 1-256 characters without '#'", param="id")
        pieces = chunk_text(document.text, self.settings.chunk_chars, self.settings.chunk_overlap)
        if not pieces:
            raise InvalidRequest("the document has no text", param="text")
        vectors = await self.context.services.embed(
            [p.text for p in pieces], model=self.settings.embeddings
        )
        title = document.metadata.get("title")
        title = title if isinstance(title, str) else None
        version = uuid.uuid4().hex[:16]
        scalar = flat_metadata(document.metadata)
        ids = [f"{document.id}#{version}#{p.index}" for p in pieces]
        metadatas = [
            {
                **scalar,
                "_vg_doc": document.id,
                "_vg_version": version,
                "_vg_index": p.index,
                "_vg_start": p.start,
                "_vg_end": p.end,
                "_vg_title": title or "",
            }
            for p in pieces
        ]
        record = registry_record(title, len(pieces), len(document.text), document.metadata)
        store = await self._store(document.collection)
        async with self._write_lock:
            await asyncio.to_thread(
                store.write_chunks, ids, [p.text for p in pieces], vectors, metadatas
            )
            await asyncio.to_thread(store.register, document.id, version, record)
            self._stale.add(document.collection)
        log.info(
            "rag.document_ingested",
            engine=self.name,
            collection=document.collection,
            document=document.id,
            chunks=len(pieces),
        )
        return DocumentInfo(
            document.id, document.collection, len(pieces), len(document.text), document.metadata
        )

    async def delete(self, collection: str, document_id: str) -> bool:
        store = await self._store(collection)
        async with self._write_lock:
            removed = await asyncio.to_thread(store.remove, document_id)
            self._stale.add(collection)
        return removed

    # -- reads ----------------------------------------------------------------------------------

    @staticmethod
    def _info(collection: str, doc_id: str, record: dict[str, Any]) -> DocumentInfo:
        metadata = json.loads(record.get("metadata_json") or "{}")
        return DocumentInfo(
            doc_id, collection, int(record.get("chunks", 0)), int(record.get("chars", 0)), metadata
        )

    async def get(self, collection: str, document_id: str) -> DocumentInfo | None:
        store = await self._store(collection)
        record = await asyncio.to_thread(store.document, document_id)
        return None if record is None else self._info(collection, document_id, record)

    async def list_documents(
        self, collection: str, *, limit: int = 100, offset: int = 0
    ) -> list[DocumentInfo]:
        store = await self._store(collection)
        records = await asyncio.to_thread(store.documents, limit, offset)
        return [self._info(collection, doc_id, record) for doc_id, record in records]

    async def stats(self, collection: str | None = None) -> dict[str, Any]:
        if self._client is None:
            raise EngineUnavailable("the retrieval engine is not loaded")
        if collection is None:
            names = await asyncio.to_thread(self._client.list_collections)
            collections = sorted(
                {
                    str(getattr(c, "name", c))[len("voxgate-") : -len("-chunks")]
                    for c in names
                    if str(getattr(c, "name", c)).startswith("voxgate-")
                    and str(getattr(c, "name", c)).endswith("-chunks")
                }
            )
        else:
            collections = [collection]
        counts = {}
        for name in collections:
            store = await self._store(name)
            counts[name] = await asyncio.to_thread(store.counts)
        mode = "server" if self.settings.host else "embedded"
        return {"store": mode, "location": self.where(), "collections": counts}

    async def _keyword_index(self, collection: str, store: CollectionStore) -> KeywordIndex:
        index = self._keyword.get(collection)
        if index is None or collection in self._stale:
            # Rebuilt from the store itself, so it always matches what is stored (also after a
            # restart or a write by another daemon sharing a Chroma server).
            chunks = await asyncio.to_thread(store.all_chunks)
            index = KeywordIndex()
            await asyncio.to_thread(index.build, [c.id for c in chunks], [c.text for c in chunks])
            self._keyword[collection] = index
            self._stale.discard(collection)
        return index

    async def query(self, query: RetrievalQuery) -> list[Citation]:
        if not query.question.strip():
            raise InvalidRequest("question must not be empty", param="question")
        if not 1 <= query.top_k <= 100:
            raise InvalidRequest("top_k must be between 1 and 100", param="top_k")
        store = await self._store(query.collection)
        where = chroma_where(query.filters)
        # Fusion needs deep lists; a single ranking only needs a margin for hidden chunks.
        k = (
            max(self.settings.candidates, query.top_k)
            if query.mode == "hybrid"
            else query.top_k * 2
        )
        dense: list[tuple[StoredChunk, float]] = []
        keyword: list[tuple[str, float]] = []
        if query.mode in ("dense", "hybrid"):
            [vector] = await self.context.services.embed(
                [query.question], model=self.settings.embeddings
            )
            dense = await asyncio.to_thread(store.nearest, vector, k, where)
        if query.mode in ("keyword", "hybrid"):
            index = await self._keyword_index(query.collection, store)
            allowed = await asyncio.to_thread(store.ids_matching, where) if where else None
            keyword = index.search(query.question, k, allowed)

        if query.mode == "dense":
            ranked = [(c.id, score) for c, score in dense]
        elif query.mode == "keyword":
            ranked = keyword
        elif self.settings.fusion == "rrf":
            ranked = reciprocal_rank_fusion(
                [[c.id for c, _ in dense], [i for i, _ in keyword]], self.settings.rrf_k
            )
        else:
            ranked = weighted_blend(
                [(c.id, s) for c, s in dense], keyword, self.settings.dense_weight
            )
        if query.min_score is not None:
            ranked = [(i, s) for i, s in ranked if s >= query.min_score]
        ranked = ranked[: query.top_k]
        known = {c.id: c for c, _ in dense}
        missing = [i for i, _ in ranked if i not in known]
        known.update(await asyncio.to_thread(store.chunks_by_id, missing))
        return [
            Citation(
                document_id=chunk.document_id,
                chunk_index=chunk.index,
                start=chunk.start,
                end=chunk.end,
                text=chunk.text,
                score=round(score, 6),
                title=chunk.title,
                metadata=chunk.metadata,
            )
            for chunk_id, score in ranked
            if (chunk := known.get(chunk_id)) is not None
        ]
