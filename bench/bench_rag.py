"""Retrieval quality and speed of the rag_chroma engine.

1. Quality on voxgate's evaluation sets (tests/data/rag): World Factbook country profiles in
   English and Lu Xun stories in Chinese (public-domain text; questions in the documents' own
   words), and two bilingual help centres written for voxgate whose questions are paraphrases
   (support_kb: the one fusion was tuned on; city_services: held out). nDCG@10, recall@5, hit@1
   and hit@3 for dense, keyword and hybrid search (adaptive, weighted and RRF fusion).
2. Speed at N chunks (default 5,000): ingestion chunks/s and query latency p50/p99 through a real
   daemon over HTTP, then the engine called directly on the same store, and their ratio.

    python -m bench.bench_rag [--chunks 5000] [--queries 200] [--skip-quality] [--skip-speed]
                              [--all-embedders] [--precision float32|int8] [--sets a,b]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.scratch import scratch_folder
from bench.stats import emit, ms, summary
from core.engines import RetrievalEngine
from core.engines.retrieval import Document, RetrievalMode, RetrievalQuery
from core.text.script import is_cjk
from tests.support.configs import engine_entry
from tests.support.daemon import daemon_process
from tests.support.runtime import running_runtime

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "rag"
SETS = ("factbook_en", "luxun_zh", "support_kb", "city_services")
#: Sets whose sentences make up the synthetic speed corpus (long documents, many chunks).
SPEED_SETS = ("factbook_en", "luxun_zh")
MODES: tuple[RetrievalMode, ...] = ("dense", "keyword", "hybrid")


def rag_config(cache: Path, store: Path, precision: str) -> str:
    """The daemon's config: MiniLM at ``precision`` behind the default ``docs`` engine, and a
    chroma engine for every variant of the quality table (engines sharing a store share its
    data)."""

    def minilm(precision: str) -> dict[str, Any]:
        settings = {"cache_dir": str(cache), "precision": precision}
        return engine_entry("embeddings", "sentence_transformers", settings, preload=False)

    def chroma(suffix: str = "", **settings: str) -> dict[str, Any]:
        return engine_entry(
            "rag", "chroma", {"path": f"{store}{suffix}", **settings}, preload=False
        )

    engines = {
        "minilm": minilm(precision),
        "docs": chroma(),
        "docs_weighted": chroma(fusion="weighted"),
        "docs_rrf": chroma(fusion="rrf"),
        "minilm_int8": minilm("int8"),
        "docs_int8": chroma("-int8", embeddings="minilm_int8"),
        "e5": engine_entry("embeddings", "e5", preload=False),
        "docs_e5": chroma("-e5", embeddings="e5"),
        "docs_e5_weighted": chroma("-e5", embeddings="e5", fusion="weighted"),
        "minilm_e5": engine_entry(
            "embeddings", "combined", {"members": ["minilm", "e5"]}, preload=False
        ),
        "docs_combined": chroma("-combined", embeddings="minilm_e5"),
    }
    config = {
        "reload": {"watch": False},
        "logging": {"level": "warning"},
        "policy": {"timeout": "600s"},  # e5 embeds a long document's chunks in one call
        "engines": engines,
        "routes": {"embeddings": ["minilm"], "rag": ["docs"]},
    }
    return yaml.safe_dump(config, sort_keys=False)


@dataclass(frozen=True)
class EvalSet:
    name: str
    documents: list[dict[str, Any]]
    queries: list[dict[str, Any]]


def load_set(name: str) -> EvalSet:
    raw = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return EvalSet(name, raw["documents"], raw["queries"])


def ndcg_at(ranked: list[str], relevant: set[str], k: int) -> float:
    gains = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return gains / ideal if ideal else 0.0


async def ingest_set(engine: RetrievalEngine, data: EvalSet, collection: str) -> None:
    for doc in data.documents:
        metadata = {"title": doc["title"]}
        await engine.upsert(Document(doc["id"], doc["text"], collection, metadata))


@dataclass(frozen=True)
class Scores:
    """Means over a set's questions, a document's best chunk standing for it."""

    ndcg10: float
    recall5: float
    hit1: float
    hit3: float


async def quality(
    engine: RetrievalEngine,
    data: EvalSet,
    collection: str,
    modes: tuple[RetrievalMode, ...] = MODES,
) -> dict[str, Scores]:
    """nDCG@10, recall@5, hit@1 and hit@3 per search mode, over documents."""
    results: dict[str, Scores] = {}
    for mode in modes:
        rows: list[tuple[float, float, float, float]] = []
        for item in data.queries:
            relevant = set(item["relevant"])
            query = RetrievalQuery(item["question"], collection, top_k=30, mode=mode)
            hits = await engine.query(query)
            ranked = list(dict.fromkeys(h.document_id for h in hits))
            rows.append(
                (
                    ndcg_at(ranked, relevant, 10),
                    len(set(ranked[:5]) & relevant) / len(relevant),
                    float(bool(set(ranked[:1]) & relevant)),
                    float(bool(set(ranked[:3]) & relevant)),
                )
            )
        results[mode] = Scores(*(sum(column) / len(rows) for column in zip(*rows, strict=True)))
    return results


#: Rows of the quality table: (label, rag engine, mode); engines sharing a store share its data.
QUALITY_ROWS: tuple[tuple[str, str, RetrievalMode], ...] = (
    ("dense", "docs", "dense"),
    ("keyword", "docs", "keyword"),
    ("hybrid (adaptive)", "docs", "hybrid"),
    ("hybrid (weighted)", "docs_weighted", "hybrid"),
    ("hybrid (rrf)", "docs_rrf", "hybrid"),
    ("dense, int8 MiniLM", "docs_int8", "dense"),
    ("hybrid, int8 MiniLM", "docs_int8", "hybrid"),
    ("dense, e5", "docs_e5", "dense"),
    ("hybrid, e5", "docs_e5", "hybrid"),
    ("hybrid (weighted), e5", "docs_e5_weighted", "hybrid"),
    ("dense, MiniLM + e5", "docs_combined", "dense"),
    ("hybrid, MiniLM + e5", "docs_combined", "hybrid"),
)
#: Engines that read another engine's store (same embeddings, another fusion).
SHARED_STORES = {"docs_weighted": "docs", "docs_rrf": "docs", "docs_e5_weighted": "docs_e5"}


async def run_quality(
    config: Path, rows: tuple[tuple[str, str, RetrievalMode], ...], sets: tuple[str, ...] = SETS
) -> None:
    async with running_runtime(config, entry_points=True) as runtime:
        engines: dict[str, RetrievalEngine] = {}
        for name in dict.fromkeys(engine for _, engine, _ in rows):
            slot = runtime.current.slots[name]
            await slot.ensure_loaded()
            assert isinstance(slot.engine, RetrievalEngine)
            engines[name] = slot.engine
        stores = {name: SHARED_STORES.get(name, name) for name in engines}
        for set_name in sets:
            data = load_set(set_name)
            collection = set_name.replace("_", "-")
            for store in dict.fromkeys(stores[name] for name in engines):
                started = time.perf_counter()
                await ingest_set(engines[store], data, collection)
                if store == "docs":
                    stats = await engines[store].stats(collection)
                    chunks = stats["collections"][collection]["chunks"]
                    emit(
                        f"{set_name}: {len(data.queries)} questions, {len(data.documents)} "
                        f"documents, {chunks} chunks (ingested in "
                        f"{time.perf_counter() - started:.1f} s)"
                    )
            for label, engine, mode in rows:
                got = (await quality(engines[engine], data, collection, (mode,)))[mode]
                emit(
                    f"  {label:<22} nDCG@10 {got.ndcg10:.3f}   recall@5 {got.recall5:.3f}   "
                    f"hit@1 {got.hit1:.3f}   hit@3 {got.hit3:.3f}"
                )


# -- speed --------------------------------------------------------------------------------------


def weight(text: str) -> int:
    """Size as the chunker counts it."""
    return sum(2 if is_cjk(ch) else 1 for ch in text)


def synthetic_documents(chunks: int, per_document: int = 10) -> list[Document]:
    """Documents of one-chunk paragraphs recombined from the evaluation sets' sentences, so words
    are spread like real text (rare names, common words) rather than a tiny vocabulary."""
    sentences = []
    for set_name in SPEED_SETS:
        for doc in load_set(set_name).documents:
            sentences += [s for s in re.split(r"(?<=[.!?。！？])\s*", doc["text"]) if s.strip()]
    rng = random.Random(7)
    documents = []
    for number in range(chunks // per_document):
        paragraphs = []
        for _ in range(per_document):
            paragraph = ""
            while weight(paragraph) < 350:  # one chunk each: 350-480 (CJK counts double)
                sentence = rng.choice(sentences).strip()
                if weight(paragraph) + weight(sentence) <= 480:
                    paragraph += sentence + " "
            paragraphs.append(paragraph.strip())
        documents.append(Document(f"doc{number}", "\n\n".join(paragraphs), "speed"))
    return documents


def questions(count: int) -> list[str]:
    pool = [q["question"] for name in SETS for q in load_set(name).queries]
    return [pool[i % len(pool)] for i in range(count)]


def over_http(
    config: Path, data_dir: Path, documents: list[Document], asked: list[str]
) -> dict[str, Any]:
    """Ingest and query through a real daemon process; returns timings."""
    timings: dict[str, Any] = {}
    with (
        daemon_process(config, env={"VOXGATE_DATA_DIR": str(data_dir)}) as url,
        httpx.Client(base_url=url, timeout=600) as client,
    ):
        client.post("/v1/rag/documents", json={"id": "warm", "text": "warm up", "collection": "w"})
        started = time.perf_counter()
        for doc in documents:
            document = {"id": doc.id, "text": doc.text, "collection": doc.collection}
            client.post("/v1/rag/documents", json=document).raise_for_status()
        timings["ingest_s"] = time.perf_counter() - started
        stats = client.get("/v1/rag/stats", params={"collection": "speed"}).json()
        timings["chunks"] = stats["collections"]["speed"]["chunks"]
        for mode in MODES:
            warm = {"question": "warm up", "collection": "speed", "mode": mode}
            client.post("/v1/rag/query", json=warm).raise_for_status()
            latencies = []
            for question in asked:
                body = {"question": question, "collection": "speed", "mode": mode, "top_k": 5}
                t0 = time.perf_counter()
                client.post("/v1/rag/query", json=body).raise_for_status()
                latencies.append(time.perf_counter() - t0)
            timings[mode] = summary(latencies)
    return timings


async def direct(config: Path, asked: list[str]) -> dict[str, Any]:
    """The engine called in process on the same store the daemon built."""
    timings: dict[str, Any] = {}
    async with running_runtime(config, entry_points=True) as runtime:
        slot = runtime.current.slots["docs"]
        await slot.ensure_loaded()
        engine = slot.engine
        assert isinstance(engine, RetrievalEngine)
        started = time.perf_counter()
        await engine.query(RetrievalQuery("open", "speed", mode="keyword"))
        timings["open_s"] = time.perf_counter() - started  # keyword index rebuilt from the store
        for mode in MODES:
            await engine.query(RetrievalQuery("warm up", "speed", mode=mode))
            latencies = []
            for question in asked:
                t0 = time.perf_counter()
                await engine.query(RetrievalQuery(question, "speed", top_k=5, mode=mode))
                latencies.append(time.perf_counter() - t0)
            timings[mode] = summary(latencies)
        # The fixed-weight blend on the same store, questions interleaved with the adaptive one,
        # so their ratio is the adaptive weighting's own cost.
        fixed = runtime.current.slots["docs_weighted"]
        await fixed.ensure_loaded()
        assert isinstance(fixed.engine, RetrievalEngine)
        pair: dict[str, list[float]] = {"adaptive": [], "weighted": []}
        for question in asked:
            for label, which in (("adaptive", engine), ("weighted", fixed.engine)):
                t0 = time.perf_counter()
                await which.query(RetrievalQuery(question, "speed", top_k=5, mode="hybrid"))
                pair[label].append(time.perf_counter() - t0)
        timings["fusion"] = {label: summary(values) for label, values in pair.items()}
    return timings


def run_speed(config: Path, data_dir: Path, chunks: int, queries: int) -> None:
    documents = synthetic_documents(chunks)
    asked = questions(queries)
    through = over_http(config, data_dir, documents, asked)
    emit(
        f"ingestion through the daemon: {through['chunks']} chunks in {through['ingest_s']:.1f} s"
        f" = {through['chunks'] / through['ingest_s']:.1f} chunks/s"
    )
    inside = asyncio.run(direct(config, asked))
    emit(f"reopening the store (keyword index rebuilt from chroma): {inside['open_s']:.2f} s")
    emit(f"query latency at {through['chunks']} chunks, {queries} questions, top_k 5:")
    for mode in MODES:
        d, h = inside[mode], through[mode]
        emit(
            f"  {mode:<8} direct p50 {ms(d['p50'])} p99 {ms(d['p99'])}   "
            f"HTTP p50 {ms(h['p50'])} p99 {ms(h['p99'])}   HTTP/direct x{h['p50'] / d['p50']:.2f}"
        )
    adaptive, fixed = inside["fusion"]["adaptive"], inside["fusion"]["weighted"]
    emit(
        f"  hybrid, interleaved: adaptive p50 {ms(adaptive['p50'])} p99 {ms(adaptive['p99'])}   "
        f"weighted p50 {ms(fixed['p50'])} p99 {ms(fixed['p99'])}   "
        f"adaptive/weighted x{adaptive['p50'] / fixed['p50']:.2f}"
    )
    emit("goal at 5,000 chunks: query p50 <= 15 ms, p99 <= 30 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--sets", help=f"comma-separated sets (default: {','.join(SETS)})")
    parser.add_argument(
        "--precision",
        choices=["float32", "int8"],
        default="float32",
        help="of the MiniLM embedder behind the default engine (speed and the first rows)",
    )
    parser.add_argument(
        "--all-embedders",
        action="store_true",
        help="also int8 MiniLM, multilingual e5 and the two combined (each ingests again)",
    )
    args = parser.parse_args()
    with scratch_folder() as root:
        config = root / "rag.yaml"
        config.write_text(rag_config(root / "onnx", root / "chroma", args.precision))
        if not args.skip_quality:
            rows = QUALITY_ROWS if args.all_embedders else QUALITY_ROWS[:5]
            sets = tuple(args.sets.split(",")) if args.sets else SETS
            asyncio.run(run_quality(config, rows, sets))
        if not args.skip_speed:
            run_speed(config, root / "data", args.chunks, args.queries)


if __name__ == "__main__":
    main()
