"""The chroma engine on the real embedder: ingest, replace, delete, every search mode, filters,
citations, restarts; embedded and against a real Chroma server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from core.engines import RetrievalEngine
from core.engines.errors import InvalidRequest
from core.engines.retrieval import Document, RetrievalQuery
from tests.support.runtime import running_runtime

FACTS = {
    "owls": ("Owls", "Owls are nocturnal birds of prey. They hunt small mammals at night "
             "using excellent hearing and silent flight."),
    "bees": ("Bees", "Honey bees live in colonies ruled by a single queen. Worker bees "
             "collect nectar and turn it into honey inside the hive."),
    "volcano": ("Volcanoes", "A volcano erupts when magma rises through the crust. Lava flows "
                "and ash clouds can bury nearby towns."),
    "tea": ("绿茶", "绿茶起源于中国，已有数千年的历史。"
            "龙井茶产自杭州西湖，以色绿、香郁、味甘著称。"),
}  # fmt: skip


def collection() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def ingest(engine: RetrievalEngine, name: str, **metadata: object) -> None:
    for doc_id, (title, text) in FACTS.items():
        meta = {"title": title, "topic": doc_id, **metadata}
        await engine.upsert(Document(doc_id, text, name, meta))


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
async def test_each_mode_finds_the_right_document(engine: RetrievalEngine, mode: str) -> None:
    name = collection()
    await ingest(engine, name)
    questions = {
        "owls": "Which birds hunt at night with silent flight?",
        "bees": "Who rules a colony of honey bees?",
        "volcano": "What happens when magma rises through the crust?",
        "tea": "龙井茶产自哪里？",
    }
    for expected, question in questions.items():
        if mode == "dense" and expected == "tea":
            continue  # all-MiniLM is an English model; Chinese needs keyword or hybrid search
        hits = await engine.query(RetrievalQuery(question, name, top_k=2, mode=mode))  # type: ignore[arg-type]
        assert hits and hits[0].document_id == expected, (mode, question, hits)


async def test_citations_point_into_the_document(engine: RetrievalEngine) -> None:
    name = collection()
    await ingest(engine, name)
    [hit] = await engine.query(RetrievalQuery("Who rules a bee colony?", name, top_k=1))
    text = FACTS["bees"][1]
    assert hit.title == "Bees" and hit.chunk_index == 0
    assert text[hit.start : hit.end] == hit.text
    assert hit.metadata["topic"] == "bees"
    assert hit.score > 0


async def test_replacing_a_document_leaves_no_old_chunks(engine: RetrievalEngine) -> None:
    name = collection()
    long_text = " ".join(f"Old sentence {i} about submarines." for i in range(60))
    info = await engine.upsert(Document("doc", long_text, name))
    assert info.chunks > 3
    await engine.upsert(Document("doc", "A short note about gardens and tulips.", name))
    stats = await engine.stats(name)
    assert stats["collections"][name] == {"documents": 1, "chunks": 1}
    for mode in ("dense", "keyword", "hybrid"):
        hits = await engine.query(RetrievalQuery("submarines", name, top_k=5, mode=mode))  # type: ignore[arg-type]
        assert all("submarines" not in h.text for h in hits)
    [listed] = await engine.list_documents(name)
    assert listed.id == "doc" and listed.chunks == 1


async def test_delete_removes_every_chunk(engine: RetrievalEngine) -> None:
    name = collection()
    await ingest(engine, name)
    assert await engine.delete(name, "owls")
    assert not await engine.delete(name, "owls")
    assert await engine.get(name, "owls") is None
    hits = await engine.query(RetrievalQuery("birds of prey hunting at night", name, top_k=4))
    assert "owls" not in {h.document_id for h in hits}
    assert (await engine.stats(name))["collections"][name]["documents"] == 3


async def test_metadata_filters_and_min_score(engine: RetrievalEngine) -> None:
    name = collection()
    await ingest(engine, name)
    await engine.upsert(Document("owls2", FACTS["owls"][1], name, {"topic": "owls", "year": 2024}))
    for mode in ("dense", "keyword", "hybrid"):
        hits = await engine.query(
            RetrievalQuery(
                "owls hunting", name, top_k=5, mode=mode, filters={"year": {"$gte": 2020}}
            )  # type: ignore[arg-type]
        )
        assert {h.document_id for h in hits} == {"owls2"}
    hits = await engine.query(RetrievalQuery("owls", name, mode="dense", min_score=0.99))
    assert hits == []
    with pytest.raises(InvalidRequest):
        await engine.query(RetrievalQuery("x", name, filters={"_vg_doc": "owls"}))
    with pytest.raises(InvalidRequest):
        await engine.query(RetrievalQuery("x", "bad name!"))


async def test_unfinished_ingest_is_invisible_and_cleaned(engine: RetrievalEngine) -> None:
    name = collection()
    await ingest(engine, name)
    store = await engine._store(name)  # type: ignore[attr-defined]
    # Chunks written under a version that was never registered: an ingest cut off mid-way.
    store.write_chunks(
        ["ghost#v1#0"],
        ["Ghost chunk about owls hunting at night."],
        [[0.1] * 384],
        [{"_vg_doc": "ghost", "_vg_version": "v1", "_vg_index": 0, "_vg_start": 0,
          "_vg_end": 10, "_vg_title": ""}],
    )  # fmt: skip
    engine._stale.add(name)  # type: ignore[attr-defined]
    for mode in ("dense", "keyword", "hybrid"):
        hits = await engine.query(
            RetrievalQuery("owls hunting at night", name, top_k=10, mode=mode)
        )  # type: ignore[arg-type]
        assert "ghost" not in {h.document_id for h in hits}
    assert store.remove_orphans() == 1


async def test_documents_and_keyword_index_survive_a_restart(rag_config: Path) -> None:
    name = collection()
    async with running_runtime(rag_config, entry_points=True) as runtime:
        slot = runtime.current.slots["docs"]
        await slot.ensure_loaded()
        assert isinstance(slot.engine, RetrievalEngine)
        await ingest(slot.engine, name)
    async with running_runtime(rag_config, entry_points=True) as runtime:
        slot = runtime.current.slots["docs"]
        await slot.ensure_loaded()
        assert isinstance(slot.engine, RetrievalEngine)
        hits = await slot.engine.query(RetrievalQuery("龙井茶", name, top_k=1, mode="keyword"))
        assert hits[0].document_id == "tea"
        assert (await slot.engine.stats(name))["collections"][name]["documents"] == 4
