"""The probe that tells adaptive fusion how well the embedding model reads a question's script,
run on the real models: all-MiniLM-L6-v2 (English only) and multilingual e5."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from core.engines.embeddings import InputType
from core.engines.retrieval import Document, RetrievalQuery
from core.runtime.runtime import Runtime
from plugins.rag_chroma import dense_probe
from tests.plugins.rag_chroma.conftest import loaded_engine


def test_script_of_a_question() -> None:
    assert dense_probe.script_of("How do I reset my password?") == "other"
    assert dense_probe.script_of("怎么重置密码？") == "cjk"
    assert dense_probe.script_of("Plus 会员有什么权益") == "cjk"
    assert dense_probe.script_of("Orrin Plus 会员") == "other"
    assert dense_probe.script_of("12345") == "other"


def test_ability_is_zero_at_chance_and_one_when_every_answer_is_found() -> None:
    eye = [[1.0 if i == j else 0.0 for j in range(4)] for i in range(4)]
    assert dense_probe.ability(eye, eye) == 1.0
    shifted = eye[1:] + eye[:1]  # every question nearest to another's answer
    assert dense_probe.ability(eye, shifted) == 0.0
    one_right = [eye[0], eye[0], eye[0], eye[0]]  # a quarter found: chance for four
    assert dense_probe.ability(one_right, eye) == 0.0


@pytest.mark.parametrize(("model", "expected"), [("minilm", 0.0), ("e5", 1.0)])
async def test_english_only_minilm_cannot_read_chinese_and_e5_can(
    model: str, expected: float, two_embedders: Runtime
) -> None:
    engine = await loaded_engine(two_embedders)

    async def embed(texts: list[str], side: InputType) -> list[list[float]]:
        return await engine.context.services.embed(texts, model=model, input_type=side)

    ability = await dense_probe.measure(embed)
    assert ability == {"cjk": expected, "other": 1.0}


async def test_a_question_the_embedder_cannot_read_is_told_once(two_embedders: Runtime) -> None:
    engine = await loaded_engine(two_embedders)
    text = "包裹一般五个工作日内送达。Parcels arrive within five working days."
    await engine.upsert(Document("delivery", text, "help"))
    with capture_logs() as logs:
        for question in ("我的快递到哪了", "快递多久能到", "when does my parcel arrive"):
            assert await engine.query(RetrievalQuery(question, "help", mode="hybrid"))
    told = [entry for entry in logs if entry["event"] == "rag.embeddings_weak_for_script"]
    assert [(entry["script"], entry["ability"]) for entry in told] == [("cjk", 0.0)]
    assert "e5" in told[0]["hint"]
