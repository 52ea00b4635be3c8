"""Retrieval quality on voxgate's evaluation set (English + Chinese): hybrid search must be at
least as good as the better of dense and keyword search, and find every answer in the top 5."""

from __future__ import annotations

import uuid

from bench.bench_rag import quality
from core.engines import RetrievalEngine


async def test_hybrid_is_at_least_as_good_as_either(engine: RetrievalEngine) -> None:
    results = await quality(engine, collection=f"eval{uuid.uuid4().hex[:8]}")
    (dense_ndcg, _), (keyword_ndcg, _) = results["dense"], results["keyword"]
    hybrid_ndcg, hybrid_recall = results["hybrid"]
    assert hybrid_ndcg >= max(dense_ndcg, keyword_ndcg), results
    assert hybrid_recall == 1.0, results
