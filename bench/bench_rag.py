"""Retrieval quality and speed of the rag_chroma engine.

1. Quality on voxgate's own evaluation set (bench/data_rag_eval.py, English + Chinese): nDCG@10
   and recall@5 for dense, keyword and hybrid search.
2. Speed at N chunks (default 5,000; pass --chunks 50000 for the large run): ingestion chunks/s,
   and query latency p50/p99 for the engine called directly vs through the daemon's HTTP API.

    python -m bench.bench_rag [--chunks 5000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import tempfile
import time
from pathlib import Path

import httpx

from bench.data_rag_eval import DOCUMENTS, QUERIES
from bench.stats import emit, ms, summary
from core.api.app import create_app
from core.engines import RetrievalEngine
from core.engines.retrieval import Document, RetrievalQuery
from core.observability.logging import configure_logging
from core.runtime.runtime import Runtime

CONFIG = """\
reload: {{watch: false}}
logging: {{level: warning}}
engines:
  minilm: {{capability: embeddings, engine: sentence_transformers}}
  docs: {{capability: rag, engine: chroma, settings: {{path: {path}}}}}
routes: {{embeddings: [minilm], rag: [docs]}}
"""

WORDS = [
    "river",
    "mountain",
    "engine",
    "market",
    "garden",
    "signal",
    "winter",
    "copper",
    "harbor",
    "lantern",
    "orbit",
    "meadow",
    "canyon",
    "ledger",
    "violin",
    "glacier",
    "compass",
    "thunder",
    "prairie",
    "saddle",
    "beacon",
    "quarry",
    "ribbon",
    "falcon",
]


def ndcg_at(ranked: list[str], relevant: set[str], k: int) -> float:
    gains = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return gains / ideal if ideal else 0.0


async def quality(
    engine: RetrievalEngine, collection: str = "eval"
) -> dict[str, tuple[float, float]]:
    """(nDCG@10, recall@5) per search mode."""
    for doc_id, text in DOCUMENTS.items():
        await engine.upsert(Document(doc_id, text, collection))
    results = {}
    for mode in ("dense", "keyword", "hybrid"):
        ndcg, recall = [], []
        for question, relevant in QUERIES.items():
            query = RetrievalQuery(question, collection, top_k=10, mode=mode)
            hits = await engine.query(query)
            ranked = list(dict.fromkeys(h.document_id for h in hits))
            ndcg.append(ndcg_at(ranked, set(relevant), 10))
            recall.append(len(set(ranked[:5]) & set(relevant)) / len(relevant))
        results[mode] = (sum(ndcg) / len(ndcg), sum(recall) / len(recall))
    return results


def filler(rng: random.Random, index: int) -> str:
    return f"Record {index}. " + " ".join(rng.choice(WORDS) for _ in range(60)) + "."


async def speed(runtime: Runtime, engine: RetrievalEngine, chunks: int, queries: int) -> None:
    rng = random.Random(7)
    per_doc = 10
    started = time.perf_counter()
    for doc in range(chunks // per_doc):
        text = "\n\n".join(filler(rng, doc * per_doc + i) for i in range(per_doc))
        await engine.upsert(Document(f"doc{doc}", text, "speed"))
    elapsed = time.perf_counter() - started
    stats = await engine.stats("speed")
    stored = stats["collections"]["speed"]["chunks"]
    emit(f"ingestion: {stored} chunks in {elapsed:.1f} s = {stored / elapsed:.0f} chunks/s")

    questions = [" ".join(rng.choice(WORDS) for _ in range(5)) for _ in range(queries)]
    app = create_app(runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for mode in ("dense", "keyword", "hybrid"):
            direct, through = [], []
            await engine.query(RetrievalQuery("warm up", "speed", mode=mode))
            for question in questions:
                t0 = time.perf_counter()
                await engine.query(RetrievalQuery(question, "speed", top_k=5, mode=mode))
                t1 = time.perf_counter()
                response = await client.post(
                    "/v1/rag/query",
                    json={"question": question, "collection": "speed", "mode": mode},
                )
                t2 = time.perf_counter()
                response.raise_for_status()
                direct.append(t1 - t0)
                through.append(t2 - t1)
            d, h = summary(direct), summary(through)
            emit(
                f"query {mode:<8} direct p50 {ms(d['p50'])} p99 {ms(d['p99'])}   "
                f"HTTP p50 {ms(h['p50'])} p99 {ms(h['p99'])}   ratio x{h['p50'] / d['p50']:.2f}"
            )
    emit("goal at 5,000 chunks: query p50 <= 15 ms, p99 <= 30 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    configure_logging("warning")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("VOXGATE_DATA_DIR", str(Path(tmp) / "data"))
        config = Path(tmp) / "rag.yaml"
        config.write_text(CONFIG.format(path=Path(tmp) / "chroma"))

        async def run() -> None:
            runtime = Runtime(config)
            await runtime.start()
            try:
                slot = runtime.current.slots["docs"]
                await slot.ensure_loaded()
                assert isinstance(slot.engine, RetrievalEngine)
                emit(f"quality on {len(QUERIES)} questions over {len(DOCUMENTS)} documents:")
                for mode, (ndcg, recall) in (await quality(slot.engine)).items():
                    emit(f"  {mode:<8} nDCG@10 {ndcg:.3f}   recall@5 {recall:.3f}")
                await speed(runtime, slot.engine, args.chunks, args.queries)
            finally:
                await runtime.shutdown(5)

        asyncio.run(run())


if __name__ == "__main__":
    main()
