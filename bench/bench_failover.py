"""Failover cost: what a dead or hung local engine adds to requests the cloud serves.

The "cloud" is a second voxgate daemon on loopback (fake engines: no model work, or a 50 ms
answer like a fast provider). In the same run:

1. Dead local engine, breaker open: the hybrid daemon's route (local skipped by its open breaker,
   then the cloud engine) against the same daemon pinned to the cloud engine, over HTTP; and the
   router in process against the cloud engine called directly. Goal: ratio <= 1.05.
2. Hung local engine: each request waits for the local timeout, then the cloud serves it. The time
   to detect the hang is the latency minus the timeout minus the cloud's own latency. Goal: < 50 ms.
3. edge-tts without internet: how long its failure takes, alone and inside a chain.

    python -m bench.bench_failover [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

import plugins.fallback_cloud
from bench.stats import emit, ms, summary, us
from core.engines import EngineError, SpeechRequest
from core.engines.base import Capability
from core.engines.embeddings import Embeddings, EmbeddingsEngine
from core.engines.tts import TTSEngine
from core.observability.logging import configure_logging
from plugins.fallback_cloud.edge import EdgeTTSEngine
from plugins.fallback_cloud.settings import EdgeSettings
from tests.support.daemon import daemon_process
from tests.support.engines import engine_context
from tests.support.plugin_dist import fake_plugin_env
from tests.support.runtime import running_runtime

KEY_ENV = "BENCH_FAILOVER_KEY"
KEY = "bench-failover-key"
#: Each local request is given this long before the router moves on (part 2).
HANG_TIMEOUT = 0.2
#: The cloud plugin beside the fake local engines, as its entry point would register it.
CLOUD = {"fallback_cloud": plugins.fallback_cloud}

UPSTREAM = """\
mode: local
reload: {watch: false}
logging: {level: warning}
server: {drain_timeout: 1}
engines:
  emb_ok: {capability: embeddings, engine: fake}
  emb_50ms: {capability: embeddings, engine: fake, settings: {delay: 0.05}}
  tts_ok: {capability: tts, engine: fake, settings: {chunks: 1}}
routes: {embeddings: [emb_ok], tts: [tts_ok]}
"""


def broken_local(folder: Path) -> str:
    """Settings of a local engine that loads but fails every request (an engine that cannot
    load is skipped as not loaded and never opens its breaker)."""
    flag = folder / "local-broken"
    flag.touch()
    return f'fail_file: "{flag}"'


def hybrid(cloud: str, model: str, local: str, timeout: float, failures: int) -> str:
    return f"""\
mode: hybrid
reload: {{watch: false}}
logging: {{level: warning}}
server: {{drain_timeout: 1}}
policy:
  timeout: {timeout}
  breaker: {{failures: {failures}, cooldown: 3600, max_cooldown: 3600}}
  # The short timeout is the local engine's; the cloud engines get their own.
  engines: {{cloud: {{timeout: 10}}, cloud_tts: {{timeout: 10}}}}
engines:
  local: {{capability: embeddings, engine: fake, settings: {{{local}}}}}
  cloud:
    capability: embeddings
    engine: openai_embeddings
    settings: {{base_url: "{cloud}/v1", api_key_env: {KEY_ENV}, model: {model}}}
  edge:
    capability: tts
    engine: edge_tts
    settings: {{fetch_voice_list: false}}
  cloud_tts:
    capability: tts
    engine: openai_tts
    settings: {{base_url: "{cloud}/v1", api_key_env: {KEY_ENV}, model: tts_ok, voice: fake-a}}
routes: {{embeddings: [local, cloud], tts: [edge, cloud_tts]}}
"""


def timed(client: httpx.Client, body: dict[str, object], expect: str | None) -> float:
    started = time.perf_counter()
    response = client.post("/v1/embeddings", json=body)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text}")
    if expect is not None and response.headers.get("x-voxgate-fallback") != expect:
        raise RuntimeError(f"expected fallback {expect!r}, got {response.headers}")
    return elapsed


def interleaved(rounds: int, *calls: Callable[[], float]) -> list[list[float]]:
    """Latencies of each call, taken in turn so machine noise hits them alike."""
    results: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for index, call in enumerate(calls):
            results[index].append(call())
    return results


def report(label: str, values: list[float]) -> dict[str, float]:
    s = summary(values)
    emit(f"  {label:<44} p50 {ms(s['p50'])}  p90 {ms(s['p90'])}  p99 {ms(s['p99'])}")
    return s


def dead_local_over_http(requests: int, upstream: str, folder: Path, env: dict[str, str]) -> None:
    body: dict[str, object] = {"input": ["hello"]}
    for model, label in (("emb_ok", "no work"), ("emb_50ms", "answers in 50 ms")):
        config = folder / f"dead-{model}.yaml"
        config.write_text(hybrid(upstream, model, broken_local(folder), 5, 1), encoding="utf-8")
        with (
            daemon_process(config, env=env) as url,
            httpx.Client(base_url=url, timeout=30) as gateway,
            httpx.Client(base_url=upstream, timeout=30, headers=auth()) as cloud,
        ):
            timed(gateway, body, "local=unavailable")  # trips the breaker (failures: 1)
            for _ in range(30):
                timed(gateway, body, "local=breaker_open")
                timed(gateway, {**body, "model": "cloud"}, None)
            routed, pinned, direct = interleaved(
                requests,
                lambda: timed(gateway, body, "local=breaker_open"),
                lambda: timed(gateway, {**body, "model": "cloud"}, None),
                lambda model=model: timed(cloud, {**body, "model": model}, None),  # type: ignore[misc]
            )
        emit(f"dead local engine, breaker open, cloud {label} (HTTP, {requests} each):")
        r = report("route: local skipped -> cloud", routed)
        p = report("same daemon pinned to the cloud engine", pinned)
        d = report("the cloud daemon called directly", direct)
        emit(
            f"  failover cost ratio (route / pinned)        p50 {r['p50'] / p['p50']:.3f}  "
            f"mean {r['mean'] / p['mean']:.3f}   (goal <= 1.05)"
        )
        emit(f"  gateway hop (pinned - direct)               p50 {ms(p['p50'] - d['p50'])}")


def hung_local_over_http(requests: int, upstream: str, folder: Path, env: dict[str, str]) -> None:
    body: dict[str, object] = {"input": ["hello"]}
    config = folder / "hung.yaml"
    # The breaker never opens (failures: 10000), so every request sits through the timeout.
    config.write_text(hybrid(upstream, "emb_ok", "delay: 30", HANG_TIMEOUT, 10_000))
    with daemon_process(config, env=env) as url, httpx.Client(base_url=url, timeout=30) as gateway:
        for _ in range(3):
            timed(gateway, body, "local=timeout")
        hung, pinned = interleaved(
            requests,
            lambda: timed(gateway, body, "local=timeout"),
            lambda: timed(gateway, {**body, "model": "cloud"}, None),
        )
    emit(f"hung local engine, timeout {HANG_TIMEOUT * 1000:.0f} ms (HTTP, {requests} each):")
    h = report("route: local times out -> cloud", hung)
    p = report("same daemon pinned to the cloud engine", pinned)
    detect = [v - HANG_TIMEOUT - p["p50"] for v in hung]
    s = summary(detect)
    emit(
        f"  time to detect the hang beyond the timeout   p50 {ms(s['p50'])}  p90 {ms(s['p90'])}  "
        f"max {ms(max(detect))}   (goal < 50 ms)"
    )
    emit(f"  (whole request p50 {ms(h['p50'])})")


async def in_process(requests: int, upstream: str, folder: Path) -> None:
    texts = ["hello"]

    async def run(engine: EmbeddingsEngine) -> Embeddings:
        return await engine.embed(texts)

    for model, label, rounds in (
        ("emb_ok", "no work", requests),
        ("emb_50ms", "answers in 50 ms", max(requests // 3, 50)),
    ):
        config = folder / f"in-process-dead-{model}.yaml"
        config.write_text(hybrid(upstream, model, broken_local(folder), 5, 1), encoding="utf-8")
        async with running_runtime(config, plugins=CLOUD) as runtime:
            router = runtime.current.router
            await router.call(Capability.EMBEDDINGS, None, run)  # trips the breaker
            cloud = runtime.current.slots["cloud"].engine
            assert isinstance(cloud, EmbeddingsEngine)
            routed, pinned, direct = [], [], []
            for _ in range(rounds):
                t0 = time.perf_counter()
                result = await router.call(Capability.EMBEDDINGS, None, run)
                t1 = time.perf_counter()
                await router.call(Capability.EMBEDDINGS, "cloud", run)
                t2 = time.perf_counter()
                await cloud.embed(texts)
                t3 = time.perf_counter()
                assert result.attempts[0].reason == "breaker_open"
                routed.append(t1 - t0)
                pinned.append(t2 - t1)
                direct.append(t3 - t2)
        emit(f"dead local engine, breaker open, cloud {label} (in process, {rounds} each):")
        r = report("router.call: local skipped -> cloud", routed)
        p = report("router.call pinned to the cloud engine", pinned)
        d = report("cloud engine called directly", direct)
        for name, other, note in (
            ("direct", d, "goal <= 1.05"),
            ("pinned", p, "the skipped engine alone"),
        ):
            emit(
                f"  ratio route / {name:<7} p50 {r['p50'] / other['p50']:.3f}  "
                f"mean {r['mean'] / other['mean']:.3f}   "
                f"({note}: p50 +{us(r['p50'] - other['p50'])})"
            )

    config = folder / "in-process-hung.yaml"
    config.write_text(hybrid(upstream, "emb_ok", "delay: 30", HANG_TIMEOUT, 10_000))
    async with running_runtime(config, plugins=CLOUD) as runtime:
        router = runtime.current.router
        cloud = runtime.current.slots["cloud"].engine
        assert isinstance(cloud, EmbeddingsEngine)
        await router.call(Capability.EMBEDDINGS, None, run)
        overhead = []
        for _ in range(max(requests // 10, 10)):
            t0 = time.perf_counter()
            result = await router.call(Capability.EMBEDDINGS, None, run)
            t1 = time.perf_counter()
            await cloud.embed(texts)
            t2 = time.perf_counter()
            assert result.attempts[0].reason == "timeout"
            overhead.append((t1 - t0) - HANG_TIMEOUT - (t2 - t1))
    s = summary(overhead)
    emit("hung local engine (in process):")
    emit(
        f"  time to detect beyond the {HANG_TIMEOUT * 1000:.0f} ms timeout        "
        f"p50 {ms(s['p50'])}  max {ms(max(overhead))}   (goal < 50 ms)"
    )


async def edge_offline(upstream: str, folder: Path) -> None:
    context = engine_context("edge", folder / "data", folder / "models")
    engine = EdgeTTSEngine(EdgeSettings(fetch_voice_list=False), context)
    await engine.load()
    times, kinds = [], set()
    for _ in range(20):
        started = time.perf_counter()
        try:
            async for _chunk in engine.synthesize(SpeechRequest(text="Hello there.")):
                break
            kinds.add("succeeded (this machine is online)")
        except EngineError as exc:
            kinds.add(exc.kind)
        times.append(time.perf_counter() - started)
    await engine.close()
    s = summary(times)
    emit("edge-tts without internet (real DNS failure, 20 attempts):")
    emit(f"  outcome {sorted(kinds)}  p50 {ms(s['p50'])}  max {ms(max(times))}")

    config = folder / "edge.yaml"
    config.write_text(hybrid(upstream, "emb_ok", "", 5, 10_000), encoding="utf-8")
    async with running_runtime(config, plugins=CLOUD) as runtime:
        router = runtime.current.router

        async def speak(engine: TTSEngine) -> int:
            return len([c async for c in engine.synthesize(SpeechRequest(text="Hello there."))])

        await router.call(Capability.TTS, "cloud_tts", speak)
        chained, pinned = [], []
        for _ in range(20):
            t0 = time.perf_counter()
            result = await router.call(Capability.TTS, None, speak)
            t1 = time.perf_counter()
            await router.call(Capability.TTS, "cloud_tts", speak)
            t2 = time.perf_counter()
            chained.append(t1 - t0)
            pinned.append(t2 - t1)
        fallback = ", ".join(a.header() for a in result.attempts)
    c, p = summary(chained), summary(pinned)
    emit(f"  chain [edge, cloud_tts]: p50 {ms(c['p50'])} vs cloud_tts alone p50 {ms(p['p50'])}")
    emit(f"  edge falls through in p50 {ms(c['p50'] - p['p50'])}  (header: {fallback})")


def auth() -> dict[str, str]:
    return {"authorization": f"Bearer {KEY}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    configure_logging("error", "console")
    os.environ[KEY_ENV] = KEY
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            **fake_plugin_env(folder),
            "PYTHONUNBUFFERED": "1",
            "VOXGATE_DATA_DIR": str(folder / "data"),
        }
        upstream_config = folder / "upstream.yaml"
        upstream_config.write_text(UPSTREAM, encoding="utf-8")
        with daemon_process(upstream_config, env={**env, "VOXGATE_API_KEYS": KEY}) as upstream:
            dead_local_over_http(args.requests, upstream, folder, env)
            hung_local_over_http(max(args.requests // 10, 20), upstream, folder, env)
            asyncio.run(in_process(args.requests, upstream, folder))
            asyncio.run(edge_offline(upstream, folder))


if __name__ == "__main__":
    main()
