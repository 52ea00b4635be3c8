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


def keyword_trust(coverage: float) -> float:
    """Share of the keyword score in adaptive fusion, from how much of the question the best
    keyword hit holds (0-1): full once that is half of it, little when it is a word or two
    (min(1, 2c) squared: a quarter of the question earns a quarter of the say)."""
    return min(1.0, 2.0 * max(coverage, 0.0)) ** 2


def adaptive_blend(
    dense: list[tuple[str, float]],
    keyword: list[tuple[str, float]],
    coverage: float,
    dense_ability: float = 1.0,
) -> list[tuple[str, float]]:
    """A mix whose weights are set per question. Keyword search is trusted as far as its best
    hit covers the question (``keyword_trust``): a question in the corpus's own words is
    answered by BM25, a paraphrase that shares a word or two with some page by the embeddings.
    The dense side's share is scaled by ``dense_ability`` (0-1), how well the embedding model
    reads the question's script; what neither side earned is split evenly. Both scores are put
    on 0-1 per question: BM25 divided by the best BM25 score, cosine similarity min-max scaled
    over the dense candidates (models differ in their cosine range: multilingual e5 keeps nearly
    everything between 0.75 and 0.9). Missing counts as 0; ties keep dense order, then keyword
    order."""
    trust = keyword_trust(coverage) if keyword else 0.0
    ability = min(max(dense_ability, 0.0), 1.0)
    if not dense or not keyword:
        dense_weight, lexical_weight = float(bool(dense)), float(bool(keyword))
    else:
        # The say neither side has earned (the embeddings cannot read the question, and BM25
        # found little of it) is shared equally.
        unclaimed = (1 - trust) * (1 - ability)
        dense_weight = (1 - trust) * ability + unclaimed / 2
        lexical_weight = trust + unclaimed / 2
    top = max((score for _, score in keyword), default=0.0)
    lexical = {item: score / top for item, score in keyword} if top > 0 else {}
    low = min((score for _, score in dense), default=0.0)
    span = max((score for _, score in dense), default=0.0) - low
    semantic = {item: (score - low) / span if span > 0 else 1.0 for item, score in dense}
    mixed = {
        item: dense_weight * semantic.get(item, 0.0) + lexical_weight * lexical.get(item, 0.0)
        for item in dict.fromkeys([*semantic, *lexical])
    }
    return sorted(mixed.items(), key=lambda pair: pair[1], reverse=True)
