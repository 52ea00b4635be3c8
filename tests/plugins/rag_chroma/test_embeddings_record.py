"""A collection remembers which embeddings engine built it. MiniLM and multilingual e5-small
both give 384-d vectors, so the vector size alone cannot keep their vectors apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from core.engines.errors import InvalidRequest
from core.engines.retrieval import Document, RetrievalQuery
from core.runtime.runtime import Runtime
from tests.plugins.rag_chroma.conftest import TWO_EMBEDDERS, loaded_engine
from tests.support.runtime import running_runtime

# The same store, with the engine that built it gone from the config.
WITHOUT_MINILM = """\
reload: {{watch: false}}
engines:
  e5: {{capability: embeddings, engine: e5}}
  docs_e5: {{capability: rag, engine: chroma, settings: {{path: "{path}", embeddings: e5}}}}
routes: {{embeddings: [e5], rag: [docs_e5]}}
"""
PARCELS = Document("parcels", "Parcels arrive within five working days of the order.", "help")
REFUNDS = Document("refunds", "Refunds go back to the card you paid with.", "help")


async def test_another_model_may_not_write_but_questions_use_the_collections_own(
    two_embedders: Runtime,
) -> None:
    minilm = await loaded_engine(two_embedders, "docs")
    e5 = await loaded_engine(two_embedders, "docs_e5")
    await minilm.upsert(PARCELS)
    with pytest.raises(InvalidRequest, match="'minilm', not 'e5'") as refused:
        await e5.upsert(REFUNDS)
    assert refused.value.param == "collection"
    assert await e5.get("help", "refunds") is None
    stats = (await e5.stats("help"))["collections"]["help"]
    assert (stats["embeddings"], stats["dimensions"]) == ("minilm", 384)

    # Asked through the e5-configured engine, the question is still embedded by MiniLM:
    # the scores match those of the engine that built the collection.
    question = RetrievalQuery("how long does shipping take", "help", mode="dense")
    assert [h.score for h in await e5.query(question)] == [
        h.score for h in await minilm.query(question)
    ]
    # Fusion trusts the dense side as far as that engine reads the question: MiniLM, not e5,
    # so a Chinese question leans on keywords (and the log names MiniLM).
    with capture_logs() as logs:
        await e5.query(RetrievalQuery("包裹多久能到", "help", mode="hybrid"))
    told = [e for e in logs if e["event"] == "rag.embeddings_weak_for_script"]
    assert [(e["embeddings"], e["script"]) for e in told] == [("minilm", "cjk")]

    # Emptied, the collection takes the next model that writes to it.
    assert await e5.delete("help", "parcels")
    await e5.upsert(REFUNDS)
    assert (await e5.stats("help"))["collections"]["help"]["embeddings"] == "e5"


async def test_a_collection_whose_engine_is_gone_says_so(onnx_cache: Path, tmp_path: Path) -> None:
    store = tmp_path / "chroma"
    config = tmp_path / "rag.yaml"
    config.write_text(TWO_EMBEDDERS.format(cache=onnx_cache, path=store))
    async with running_runtime(config, entry_points=True) as runtime:
        await (await loaded_engine(runtime, "docs")).upsert(PARCELS)
    config.write_text(WITHOUT_MINILM.format(path=store))
    async with running_runtime(config, entry_points=True) as runtime:
        engine = await loaded_engine(runtime, "docs_e5")
        with pytest.raises(InvalidRequest, match="embedded by engine 'minilm'") as refused:
            await engine.query(RetrievalQuery("shipping time", "help", mode="hybrid"))
        assert refused.value.param == "collection"
        # Keyword search needs no vectors and still answers.
        hits = await engine.query(RetrievalQuery("parcels arrive", "help", mode="keyword"))
        assert [h.document_id for h in hits] == ["parcels"]
