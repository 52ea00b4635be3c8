"""The chroma engine's ingestion on the real store and embedder: progress batch by batch, a
cancelled ingest leaves no chunk behind in the store, idle collections are released."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.engines import RetrievalEngine
from core.engines.retrieval import Document, RetrievalQuery
from plugins.rag_chroma.engine import ChromaRetrievalEngine
from tests.plugins.rag_chroma.conftest import chroma, loaded_engine, minilm
from tests.support.configs import daemon_config
from tests.support.runtime import running_runtime


def paragraphs(count: int, word: str = "harbor") -> str:
    return "\n\n".join(
        f"Entry {n}: the {word} master counted ships, crates and gulls until sunset." * 2
        for n in range(count)
    )


async def chunk_records(engine: RetrievalEngine, collection: str) -> int:
    """Chunks in the store itself, visible or not."""
    assert isinstance(engine, ChromaRetrievalEngine)
    name = f"voxgate-{collection}-chunks"
    return int(await asyncio.to_thread(lambda: engine._client.get_collection(name).count()))


async def test_progress_cancel_and_idle_release(tmp_path: Path, onnx_cache: Path) -> None:
    config = tmp_path / "rag.yaml"
    docs = chroma(
        {"path": str(tmp_path / "chroma")},
        chunk_chars=200,
        chunk_overlap=40,
        ingest_batch=16,
        collection_idle_seconds=0.2,
    )
    engines = {"minilm": minilm(onnx_cache, precision="int8"), "docs": docs}
    config.write_text(daemon_config(engines))
    async with running_runtime(config, entry_points=True) as runtime:
        engine = await loaded_engine(runtime)
        seen: list[tuple[int, int]] = []
        info = await engine.ingest(
            Document("log", paragraphs(40), "port"), lambda d, t: seen.append((d, t))
        )
        assert seen[0] == (0, info.chunks) and seen[-1] == (info.chunks, info.chunks)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 3
        assert info.content_sha256 and len(info.content_sha256) == 64
        assert await chunk_records(engine, "port") == info.chunks

        # Cancelled once part of the new version is written: the store holds only the old one.
        started = asyncio.Event()

        def progress(done: int, total: int) -> None:
            if done > 0:
                started.set()

        task = asyncio.create_task(
            engine.ingest(Document("log", paragraphs(400, "lantern"), "port"), progress)
        )
        await started.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        assert await chunk_records(engine, "port") == info.chunks
        hits = await engine.query(RetrievalQuery("lantern", "port", mode="keyword"))
        assert hits == []
        stored = await engine.get("port", "log")
        assert stored is not None and stored.chunks == info.chunks

        # Unused for longer than collection_idle_seconds: released, then reopened on use.
        assert isinstance(engine, ChromaRetrievalEngine)
        assert "port" in engine._collections
        for _ in range(100):
            if "port" not in engine._collections:
                break
            await asyncio.sleep(0.05)
        assert "port" not in engine._collections
        hits = await engine.query(RetrievalQuery("harbor master", "port", mode="keyword"))
        assert hits and hits[0].document_id == "log"
