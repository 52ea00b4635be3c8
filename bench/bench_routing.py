"""Routing decision cost in process, and the daemon's HTTP overhead at 50 requests/s.

Both are compared in the same run against the same fake engine called directly (the fake does
no work, so the figures are the gateway's own cost), and the HTTP figure also against a bare
Starlette/uvicorn server calling that engine (the floor of any Python HTTP service).

    python -m bench.bench_routing [--requests 500] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import httpx

from bench.bare_server import bare_server
from bench.options import add_overhead_options
from bench.pacing import Pacer, paced_embeddings
from bench.scratch import scratch_folder
from bench.stats import added, emit, p50_p99, ratios, summary, us
from core.engines import Embeddings, EmbeddingsEngine
from core.engines.base import Capability
from tests.support.daemon import daemon_process
from tests.support.plugin_dist import fake_plugin_env
from tests.support.runtime import running_runtime

CONFIG = """\
reload: {watch: false}
logging: {level: warning}
engines:
  embed: {capability: embeddings, engine: fake}
  backup: {capability: embeddings, engine: fake}
routes: {embeddings: [embed, backup]}
aliases: {text-embedding-3-small: embeddings}
"""


async def in_process(rounds: int, config: Path) -> None:
    async with running_runtime(config) as runtime:
        router = runtime.current.router
        engine = runtime.current.slots["embed"].engine
        assert isinstance(engine, EmbeddingsEngine)
        texts = ["hello"]

        async def run(e: EmbeddingsEngine) -> Embeddings:
            return await e.embed(texts)

        for _ in range(200):  # warm up (loads the engine)
            await router.call(Capability.EMBEDDINGS, None, run)
        direct, routed, decide = [], [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await engine.embed(texts)
            t1 = time.perf_counter()
            await router.call(Capability.EMBEDDINGS, "text-embedding-3-small", run)
            t2 = time.perf_counter()
            chain = router.chain(Capability.EMBEDDINGS, "text-embedding-3-small")
            chain.slots[0].breaker.allow()
            t3 = time.perf_counter()
            direct.append(t1 - t0)
            routed.append(t2 - t1)
            decide.append(t3 - t2)
    d, r, c = summary(direct), summary(routed), summary(decide)
    emit("in-process (fake engine, no work):")
    emit(f"  engine called directly   {p50_p99(d, us)}")
    emit(f"  through router.call      {p50_p99(r, us)}")
    emit(f"  routing decision only    {p50_p99(c, us)}   (goal p99 < 100 µs)")
    emit(f"  added by routing         {added(r, d, us)}")


def paced(url: str, requests: int, rate: float) -> list[float]:
    """Send ``requests`` at ``rate`` per second on one keep-alive connection; latencies."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(10):
            client.post("/v1/embeddings", json={"input": "hello"})
        return paced_embeddings(client, requests, Pacer(rate))


def over_http(requests: int, rate: float, config: Path, workdir: Path) -> None:
    plugin_env = fake_plugin_env(workdir)
    with daemon_process(config, env=plugin_env) as daemon_url, bare_server(plugin_env) as bare_url:
        # Alternate short blocks (daemon, bare, daemon, bare, ...) so machine noise hits both
        # alike; each block starts with its own warm-up on a fresh connection.
        blocks = max(2, requests // 50)
        per_block = max(1, requests // blocks)
        gateway, floor = [], []
        for _ in range(blocks):
            gateway += paced(daemon_url, per_block, rate)
            floor += paced(bare_url, per_block, rate)
    g, f = summary(gateway), summary(floor)
    emit(f"HTTP, {requests} requests at {rate:g}/s, one keep-alive connection:")
    emit(f"  bare starlette + same engine  {p50_p99(f)}")
    emit(f"  voxgate daemon                {p50_p99(g)}")
    emit(f"  daemon overhead over bare     {added(g, f)}   (goal p50 < 1 ms, p99 < 3 ms)")
    emit(f"  ratio daemon/bare             {ratios(g, f)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_overhead_options(parser, rounds=5000, requests=500, rate=50.0)
    args = parser.parse_args()
    with scratch_folder() as workdir:
        config = workdir / "bench.yaml"
        config.write_text(CONFIG)
        asyncio.run(in_process(args.rounds, config))
        over_http(args.requests, args.rate, config, workdir)


if __name__ == "__main__":
    main()
