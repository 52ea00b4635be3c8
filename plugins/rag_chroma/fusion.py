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
    """Scores scaled to [0, 1] per list (best = 1), then mixed by ``dense_weight``."""

    def scaled(results: list[tuple[str, float]]) -> dict[str, float]:
        top = max((s for _, s in results), default=0.0)
        return {item: (s / top if top > 0 else 0.0) for item, s in results}

    a, b = scaled(dense), scaled(keyword)
    mixed = {
        item: dense_weight * a.get(item, 0.0) + (1 - dense_weight) * b.get(item, 0.0)
        for item in a.keys() | b.keys()
    }
    return sorted(mixed.items(), key=lambda pair: pair[1], reverse=True)
