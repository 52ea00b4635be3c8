"""The ``chroma`` retrieval engine: ingest with atomic replace, dense / keyword / hybrid search,
citations. chromadb calls are blocking and run in threads; writes to a collection take turns."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import structlog

from core.engines import EngineSettings, RetrievalEngine
from core.engines.base import Health
from core.engines.embeddings import InputType
from core.engines.errors import EngineError, EngineUnavailable, InvalidRequest
from core.engines.retrieval import (
    Citation,
    Document,
    DocumentInfo,
    Progress,
    RetrievalQuery,
)
from core.engines.services import BoundEmbedder, BulkEmbedding, Services
from core.engines.threaded import run_blocking
from core.ingest.chunking import Chunk, chunk_text
from core.ingest.content import content_hash
from core.routing.errors import UnknownModel
from plugins.rag_chroma import dense_probe
from plugins.rag_chroma.collection import OpenCollection, open_collection
from plugins.rag_chroma.fusion import adaptive_blend, reciprocal_rank_fusion, weighted_blend
from plugins.rag_chroma.keyword_index import tokenize
from plugins.rag_chroma.settings import ChromaSettings
from plugins.rag_chroma.store import (
    check_chroma_metadata,
    check_collection,
    chroma_where,
    chunk_id,
    flat_metadata,
    registry_record,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")
_PREFIX = "voxgate-"
_SUFFIX = "-chunks"


class ChromaRetrievalEngine(RetrievalEngine):
    Settings: ClassVar[type[EngineSettings]] = ChromaSettings
    description = "chromadb store (embedded or server) with BM25 hybrid search and citations"
    settings: ChromaSettings

    _client: Any = None

    def __init__(self, settings: EngineSettings, context: Any) -> None:
        super().__init__(settings, context)
        self._collections: dict[str, OpenCollection] = {}
        self._opening = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        #: How well each embeddings engine (None: the route's) reads each script.
        self._dense_ability: dict[str | None, dict[dense_probe.Script, float]] = {}
        self._probing = asyncio.Lock()
        #: (engine, script) pairs found unreadable, said once each.
        self._weak_told: set[tuple[str | None, dense_probe.Script]] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def server_mode(self) -> bool:
        return bool(self.settings.host)

    def where(self) -> str:
        if self.server_mode:
            scheme = "https" if self.settings.ssl else "http"
            return f"{scheme}://{self.settings.host}:{self.settings.port}"
        return str(self._path())

    def _path(self) -> Path:
        if self.settings.path:
            return Path(self.settings.path).expanduser()
        return self.context.data_dir / "rag" / self.name

    async def load(self) -> None:
        def connect() -> Any:
            import chromadb
            from chromadb.config import Settings

            options = Settings(anonymized_telemetry=False)
            if self.server_mode:
                client = chromadb.HttpClient(
                    host=str(self.settings.host),
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
        log.info(
            "rag.store_opened",
            engine=self.name,
            store=self.where(),
        )
        idle = self.settings.collection_idle_seconds
        if idle:
            self._reaper = asyncio.get_running_loop().create_task(
                self._release_idle(idle), name=f"rag-idle:{self.name}"
            )

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        self._collections.clear()
        self._client = None

    async def _release_idle(self, idle: float) -> None:
        """Drop open collections unused for ``idle`` seconds: their keyword index is most of
        their memory, and is rebuilt from the store when the collection is next used."""
        while True:
            await asyncio.sleep(max(min(idle / 4, 60.0), 0.05))
            now = time.monotonic()
            for name, collection in list(self._collections.items()):
                if (
                    now - collection.used >= idle
                    and not collection.writers
                    and not collection.lock.locked()
                    and self._collections.get(name) is collection
                ):
                    del self._collections[name]
                    log.info(
                        "rag.collection_released",
                        engine=self.name,
                        collection=name,
                        chunks=len(collection.keyword),
                    )

    async def health(self) -> Health:
        if self._client is None:
            return Health(ok=False, detail="not loaded")
        if self.server_mode:
            try:
                await self._blocking(self._client.heartbeat)
            except EngineUnavailable as exc:
                return Health(ok=False, detail=exc.message)
        return Health(ok=True)

    def info(self) -> dict[str, Any]:
        return {"store": "server" if self.server_mode else "embedded", "location": self.where()}

    async def _blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a chromadb call in a thread; a store that fails is unavailable, so the router
        can fall back or open the breaker, while request mistakes stay request mistakes."""
        try:
            return await run_blocking(lambda: fn(*args), name="chroma")
        except EngineError:
            raise
        except Exception as exc:
            from chromadb.errors import InvalidArgumentError

            if isinstance(exc, InvalidArgumentError):
                raise InvalidRequest(str(exc)) from exc
            raise EngineUnavailable(f"Chroma store at {self.where()} failed: {exc}") from exc

    async def _collection(self, name: str, *, create: bool = False) -> OpenCollection | None:
        """The open collection, brought up to date with writes by other daemons (server mode).
        ``None`` when it does not exist and ``create`` is false."""
        check_collection(name)
        if self._client is None:
            raise EngineUnavailable("the retrieval engine is not loaded")
        collection = self._collections.get(name)
        if collection is None:
            async with self._opening:
                collection = self._collections.get(name)
                if collection is None:
                    grace = self.settings.orphan_grace_seconds if self.server_mode else 0.0
                    collection = await self._blocking(
                        open_collection, self._client, name, create, time.time() - grace
                    )
                    if collection is None:
                        return None
                    collection.used = time.monotonic()
                    self._collections[name] = collection
                    log.info(
                        "rag.collection_opened",
                        engine=self.name,
                        collection=name,
                        chunks=len(collection.keyword),
                    )
        elif self.server_mode:
            await self._sync(collection)
        collection.used = time.monotonic()
        return collection

    async def _sync(self, collection: OpenCollection) -> None:
        now = time.monotonic()
        if now - collection.checked < self.settings.sync_seconds:
            return
        async with collection.lock:
            if now - collection.checked < self.settings.sync_seconds:
                return
            collection.checked = now
            if await self._blocking(collection.store.changed_elsewhere):
                changes = await self._blocking(collection.fetch_changes)
                await collection.apply_changes(changes)

    # -- writes ---------------------------------------------------------------------------------

    async def upsert(self, document: Document) -> DocumentInfo:
        return await self.ingest(document)

    def check(self, document: Document) -> None:
        if not document.id or len(document.id) > 256 or "#" in document.id:
            raise InvalidRequest("document id must be 1-256 characters without '#'", param="id")
        super().check(document)
        check_chroma_metadata(document.metadata)
        check_collection(document.collection)

    async def ingest(self, document: Document, progress: Progress | None = None) -> DocumentInfo:
        """Chunk, embed in batches (each written as soon as it is embedded, invisible until the
        flip), then flip the registry to the new version. Cancelled or failed part-way, the
        chunks written so far are deleted and the previous version stays what is served."""
        self.check(document)  # before anything is written
        digest = content_hash(document.collection, document.text, document.metadata)
        pieces = await asyncio.to_thread(
            chunk_text, document.text, self.settings.chunk_chars, self.settings.chunk_overlap
        )
        if not pieces:
            raise InvalidRequest("the document has no text", param="text")
        total = len(pieces)
        if progress is not None:
            progress(0, total)
        collection = await self._collection(document.collection, create=True)
        assert collection is not None
        collection.writers += 1
        try:
            return await self._write(document, digest, pieces, collection, progress)
        finally:
            collection.writers -= 1
            collection.used = time.monotonic()

    async def _write(
        self,
        document: Document,
        digest: str,
        pieces: list[Chunk],
        collection: OpenCollection,
        progress: Progress | None,
    ) -> DocumentInfo:
        texts = [p.text for p in pieces]
        version = uuid.uuid4().hex[:16]
        ids = [chunk_id(document.id, version, p.index) for p in pieces]
        metadatas = _chunk_metadata(document, version, pieces)
        record = registry_record(
            metadatas[0]["_vg_title"] or None,
            len(pieces),
            len(document.text),
            document.metadata,
            digest,
        )
        batches = _batches(len(pieces), self.settings.ingest_batch)
        tokens_task = asyncio.ensure_future(asyncio.to_thread(lambda: [tokenize(t) for t in texts]))
        writing: asyncio.Future[None] | None = None
        started = time.perf_counter()
        embedding = waiting = 0.0  # seconds spent embedding, and waiting for a write after it
        written = 0  # chunks whose write has been started (all of them are deleted on failure)
        try:
            async with self._embedder() as embed:
                bound = embed.engine or None
                if bound is not None:
                    collection.store.check_embeddings(bound)
                done = 0
                for at, end in batches:
                    clock = time.perf_counter()
                    vectors = await embed(texts[at:end], "document")
                    embedding += time.perf_counter() - clock
                    if len(vectors) != end - at:
                        raise EngineUnavailable(
                            "the embeddings engine returned the wrong number of vectors"
                        )
                    if writing is not None:
                        clock = time.perf_counter()
                        await writing
                        waiting += time.perf_counter() - clock
                        if progress is not None:
                            progress(done, len(pieces))
                    # Written while the next batch is embedded.
                    writing = asyncio.ensure_future(
                        self._blocking(
                            collection.store.write_chunks,
                            ids[at:end],
                            texts[at:end],
                            vectors,
                            metadatas[at:end],
                            bound,
                        )
                    )
                    written, done = end, end
                if writing is not None:
                    clock = time.perf_counter()
                    await writing
                    waiting += time.perf_counter() - clock
            tokens = await tokens_task
        except BaseException:
            await _finish_even_if_cancelled(
                self._discard(collection, ids[:written], writing, tokens_task)
            )
            raise
        if progress is not None:
            progress(len(pieces), len(pieces))

        async def flip() -> None:
            async with collection.lock:
                await self._blocking(collection.store.register, document.id, version, record)
                await collection.replace_document(document.id, list(zip(ids, tokens, strict=True)))

        # Shielded: a job cancelled now must not leave the keyword index behind the store, nor
        # release the lock while the store is still being written.
        await _finish_even_if_cancelled(flip())
        log.info(
            "rag.document_ingested",
            engine=self.name,
            collection=document.collection,
            document=document.id,
            chunks=len(pieces),
            seconds=round(time.perf_counter() - started, 3),
            embedding_seconds=round(embedding, 3),
            write_wait_seconds=round(waiting, 3),
        )
        return DocumentInfo(
            document.id,
            document.collection,
            len(pieces),
            len(document.text),
            document.metadata,
            digest,
        )

    def _embedder(self) -> AbstractAsyncContextManager[BoundEmbedder]:
        """One embeddings engine for the whole document, called directly (never a fallback
        engine part-way: two models' vectors do not mix)."""
        services = self.context.services
        if isinstance(services, BulkEmbedding):
            return services.embedder(self.settings.embeddings)
        return contextlib.nullcontext(_RoutedEmbedder(services, self.settings.embeddings))

    async def _discard(
        self,
        collection: OpenCollection,
        ids: list[str],
        writing: asyncio.Future[None] | None,
        tokens: asyncio.Future[Any],
    ) -> None:
        """Delete what a failed or cancelled ingest wrote (never registered, so never seen)."""
        pending = [f for f in (writing, tokens) if f is not None]
        await asyncio.wait(pending)
        for future in pending:
            if not future.cancelled():
                future.exception()  # retrieved: the failure that matters is the caller's
        if ids:
            with contextlib.suppress(EngineError):
                await self._blocking(collection.store.discard, ids)

    async def delete(self, collection: str, document_id: str) -> bool:
        opened = await self._collection(collection)
        if opened is None:
            return False

        async def remove() -> bool:
            async with opened.lock:
                removed = await self._blocking(opened.store.remove, document_id)
                await opened.replace_document(document_id, [])
                return removed is not None

        removed = await _finish_even_if_cancelled(remove())
        if removed:
            log.info(
                "rag.document_deleted",
                engine=self.name,
                collection=collection,
                document=document_id,
            )
        return removed

    # -- reads ----------------------------------------------------------------------------------

    @staticmethod
    def _info(collection: str, doc_id: str, record: dict[str, Any]) -> DocumentInfo:
        metadata = json.loads(record.get("metadata_json") or "{}")
        return DocumentInfo(
            doc_id,
            collection,
            int(record.get("chunks", 0)),
            int(record.get("chars", 0)),
            metadata,
            str(record["sha256"]) if record.get("sha256") else None,
        )

    async def get(self, collection: str, document_id: str) -> DocumentInfo | None:
        opened = await self._collection(collection)
        if opened is None:
            return None
        record = await self._blocking(opened.store.document, document_id)
        return None if record is None else self._info(collection, document_id, record)

    async def list_documents(
        self, collection: str, *, limit: int = 100, offset: int = 0
    ) -> list[DocumentInfo]:
        opened = await self._collection(collection)
        if opened is None:
            return []
        records = await self._blocking(opened.store.documents, limit, offset)
        return [self._info(collection, doc_id, record) for doc_id, record in records]

    async def stats(self, collection: str | None = None) -> dict[str, Any]:
        if self._client is None:
            raise EngineUnavailable("the retrieval engine is not loaded")
        if collection is None:
            found = await self._blocking(self._client.list_collections)
            names = [str(getattr(c, "name", c)) for c in found]
            collections = sorted(
                n[len(_PREFIX) : -len(_SUFFIX)]
                for n in names
                if n.startswith(_PREFIX) and n.endswith(_SUFFIX)
            )
        else:
            collections = [collection]
        counts: dict[str, dict[str, Any]] = {}
        for name in collections:
            opened = await self._collection(name)
            if opened is not None:
                counts[name] = {
                    **opened.store.counts(),
                    "dimensions": opened.store.dimensions,
                    "embeddings": opened.store.embeddings,
                }
        mode = "server" if self.server_mode else "embedded"
        return {"store": mode, "location": self.where(), "collections": counts}

    async def query(self, query: RetrievalQuery) -> list[Citation]:
        if not query.question.strip():
            raise InvalidRequest("question must not be empty", param="question")
        if not 1 <= query.top_k <= 100:
            raise InvalidRequest("top_k must be between 1 and 100", param="top_k")
        if query.mode not in ("dense", "keyword", "hybrid"):
            raise InvalidRequest("mode must be dense, keyword or hybrid", param="mode")
        where = chroma_where(query.filters)
        opened = await self._collection(query.collection)
        if opened is None:
            return []
        # Fusion needs deep lists; a single ranking only needs a margin for hidden chunks.
        depth = (
            max(self.settings.candidates, query.top_k)
            if query.mode == "hybrid"
            else query.top_k * 2
        )

        async def dense() -> list[tuple[str, float]]:
            if query.mode == "keyword":
                return []
            vector = await self._embed_question(query.question, opened)
            return await self._blocking(opened.store.nearest, vector, depth, where)

        async def keyword() -> list[tuple[str, float]]:
            if query.mode == "dense":
                return []
            allowed = await self._blocking(opened.store.ids_matching, where) if where else None
            return await opened.search(query.question, depth, allowed)

        dense_hits, keyword_hits = await asyncio.gather(dense(), keyword())
        ability, coverage = 1.0, 0.0
        if query.mode == "hybrid" and self.settings.fusion == "adaptive":
            script = dense_probe.script_of(query.question)
            model = self._question_engine(opened)
            ability = (await self._abilities(model))[script]
            self._tell_if_weak(model, script, ability)
            if keyword_hits:
                coverage = await opened.coverage(query.question, keyword_hits[0][0])
        ranked = self._rank(query, dense_hits, keyword_hits, coverage, ability)
        if query.min_score is not None:
            ranked = [(i, s) for i, s in ranked if s >= query.min_score]
        ranked = ranked[: query.top_k]
        known = await self._blocking(opened.store.chunks_by_id, [i for i, _ in ranked])
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
            for found, score in ranked
            if (chunk := known.get(found)) is not None
        ]

    def _question_engine(self, opened: OpenCollection) -> str | None:
        """The engine that embedded the collection, when it is recorded (a fallback engine's
        vectors would be compared with another model's), else the configured one."""
        return opened.store.embeddings or self.settings.embeddings

    async def _embed_question(self, question: str, opened: OpenCollection) -> list[float]:
        model = self._question_engine(opened)
        try:
            [vector] = await self.context.services.embed(
                [question], model=model, input_type="query"
            )
        except UnknownModel as exc:
            raise InvalidRequest(
                f"collection {opened.store.name!r} was embedded by engine {model!r}, which this "
                f"config does not serve ({exc.message}): configure it again, or re-ingest the "
                "documents",
                param="collection",
            ) from exc
        return vector

    def _rank(
        self,
        query: RetrievalQuery,
        dense: list[tuple[str, float]],
        keyword: list[tuple[str, float]],
        coverage: float,
        dense_ability: float = 1.0,
    ) -> list[tuple[str, float]]:
        if query.mode == "dense":
            return dense
        if query.mode == "keyword":
            return keyword
        if self.settings.fusion == "rrf":
            return reciprocal_rank_fusion(
                [[i for i, _ in dense], [i for i, _ in keyword]], self.settings.rrf_k
            )
        if self.settings.fusion == "weighted":
            return weighted_blend(dense, keyword, self.settings.dense_weight)
        return adaptive_blend(dense, keyword, coverage, dense_ability)

    def _tell_if_weak(self, model: str | None, script: dense_probe.Script, ability: float) -> None:
        """Say once per engine and script when the embedder cannot read a question's language:
        hybrid search then leans on keywords alone, and paraphrased questions go unanswered."""
        if ability >= dense_probe.WEAK_ABILITY or (model, script) in self._weak_told:
            return
        self._weak_told.add((model, script))
        log.warning(
            "rag.embeddings_weak_for_script",
            engine=self.name,
            embeddings=model or "route",
            script=script,
            ability=ability,
            hint="an embeddings engine that reads it (engine: e5, or engine: combined joining "
            "it with this one) set as this rag engine's `embeddings`, with the documents "
            "ingested again into a new or emptied collection",
        )

    async def _abilities(self, model: str | None) -> dict[dense_probe.Script, float]:
        """How well the embeddings engine reads each script, measured on its first use."""
        if model not in self._dense_ability:
            async with self._probing:
                if model not in self._dense_ability:

                    async def embed(texts: list[str], side: InputType) -> list[list[float]]:
                        return await self.context.services.embed(
                            texts, model=model, input_type=side
                        )

                    ability = await dense_probe.measure(embed)
                    self._dense_ability[model] = ability
                    log.info("rag.dense_ability", engine=self.name, embeddings=model, **ability)
        return self._dense_ability[model]


def _chunk_metadata(document: Document, version: str, pieces: list[Chunk]) -> list[dict[str, Any]]:
    title = document.metadata.get("title")
    scalar = flat_metadata(document.metadata)
    written = time.time()
    return [
        {
            **scalar,
            "_vg_doc": document.id,
            "_vg_version": version,
            "_vg_index": p.index,
            "_vg_start": p.start,
            "_vg_end": p.end,
            "_vg_title": title if isinstance(title, str) else "",
            "_vg_time": written,
        }
        for p in pieces
    ]


class _RoutedEmbedder:
    """Embeddings through the router, for services that cannot bind one engine."""

    def __init__(self, services: Services, model: str | None) -> None:
        self._services = services
        self._model = model

    @property
    def engine(self) -> str:
        """Empty when the route picks: which engine answers is not known in advance."""
        return self._model or ""

    async def __call__(self, texts: list[str], input_type: InputType) -> list[list[float]]:
        return await self._services.embed(texts, model=self._model, input_type=input_type)


def _batches(count: int, size: int) -> list[tuple[int, int]]:
    return [(at, min(at + size, count)) for at in range(0, count, size)]


async def _finish_even_if_cancelled(work: Awaitable[T]) -> T:
    """Await ``work`` in its own task, so cancelling the caller does not cut it short."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise
