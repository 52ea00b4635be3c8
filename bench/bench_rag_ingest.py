"""Ingestion speed of the rag_chroma engine, and search latency while a large document ingests.

1. One document of N chunks (default 2,000) stored by the engine called in process, then by a
   real daemon as an ingestion job (``?async=true``, progress read from its event stream), for
   float32 and int8 MiniLM (``--precision combined``: MiniLM and e5 joined): chunks/s and the
   daemon/direct ratio.
2. Hybrid query latency (p50/p99) on a collection of Q chunks (default 2,000), first idle, then
   while the daemon ingests a large document into another collection, and the ratio.
3. Embedding one question, float32 against int8 MiniLM called in process, interleaved: p50 and
   the int8/float32 ratio (short texts read the weights more than they compute).

    python -m bench.bench_rag_ingest [--chunks 2000] [--query-chunks 2000] [--queries 100]
                                     [--precision float32 int8] [--mb 5] [--skip-embed]

``--mb 5`` ingests a 5 MB text (about 12k chunks) through the daemon instead of N chunks.
Pin the process to two cores (``taskset -c 0,1``) to compare with the README's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bench_rag import questions, synthetic_documents
from bench.scratch import scratch_folder
from bench.stats import emit, ms, summary
from core.engines import EmbeddingsEngine, RetrievalEngine
from core.engines.retrieval import Document
from plugins.rag_chroma.dense_probe import script_of
from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import daemon_process
from tests.support.runtime import running_runtime


def store_config(root: Path, store: str, precision: str) -> Path:
    """A config of MiniLM at ``precision`` (its ONNX export shared by all) and a chroma store
    of its own, ``root / store``, both preloaded. ``combined``: float32 MiniLM and e5 joined
    (engine ``both``), the store embedding with both."""
    combined = precision == "combined"
    embedder = {"cache_dir": str(root / "onnx"), "precision": "float32" if combined else precision}
    engines = {"minilm": engine_entry("embeddings", "sentence_transformers", embedder)}
    store_settings = {"path": str(root / store)}
    if combined:
        engines["e5"] = engine_entry("embeddings", "e5")
        engines["both"] = engine_entry("embeddings", "combined", {"members": ["minilm", "e5"]})
        store_settings["embeddings"] = "both"
    engines["docs"] = engine_entry("rag", "chroma", store_settings)
    config = root / f"{store}.yaml"
    config.write_text(daemon_config(engines))
    return config


def book(chunks: int) -> str:
    """One long text of about ``chunks`` one-chunk paragraphs (the evaluation sets' sentences)."""
    paragraphs = [p for d in synthetic_documents(chunks) for p in d.text.split("\n\n")]
    return "\n\n".join(paragraphs)


def book_of_bytes(size: int) -> str:
    text = book(max(size // 400, 10))
    while len(text.encode()) < size:
        text += "\n\n" + text
    return text.encode()[:size].decode(errors="ignore")


async def direct(config: Path, text: str) -> tuple[int, float]:
    """(chunks, seconds) for the engine called in process."""
    async with running_runtime(config, entry_points=True) as runtime:
        slot = runtime.current.slots["docs"]
        await slot.ensure_loaded()
        engine = slot.engine
        assert isinstance(engine, RetrievalEngine)
        await engine.ingest(Document("warm", "warm up", "warm"))
        started = time.perf_counter()
        info = await engine.ingest(Document("book", text, "direct"))
        return info.chunks, time.perf_counter() - started


def follow(client: httpx.Client, job_id: str) -> dict[str, Any]:
    last: dict[str, Any] = {}
    with client.stream("GET", f"/v1/rag/jobs/{job_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                last = json.loads(line[len("data: ") :])
    return last


def ingest_job(client: httpx.Client, text: str, collection: str) -> tuple[int, float]:
    """(chunks, seconds) for an ingestion job on the daemon, from posting to its end. The text
    goes as a file upload (JSON bodies stop at ``limits.max_request_bytes``)."""
    started = time.perf_counter()
    posted = client.post(
        "/v1/rag/documents",
        params={"async": "true"},
        files={"file": ("book.txt", text.encode(), "text/plain")},
        data={"id": "book", "collection": collection},
    )
    posted.raise_for_status()
    job = follow(client, posted.json()["id"])
    seconds = time.perf_counter() - started
    if job.get("status") != "succeeded":
        raise RuntimeError(f"ingestion job ended {job.get('status')}: {job.get('error')}")
    return int(job["chunks_done"]), seconds


def latencies(client: httpx.Client, asked: list[str], collection: str) -> list[float]:
    out = []
    for question in asked:
        body = {"question": question, "collection": collection, "mode": "hybrid", "top_k": 5}
        started = time.perf_counter()
        client.post("/v1/rag/query", json=body).raise_for_status()
        out.append(time.perf_counter() - started)
    return out


def speed(root: Path, precision: str, text: str) -> None:
    config = store_config(root, f"chroma-{precision}", precision)
    chunks, seconds = asyncio.run(direct(config, text))
    with (
        daemon_process(config, env={"VOXGATE_DATA_DIR": str(root / "data")}) as url,
        httpx.Client(base_url=url, timeout=600) as client,
    ):
        client.post("/v1/rag/documents", json={"text": "warm up", "collection": "warm"})
        job_chunks, job_seconds = ingest_job(client, text, "daemon")
    emit(
        f"{precision:<8} {chunks} chunks: direct {chunks / seconds:.1f} chunks/s, "
        f"daemon job {job_chunks / job_seconds:.1f} chunks/s, "
        f"daemon/direct x{(job_chunks / job_seconds) / (chunks / seconds):.2f}"
    )


def queries_during_ingestion(root: Path, precision: str, text: str, indexed: int, n: int) -> None:
    config = store_config(root, f"chroma-q-{precision}", precision)
    asked = questions(n)
    with (
        daemon_process(config, env={"VOXGATE_DATA_DIR": str(root / "data")}) as url,
        httpx.Client(base_url=url, timeout=600) as client,
    ):
        ingest_job(client, book(indexed), "speed")
        latencies(client, asked[:10], "speed")
        idle = summary(latencies(client, asked, "speed"))
        outcome: dict[str, tuple[int, float]] = {}

        def ingest() -> None:
            with httpx.Client(base_url=url, timeout=600) as own:
                outcome["job"] = ingest_job(own, text, "busy")

        ingesting = threading.Thread(target=ingest)
        ingesting.start()
        time.sleep(2.0)  # the job is chunked and embedding
        busy = summary(latencies(client, asked, "speed"))
        ingesting.join()
    chunks, seconds = outcome["job"]
    emit(
        f"hybrid query at {indexed} chunks ({precision}), {n} questions: idle p50 "
        f"{ms(idle['p50'])} p99 {ms(idle['p99'])}; during a {chunks}-chunk ingestion p50 "
        f"{ms(busy['p50'])} p99 {ms(busy['p99'])} (x{busy['p50'] / idle['p50']:.2f} p50); "
        f"the ingestion ran at {chunks / seconds:.1f} chunks/s"
    )


async def question_embedding(root: Path, rounds: int) -> None:
    """One question at a time through each precision's engine, alternating, so both see the
    same machine load; then English and Chinese questions through MiniLM + e5 combined, each
    embedded by one member (MiniLM and e5 respectively)."""
    configs = {p: store_config(root, f"embed-{p}", p) for p in ("float32", "int8", "combined")}
    pool = questions(rounds * 4)
    english = [q for q in pool if script_of(q) == "other"][:rounds]
    chinese = [q for q in pool if script_of(q) == "cjk"][:rounds]
    async with contextlib.AsyncExitStack() as stack:
        engines: dict[str, EmbeddingsEngine] = {}
        for precision, config in configs.items():
            runtime = await stack.enter_async_context(running_runtime(config, entry_points=True))
            slot = runtime.current.slots["both" if precision == "combined" else "minilm"]
            await slot.ensure_loaded()
            assert isinstance(slot.engine, EmbeddingsEngine)
            engines[precision] = slot.engine
        await engines["combined"].embed([english[0], chinese[0]], "query")  # routes its members
        runs = {"float32": english, "int8": english, "combined": english, "combined, zh": chinese}
        seconds: dict[str, list[float]] = {label: [] for label in runs}
        for row in range(rounds):
            for label, asked in runs.items():
                engine = engines[label.split(",")[0]]
                started = time.perf_counter()
                await engine.embed([asked[row % len(asked)]], "query")
                seconds[label].append(time.perf_counter() - started)
    p50 = {label: summary(values)["p50"] for label, values in seconds.items()}
    emit(
        f"one question embedded ({rounds} interleaved): float32 p50 {ms(p50['float32'])}, "
        f"int8 p50 {ms(p50['int8'])}, int8/float32 x{p50['int8'] / p50['float32']:.2f}"
    )
    emit(
        f"MiniLM + e5 combined: an English question p50 {ms(p50['combined'])} "
        f"(x{p50['combined'] / p50['float32']:.2f} of MiniLM alone), a Chinese one (by e5) "
        f"p50 {ms(p50['combined, zh'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--query-chunks", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--precision", nargs="+", default=["float32", "int8"])
    parser.add_argument("--mb", type=float, default=None, help="daemon only: a text this large")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--skip-speed", action="store_true", help="only the query latencies")
    parser.add_argument("--skip-embed", action="store_true", help="no question-embedding part")
    args = parser.parse_args()
    emit(f"cores available: {len(os.sched_getaffinity(0))}")
    with scratch_folder() as root:
        if args.mb:
            text = book_of_bytes(int(args.mb * 1_000_000))
            for precision in args.precision:
                config = store_config(root, f"mb-{precision}", precision)
                with (
                    daemon_process(config, env={"VOXGATE_DATA_DIR": str(root / "data")}) as url,
                    httpx.Client(base_url=url, timeout=600) as client,
                ):
                    chunks, seconds = ingest_job(client, text, "large")
                    hits = client.post(
                        "/v1/rag/query", json={"question": questions(1)[0], "collection": "large"}
                    ).json()["data"]
                emit(
                    f"{precision:<8} {len(text.encode()) / 1e6:.1f} MB, {chunks} chunks through "
                    f"the daemon in {seconds:.0f} s = {chunks / seconds:.1f} chunks/s; a query "
                    f"afterwards found {len(hits)} passages"
                )
            return
        text = book(args.chunks)
        for precision in [] if args.skip_speed else args.precision:
            speed(root, precision, text)
        if not args.skip_queries:
            for precision in args.precision[-1:]:
                queries_during_ingestion(
                    root, precision, book(args.chunks), args.query_chunks, args.queries
                )
        if not args.skip_embed:
            asyncio.run(question_embedding(root, max(args.queries, 50)))


if __name__ == "__main__":
    main()
