"""Fusion of dense and keyword rankings: adaptive weights follow the keyword hit's coverage."""

from __future__ import annotations

import pytest

from plugins.rag_chroma.fusion import adaptive_blend, keyword_trust

DENSE = [("a", 0.86), ("b", 0.84), ("c", 0.80)]  # a narrow cosine range, as e5 gives
KEYWORD = [("c", 7.0), ("b", 2.0)]


def order(ranked: list[tuple[str, float]]) -> list[str]:
    return [item for item, _ in ranked]


def test_keyword_trust_grows_with_coverage_and_is_full_at_half() -> None:
    values = [keyword_trust(c / 10) for c in range(11)]
    assert values == sorted(values)
    assert values[0] == 0.0
    assert keyword_trust(0.5) == keyword_trust(1.0) == 1.0
    assert keyword_trust(0.1) == pytest.approx(0.04)


def test_a_paraphrase_follows_the_embeddings() -> None:
    # The best keyword hit holds a tenth of the question: a shared word, not the answer.
    assert order(adaptive_blend(DENSE, KEYWORD, 0.1)) == ["a", "b", "c"]


def test_a_question_in_the_documents_words_follows_bm25() -> None:
    assert order(adaptive_blend(DENSE, KEYWORD, 0.6)) == ["c", "b", "a"]


def test_scores_are_on_a_zero_to_one_scale_and_missing_lists_are_fine() -> None:
    for coverage in (0.0, 0.2, 0.4, 1.0):
        scores = [score for _, score in adaptive_blend(DENSE, KEYWORD, coverage)]
        assert all(0.0 <= s <= 1.0 for s in scores)
    assert order(adaptive_blend(DENSE, [], 0.9)) == ["a", "b", "c"]
    assert order(adaptive_blend([], KEYWORD, 0.0)) == ["c", "b"]
    assert adaptive_blend([], [], 0.5) == []


def test_a_model_that_cannot_read_the_question_gives_way_to_bm25() -> None:
    # A third of the question found by BM25: the embeddings would lead if they could read it.
    assert order(adaptive_blend(DENSE, KEYWORD, 0.3, dense_ability=1.0)) == ["a", "b", "c"]
    assert order(adaptive_blend(DENSE, KEYWORD, 0.3, dense_ability=0.0)) == ["c", "b", "a"]
    # Neither side knows anything: both count alike.
    scores = dict(adaptive_blend(DENSE, KEYWORD, 0.0, dense_ability=0.0))
    assert scores["a"] == pytest.approx(0.5) and scores["c"] == pytest.approx(0.5)
