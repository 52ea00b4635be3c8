"""Combining dense and keyword rankings into one."""

from __future__ import annotations


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> list[tuple[str, float]]:
    """Each list votes 1 / (k + rank) for its items; robust to scores on different scales."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def weighted_blend(
    dense: list[tuple[str, float]], keyword: list[tuple[str, float]], dense_weight: float
) -> list[tuple[str, float]]:
    """A convex mix of the two scores, each on a 0-1 scale: cosine similarity as it is (its
    scale is fixed, so a model unsure of every candidate adds little), BM25 divided by the
    question's best BM25 score (BM25 has no fixed scale). Missing from a list counts as 0."""
    top = max((score for _, score in keyword), default=0.0)
    lexical = {item: score / top for item, score in keyword} if top > 0 else {}
    semantic = {item: min(max(score, 0.0), 1.0) for item, score in dense}
    mixed = {
        item: dense_weight * semantic.get(item, 0.0) + (1 - dense_weight) * lexical.get(item, 0.0)
        for item in semantic.keys() | lexical.keys()
    }
    return sorted(mixed.items(), key=lambda pair: pair[1], reverse=True)
