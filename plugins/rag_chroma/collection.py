"""One open collection: its store, its keyword index and what keeps the two in step.

Keyword searches and index updates (compaction included) run in threads, taking turns on the
index's own lock: a search never sees half a change, and the event loop never waits for either.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from plugins.rag_chroma.keyword_index import KeywordIndex, tokenize
from plugins.rag_chroma.store import CollectionStore, RegistryChange


@dataclass(frozen=True)
class FetchedChanges:
    """Registry changes made elsewhere, with the new chunks already tokenised (off the loop)."""

    change: RegistryChange
    chunks: dict[str, list[tuple[str, list[str]]]]


@dataclass
class OpenCollection:
    store: CollectionStore
    keyword: KeywordIndex
    #: document id -> ids of its chunks in the keyword index
    chunk_ids: dict[str, list[str]] = field(default_factory=dict)
    #: writes (and syncs) take turns; reads never wait for them
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: when (monotonic) the store was last checked for writes by other daemons
    checked: float = 0.0
    #: when (monotonic) a request last used it; idle collections are released
    used: float = 0.0
    #: ingests writing into it now (it is not released while they run)
    writers: int = 0
    #: searches and updates of the keyword index take turns (both run in threads)
    keyword_lock: threading.Lock = field(default_factory=threading.Lock)

    async def search(
        self, question: str, k: int, allowed: set[str] | None
    ) -> list[tuple[str, float]]:
        def run() -> list[tuple[str, float]]:
            with self.keyword_lock:
                return self.keyword.search(question, k, allowed)

        return await asyncio.to_thread(run)

    async def coverage(self, question: str, chunk_id: str) -> float:
        """How much of the question the chunk holds (see ``KeywordIndex.coverage``)."""

        def run() -> float:
            with self.keyword_lock:
                return self.keyword.coverage(question, chunk_id)

        return await asyncio.to_thread(run)

    async def replace_document(self, doc_id: str, chunks: list[tuple[str, list[str]]]) -> None:
        """Swap a document's chunks in the keyword index (empty: the document is gone)."""
        await asyncio.to_thread(self._locked_replace, [(doc_id, chunks)])

    def _locked_replace(self, changes: list[tuple[str, list[tuple[str, list[str]]]]]) -> None:
        with self.keyword_lock:
            for doc_id, chunks in changes:
                self.keyword.remove(self.chunk_ids.pop(doc_id, []))
                if chunks:
                    self.keyword.add(chunks)
                    self.chunk_ids[doc_id] = [chunk_id for chunk_id, _ in chunks]

    def fetch_changes(self) -> FetchedChanges:
        """Blocking: reread the registry and fetch the chunks of documents changed elsewhere."""
        change = self.store.read_registry()
        fetched: dict[str, list[tuple[str, list[str]]]] = {d: [] for d in change.changed}
        for chunk in self.store.chunks_of(change.changed):
            fetched[chunk.document_id].append((chunk.id, tokenize(chunk.text)))
        return FetchedChanges(change, fetched)

    async def apply_changes(self, fetched: FetchedChanges) -> None:
        changes: list[tuple[str, list[tuple[str, list[str]]]]]
        changes = [(doc_id, []) for doc_id in fetched.change.removed]
        changes += list(fetched.chunks.items())
        if changes:
            await asyncio.to_thread(self._locked_replace, changes)


def open_collection(
    client: Any, name: str, create: bool, orphans_before: float
) -> OpenCollection | None:
    """Blocking: open (or create) a collection, clear out old orphans and build its keyword index
    from the store itself, so the index matches what is stored whatever happened before."""
    from chromadb.errors import NotFoundError

    try:
        store = CollectionStore(client, name, create=create)
    except NotFoundError:
        return None
    store.read_registry()
    store.remove_orphans(orphans_before)
    index = KeywordIndex()
    chunk_ids: dict[str, list[str]] = {}
    chunks = store.all_chunks()
    index.add((chunk.id, tokenize(chunk.text)) for chunk in chunks)
    for chunk in chunks:
        chunk_ids.setdefault(chunk.document_id, []).append(chunk.id)
    return OpenCollection(store, index, chunk_ids)
