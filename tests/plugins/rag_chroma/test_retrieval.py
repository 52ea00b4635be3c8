"""The chroma engine on the real embedder: ingest, replace, delete, every search mode, filters,
citations, restarts, interrupted writes; embedded and against a real Chroma server."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from core.engines import RetrievalEngine
from core.engines.errors import InvalidRequest
from core.engines.retrieval import Document, RetrievalMode, RetrievalQuery
from tests.plugins.rag_chroma.conftest import (
    SMALL_CHUNKS,
    chroma,
    loaded_engine,
    minilm,
    retrieval_config,
    store_settings,
)
from tests.support.configs import daemon_config, engine_entry
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
MODES: tuple[RetrievalMode, ...] = ("dense", "keyword", "hybrid")


def collection() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def ingest(engine: RetrievalEngine, name: str, **metadata: object) -> None:
    for doc_id, (title, text) in FACTS.items():
        meta = {"title": title, "topic": doc_id, **metadata}
        await engine.upsert(Document(doc_id, text, name, meta))


async def found(engine: RetrievalEngine, name: str, question: str, top_k: int = 10) -> set[str]:
    """Documents any mode returns for ``question``."""
    hits = set()
    for mode in MODES:
        for hit in await engine.query(RetrievalQuery(question, name, top_k=top_k, mode=mode)):
            hits.add(hit.document_id)
    return hits


@pytest.mark.parametrize("mode", MODES)
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


async def test_long_documents_are_cited_chunk_by_chunk(engine: RetrievalEngine) -> None:
    name = collection()
    paragraphs = [
        f"Chapter {n}. The {animal} lives in the {place}. It eats {food} every morning."
        for n, (animal, place, food) in enumerate(
            [
                ("otter", "river", "fish"),
                ("camel", "desert", "thorny plants"),
                ("penguin", "Antarctic", "krill"),
                ("koala", "eucalyptus forest", "leaves"),
                ("yak", "Himalayan plateau", "grass"),
                ("sloth", "rainforest canopy", "buds"),
            ]
        )
    ]
    text = "\n\n".join(p * 3 for p in paragraphs)
    info = await engine.upsert(Document("zoo", text, name, {"title": "Zoo"}))
    assert info.chunks >= 6
    for mode in MODES:
        [hit] = await engine.query(
            RetrievalQuery("What does the penguin eat?", name, top_k=1, mode=mode)
        )
        assert "penguin" in hit.text and text[hit.start : hit.end] == hit.text, mode
        assert hit.chunk_index > 0


async def test_replacing_a_document_leaves_no_old_chunks(engine: RetrievalEngine) -> None:
    name = collection()
    long_text = " ".join(f"Old sentence {i} about submarines." for i in range(60))
    info = await engine.upsert(Document("doc", long_text, name))
    assert info.chunks > 3
    await engine.upsert(Document("doc", "A short note about gardens and tulips.", name))
    stats = await engine.stats(name)
    assert stats["collections"][name] == {
        "documents": 1,
        "chunks": 1,
        "dimensions": 384,
        "embeddings": "minilm",
    }
    for mode in MODES:
        hits = await engine.query(RetrievalQuery("submarines", name, top_k=5, mode=mode))
        assert all("submarines" not in h.text for h in hits)
    [listed] = await engine.list_documents(name)
    assert listed.id == "doc" and listed.chunks == 1


async def test_delete_removes_every_chunk(engine: RetrievalEngine) -> None:
    name = collection()
    await ingest(engine, name)
    assert await engine.delete(name, "owls")
    assert not await engine.delete(name, "owls")
    assert await engine.get(name, "owls") is None
    assert "owls" not in await found(engine, name, "birds of prey hunting at night owls")
    assert (await engine.stats(name))["collections"][name]["documents"] == 3


async def test_metadata_filters_and_min_score(engine: RetrievalEngine) -> None:
    name = collection()
    await ingest(engine, name)
    await engine.upsert(Document("owls2", FACTS["owls"][1], name, {"topic": "owls", "year": 2024}))
    for mode in MODES:
        recent = await engine.query(
            RetrievalQuery(
                "owls hunting", name, top_k=5, mode=mode, filters={"year": {"$gte": 2020}}
            )
        )
        assert {h.document_id for h in recent} == {"owls2"}
        chosen = await engine.query(
            RetrievalQuery(
                "owls bees", name, top_k=5, mode=mode, filters={"topic": {"$in": ["bees"]}}
            )
        )
        assert {h.document_id for h in chosen} == {"bees"}
    assert await engine.query(RetrievalQuery("owls", name, mode="dense", min_score=0.99)) == []
    bad_filters: list[dict[str, object]] = [
        {"_vg_doc": "owls"},
        {"year": {"$in": []}},
        {"year": {"$gte": [1]}},
    ]
    for bad in bad_filters:
        with pytest.raises(InvalidRequest):
            await engine.query(RetrievalQuery("x", name, filters=bad))
    with pytest.raises(InvalidRequest):
        await engine.query(RetrievalQuery("x", "bad name!"))


async def test_reading_a_missing_collection_creates_nothing(engine: RetrievalEngine) -> None:
    name = collection()
    assert await engine.query(RetrievalQuery("anything", name)) == []
    assert await engine.list_documents(name) == []
    assert await engine.get(name, "x") is None
    assert not await engine.delete(name, "x")
    assert name not in (await engine.stats())["collections"]


async def test_an_interrupted_ingest_leaves_nothing_visible(
    rag_config: Path, store_setting: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails between writing a new version's chunks and registering it (a crash or
    a lost server would stop there): neither the new nor a half document may show."""
    from plugins.rag_chroma.store import CollectionStore

    name = collection()
    async with running_runtime(rag_config, entry_points=True) as runtime:
        engine = await loaded_engine(runtime)
        await ingest(engine, name)

        def fail(*_args: object, **_kwargs: object) -> None:
            raise ConnectionError("store went away")

        with monkeypatch.context() as patch:
            patch.setattr(CollectionStore, "register", fail)
            new_owls = Document("owls", "Penguins cannot fly but swim very well.", name)
            with pytest.raises(Exception, match="store went away"):
                await engine.upsert(new_owls)
            with pytest.raises(Exception, match="store went away"):
                await engine.upsert(Document("ghost", "Penguins waddle on the ice.", name))

        assert "ghost" not in await found(engine, name, "penguins")
        owls = await engine.query(RetrievalQuery("owls", name, top_k=10))
        assert all("Penguin" not in h.text for h in owls)
        assert await engine.get(name, "owls") is not None
        assert (await engine.stats(name))["collections"][name]["documents"] == 4

    async with running_runtime(rag_config, entry_points=True) as runtime:
        engine = await loaded_engine(runtime)
        assert "ghost" not in await found(engine, name, "penguins")
        [best] = await engine.query(RetrievalQuery("nocturnal owls", name, top_k=1))
        assert best.document_id == "owls" and "nocturnal" in best.text
        opened = await engine._collection(name)  # type: ignore[attr-defined]
        leftovers = await engine._blocking(opened.store.remove_orphans, time.time() + 1)  # type: ignore[attr-defined]
        # Embedded: cleared at open. A server may hold another daemon's ingest in progress, so
        # young orphans stay until they are older than the grace period.
        assert leftovers == (0 if "path" in store_setting else 2)
        await engine.upsert(Document("ghost", "Penguins waddle on the ice.", name))
        assert "ghost" in await found(engine, name, "penguins waddle")


async def test_documents_and_keyword_index_survive_a_restart(rag_config: Path) -> None:
    name = collection()
    async with running_runtime(rag_config, entry_points=True) as runtime:
        await ingest(await loaded_engine(runtime), name)
    async with running_runtime(rag_config, entry_points=True) as runtime:
        engine = await loaded_engine(runtime)
        hits = await engine.query(RetrievalQuery("龙井茶", name, top_k=1, mode="keyword"))
        assert hits[0].document_id == "tea"
        assert (await engine.stats(name))["collections"][name]["documents"] == 4


async def test_daemons_sharing_a_server_see_each_others_writes(
    chroma_server: str, onnx_cache: Path, tmp_path: Path
) -> None:
    """Two runtimes on one Chroma server: writes by one are searchable (dense and keyword) in the
    other, replacements and deletes too."""
    config = tmp_path / "shared.yaml"
    store = store_settings("server", tmp_path, chroma_server)
    config.write_text(retrieval_config(onnx_cache, {**store, **SMALL_CHUNKS}))
    name = collection()
    async with (
        running_runtime(config, entry_points=True) as first,
        running_runtime(config, entry_points=True) as second,
    ):
        writer, reader = await loaded_engine(first), await loaded_engine(second)
        await ingest(writer, name)
        assert await reader.query(RetrievalQuery("龙井茶", name, top_k=1, mode="keyword"))
        await writer.upsert(Document("tulips", "Tulips bloom in Dutch fields in April.", name))
        for mode in MODES:
            [hit] = await reader.query(
                RetrievalQuery("When do tulips bloom?", name, top_k=1, mode=mode)
            )
            assert hit.document_id == "tulips", mode
        await writer.upsert(Document("tulips", "Daffodils are yellow spring flowers.", name))
        for mode in MODES:
            hits = await reader.query(RetrievalQuery("Dutch tulips April", name, mode=mode))
            assert all("Dutch" not in h.text for h in hits), mode
        assert await writer.delete(name, "bees")
        assert "bees" not in await found(reader, name, "honey bees queen hive")
        assert (await reader.stats(name))["collections"][name]["documents"] == 4


async def test_another_embedder_is_refused_and_questions_use_the_collections_own(
    onnx_cache: Path, tmp_path: Path
) -> None:
    """A collection built with one embedding model is searched with that model, whichever the
    asking engine is set to, and takes no vectors of another."""
    config = tmp_path / "mixed.yaml"
    store = str(tmp_path / "db")
    engines = {
        "minilm": minilm(onnx_cache),
        "tiny": engine_entry("embeddings", "fake", preload=False),
        "docs": chroma({"path": store}),
        "other": chroma({"path": store}, embeddings="tiny"),
    }
    routes = {"embeddings": ["minilm"], "rag": ["docs"]}
    config.write_text(daemon_config(engines, routes=routes))
    async with running_runtime(config, entry_points=True) as runtime:
        await (await loaded_engine(runtime, "docs")).upsert(Document("a", "Owls hunt.", "mix"))
        other = await loaded_engine(runtime, "other")
        hits = await other.query(RetrievalQuery("owls", "mix", mode="dense"))
        assert [h.document_id for h in hits] == ["a"]
        with pytest.raises(InvalidRequest, match="'minilm', not 'tiny'"):
            await other.upsert(Document("b", "Bees buzz.", "mix"))
        assert await other.get("mix", "b") is None


async def test_chunks_embed_as_documents_and_questions_as_queries(tmp_path: Path) -> None:
    """Asymmetric embedders (e5, bge) need to know which side a text is on."""
    from tests.support.fake_plugin import EMBED_TYPES

    config = tmp_path / "typed.yaml"
    engines = {
        "vectors": engine_entry("embeddings", "fake", preload=False),
        "docs": chroma({"path": str(tmp_path / "db")}),
    }
    config.write_text(daemon_config(engines))
    async with running_runtime(config, entry_points=True) as runtime:
        engine = await loaded_engine(runtime, "docs")
        await engine.upsert(Document("owls", FACTS["owls"][1], "typed"))
        await engine.query(RetrievalQuery("night birds", "typed", mode="dense"))
        await engine.query(RetrievalQuery("night birds", "typed", mode="keyword"))
    assert EMBED_TYPES["vectors"] == ["document", "query"]


def test_a_collection_larger_than_one_sql_statement_reopens(tmp_path: Path) -> None:
    """Reads of a whole collection go a page at a time: chroma binds one SQL variable per
    record, and SQLite refuses more than 32,766 (a 50k-chunk collection could not be opened)."""
    import chromadb
    from chromadb.config import Settings

    from plugins.rag_chroma.collection import open_collection
    from plugins.rag_chroma.store import CollectionStore, chunk_id, registry_record

    client = chromadb.PersistentClient(
        path=str(tmp_path / "big"), settings=Settings(anonymized_telemetry=False)
    )
    store = CollectionStore(client, "big", create=True)
    per_document, documents = 9000, 4  # 36,000 chunks
    for number in range(documents):
        doc_id = f"doc{number}"
        ids = [chunk_id(doc_id, "v1", i) for i in range(per_document)]
        texts = [f"chunk {i} of {doc_id} word{i % 97}" for i in range(per_document)]
        vectors = [[1.0, float(i % 7)] for i in range(per_document)]
        metadatas = [
            {"_vg_doc": doc_id, "_vg_version": "v1", "_vg_index": i, "_vg_start": 0,
             "_vg_end": 1, "_vg_title": "", "_vg_time": 0.0, "shelf": number % 2}
            for i in range(per_document)
        ]  # fmt: skip
        store.write_version(
            doc_id,
            "v1",
            registry_record(None, per_document, 1, {}),
            (ids, texts, vectors, metadatas),
        )
    opened = open_collection(client, "big", create=False, orphans_before=time.time())
    assert opened is not None
    assert len(opened.keyword) == per_document * documents
    assert opened.store.counts() == {"documents": documents, "chunks": per_document * documents}
    assert len(opened.store.ids_matching({"shelf": 0})) == per_document * documents // 2
    assert [i for i, _ in opened.store.documents(10, 0)] == [f"doc{n}" for n in range(documents)]
    hits = opened.keyword.search("word5", 5)
    assert len(hits) == 5
