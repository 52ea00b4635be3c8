"""What sharing state through Valkey costs, against the in-process backend, in one run.

1. One rate-limit check (the call a limited request makes), in process: memory vs Valkey.
2. A breaker trip's way to another daemon (publish -> the other's listener hears it).
3. Requests through daemons that differ only in their state: in process with an API-key limit
   and an engine limit; Valkey with the key limit (one Valkey call a request); Valkey with both
   (two calls). Interleaved in small blocks so machine noise hits all alike.
   Goal: <= +0.5 ms at p50.
4. Sizing: Valkey memory per conversation and per rate bucket.

Needs valkey-server (`make fleet-tools`).

    python -m bench.bench_fleet [--requests 1000] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bench.options import add_overhead_options
from bench.pacing import Pacer, paced_embeddings
from bench.scratch import scratch_folder
from bench.stats import added, emit, p50_p99, ratios, summary, us
from core.config.schema import StateConfig
from core.engines.llm import ChatMessage
from core.observability.metrics import Metrics
from core.state.backend import BreakerNews, HistoryLimits
from core.state.memory import MemoryBackend
from core.state.rate import Rate
from core.state.valkey import ValkeyBackend
from tests.support.daemon import Daemon
from tests.support.fleet_tools import ValkeyServer
from tests.support.plugin_dist import fake_plugin_env

CONFIG = """\
reload: {{watch: false}}
logging: {{level: warning}}
state: {state}
auth: {{rate_limit: 1000000/s}}
policy: {{engines: {{embed: {{rate_limit: {engine_limit}}}}}}}
engines:
  embed: {{capability: embeddings, engine: fake}}
routes: {{embeddings: [embed]}}
"""


class Heard:
    """The daemon side of a backend, for the benchmark: when news arrived."""

    def __init__(self) -> None:
        self.arrived: asyncio.Event = asyncio.Event()

    def breaker_news(self, news: BreakerNews) -> None:
        self.arrived.set()

    def open_breakers(self) -> list[BreakerNews]:
        return []

    async def reload_for_fleet(self) -> dict[str, Any]:
        return {}


async def in_process(url: str, rounds: int) -> None:
    memory = MemoryBackend()
    settings = StateConfig(backend="valkey", url=url, key_prefix="bench", daemon_id="a")
    a = ValkeyBackend(settings, Metrics())
    b = ValkeyBackend(settings.model_copy(update={"daemon_id": "b"}), Metrics())
    heard = Heard()
    await a.start(Heard())
    await b.start(heard)
    try:
        rate = Rate(1_000_000, 1)
        local, shared = [], []
        for _ in range(200):
            await a.take("warm", rate)
        for _ in range(rounds):
            t0 = time.perf_counter()
            await memory.take("k", rate)
            t1 = time.perf_counter()
            await a.take("k", rate)
            t2 = time.perf_counter()
            local.append(t1 - t0)
            shared.append(t2 - t1)
        m, v = summary(local), summary(shared)
        emit("one rate-limit check, in process:")
        emit(f"  memory backend   {p50_p99(m, us)}")
        emit(f"  valkey backend   {p50_p99(v, us)}   (one Lua call)")

        spread = []
        for index in range(200):
            heard.arrived.clear()
            t0 = time.perf_counter()
            a.publish_breaker(BreakerNews("chat", "f", 30.0 if index % 2 == 0 else 0.0))
            await heard.arrived.wait()
            spread.append(time.perf_counter() - t0)
        s = summary(spread)
        emit("a breaker change reaching another daemon (publish -> heard):")
        emit(f"  {p50_p99(s)}   (goal: within a second)")

        turn = [ChatMessage("user", "x" * 80), ChatMessage("assistant", "y" * 200)]
        for _ in range(10):  # a conversation of 20 messages: the default max_history_messages
            await a.remember("k:sizing", turn, HistoryLimits(20, 1, 60))
        client = a._client  # the benchmark reads the store's own accounting
        await a.take("sizing", Rate(10, 60))
        conversation = await client.memory_usage("bench:conversation:k:sizing")
        bucket = await client.memory_usage("bench:rate:sizing")
        emit("Valkey memory (MEMORY USAGE):")
        emit(f"  a conversation of 20 messages (80 + 200 characters a turn)  {conversation} B")
        emit(f"  one rate bucket                                            {bucket} B")
    finally:
        await a.close()
        await b.close()


def interleaved(urls: list[str], requests: int, rate: float, block: int = 25) -> list[list[float]]:
    """``requests`` to each URL at ``rate`` per second, alternating blocks of ``block``; one
    keep-alive connection each."""
    latencies: list[list[float]] = [[] for _ in urls]
    clients = [httpx.Client(base_url=url, timeout=10) for url in urls]
    try:
        for client in clients:
            for _ in range(100):
                client.post("/v1/embeddings", json={"input": "hello"}).raise_for_status()
        pacer = Pacer(rate)
        for _ in range(0, requests, block):
            for index, client in enumerate(clients):
                latencies[index] += paced_embeddings(client, block, pacer)
    finally:
        for client in clients:
            client.close()
    return latencies


def over_http(url: str, workdir: Path, requests: int, rate: float) -> None:
    valkey = f'{{backend: valkey, url: "{url}", key_prefix: bench-http}}'
    variants = {
        "memory, key + engine limit": ("{backend: memory}", "1000000/s"),
        "valkey, key limit (1 call)": (valkey, "null"),
        "valkey, key + engine (2 calls)": (valkey, "1000000/s"),
    }
    daemons = []
    try:
        for index, (state, engine_limit) in enumerate(variants.values()):
            config = workdir / f"http-{index}.yaml"
            config.write_text(CONFIG.format(state=state, engine_limit=engine_limit))
            daemons.append(Daemon(config, fake_plugin_env(workdir)))
        for daemon in daemons[1:]:
            status = httpx.get(daemon.url + "/control/status", timeout=5).json()["state"]
            assert status["state"] == "connected", status
        latencies = interleaved([daemon.url for daemon in daemons], requests, rate)
    finally:
        for daemon in daemons:
            daemon.stop()
    base = summary(latencies[0])
    emit(f"HTTP, {requests} requests each at {rate:g}/s, interleaved, one connection each:")
    for name, values in zip(variants, latencies, strict=True):
        s = summary(values)
        emit(f"  {name:<31} {p50_p99(s)}")
    for name, values in list(zip(variants, latencies, strict=True))[1:]:
        s = summary(values)
        emit(f"  added: {name:<24} {added(s, base)}  ratio {ratios(s, base)}")
    emit("  (goal: added p50 <= +0.5 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_overhead_options(parser, rounds=2000, requests=1000, rate=100.0)
    args = parser.parse_args()
    with scratch_folder() as workdir:
        server = ValkeyServer(workdir / "valkey")
        try:
            asyncio.run(in_process(server.url, args.rounds))
            over_http(server.url, workdir, args.requests, args.rate)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
