"""Several embeddings engines as one (plugins/rag_chroma/combined_embeddings.py), on the real
MiniLM (English only) and multilingual e5: passages carry both models' vectors, and each question
is embedded by the model that reads its script."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from core.engines.errors import EngineNotLoaded
from core.engines.retrieval import Document, RetrievalQuery
from core.runtime.runtime import Runtime
from plugins.rag_chroma.combined_embeddings import CombinedSettings
from tests.plugins.rag_chroma.conftest import loaded_engine
from tests.support.configs import daemon_config, engine_entry
from tests.support.runtime import running_runtime

ENGLISH = "how long until my parcel gets here"
CHINESE = "我的快递怎么还没到"
PASSAGES = ["包裹一般五个工作日内送达。", "Refunds go back to the card you paid with."]


def _halves(vector: list[float]) -> tuple[float, float]:
    """The norms of the MiniLM part and the e5 part of a combined vector."""
    return float(np.linalg.norm(vector[:384])), float(np.linalg.norm(vector[384:]))


async def test_each_question_is_embedded_by_the_model_that_reads_it(two_embedders: Runtime) -> None:
    services = (await loaded_engine(two_embedders)).context.services
    english, chinese = await services.embed([ENGLISH, CHINESE], model="both", input_type="query")
    # MiniLM comes first and reads English as well as e5 does: it takes English questions.
    assert _halves(english) == pytest.approx((1.0, 0.0))
    # MiniLM cannot read Chinese; e5 can.
    assert _halves(chinese) == pytest.approx((0.0, 1.0))
    for passage in await services.embed(PASSAGES, model="both", input_type="document"):
        assert _halves(passage) == pytest.approx((math.sqrt(0.5), math.sqrt(0.5)))


async def test_a_questions_scores_are_its_own_models_scaled(two_embedders: Runtime) -> None:
    services = (await loaded_engine(two_embedders)).context.services

    async def cosines(model: str) -> list[float]:
        [question] = await services.embed([CHINESE], model=model, input_type="query")
        passages = await services.embed(PASSAGES, model=model, input_type="document")
        q = np.asarray(question)
        return [float(q @ p / np.linalg.norm(q) / np.linalg.norm(p)) for p in passages]

    combined, e5 = await cosines("both"), await cosines("e5")
    assert [c * math.sqrt(2) for c in combined] == pytest.approx(e5, abs=1e-5)


async def test_a_bilingual_collection_answers_in_both_languages(two_embedders: Runtime) -> None:
    engine = await loaded_engine(two_embedders, "docs_both")
    for doc_id, text in (("zh-delivery", PASSAGES[0]), ("en-refunds", PASSAGES[1])):
        await engine.upsert(Document(doc_id, text, "help"))
    stats = (await engine.stats("help"))["collections"]["help"]
    assert (stats["embeddings"], stats["dimensions"]) == ("both", 768)
    for question, expected in ((CHINESE, "zh-delivery"), ("money back to my card", "en-refunds")):
        hits = await engine.query(RetrievalQuery(question, "help", top_k=1, mode="dense"))
        assert [h.document_id for h in hits] == [expected]


def test_members_are_named_once_and_at_least_two() -> None:
    with pytest.raises(ValueError, match="named once"):
        CombinedSettings(members=["minilm", "minilm"])
    with pytest.raises(ValueError, match="at least 2"):
        CombinedSettings(members=["minilm"])


async def test_an_engine_cannot_be_its_own_member(tmp_path: Path) -> None:
    config = tmp_path / "self.yaml"
    engines = {
        "both": engine_entry("embeddings", "combined", {"members": ["both", "e5"]}, preload=False),
        "e5": engine_entry("embeddings", "e5", preload=False),
    }
    config.write_text(daemon_config(engines, routes={"embeddings": ["both"]}))
    async with running_runtime(config, entry_points=True) as runtime:
        with pytest.raises(EngineNotLoaded, match="cannot be one of its own members"):
            await runtime.current.slots["both"].ensure_loaded()
