"""Qwen3-TTS in its worker process: what the isolation costs.

Three measurements in one run:

1. The protocol alone: a worker (the test handler, no model) answering calls and streaming
   one-second audio chunks (96 kB of float32 each): cost per round trip and per chunk.
2. The qwen3 engine (worker proxy) called in this process: each request's wall time against the
   time the model itself spent generating inside the worker (reported per sentence by the worker
   and timed around ``generate_*`` there), so ``wall - model`` is the worker's overhead per
   request and per streamed chunk. Also time to first audio.
3. The daemon over HTTP (``POST /v1/audio/speech``, streamed ``pcm``) against the engine called
   directly, as a ratio; the two alternate request by request with the same seed (same work).

With no ``--models-dir`` a tiny random-weight checkpoint is built (the output is noise; the
figures are about the plumbing). With real weights (``--models-dir`` holding e.g.
``Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice``) the same figures include real generation; Qwen's own
claim is 97 ms to first audio on a GPU. A fourth figure is the streaming gain: first audio with
audio sent every few codec frames against whole sentences.

    python -m bench.bench_qwen3 [--requests 20] [--python ENV/bin/python] [--models-dir DIR]
        [--model custom_0_6b] [--device auto] [--max-new-tokens 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.speech_daemon import speech_daemon, streamed_speech
from bench.stats import emit, ms, summary, us
from core.engines.tts import SpeechRequest
from core.observability.logging import configure_logging
from core.workers.install import env_dir, env_python
from core.workers.process import WorkerCommand, WorkerProcess
from plugins.tts_qwen3.engine import Qwen3Engine
from tests.support.engines import engine_context
from tests.support.qwen3_env import BUILDER, cached_env_folder

TEST_HANDLER = Path(__file__).resolve().parents[1] / "tests" / "core" / "workers" / "handlers.py"
TEXT = "Hello there, this is a short test. And here is a second sentence."


def find_python(given: str | None) -> Path:
    candidates = [
        given,
        os.environ.get("VOXGATE_TEST_QWEN_PYTHON"),
        str(env_python(cached_env_folder())),
        str(env_python(env_dir("tts_qwen3"))),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise SystemExit("no tts_qwen3 environment: run `voxgate plugins install tts_qwen3`")


# -- 1. the protocol ---------------------------------------------------------------------------


async def protocol_costs(requests: int) -> None:
    worker = WorkerProcess(
        WorkerCommand(name="bench", python=Path(sys.executable), handler=f"{TEST_HANDLER}:create")
    )
    await worker.start()
    try:
        payload = bytes(96_000)
        await worker.call("echo", {}, payload)
        calls = []
        for _ in range(requests * 10):
            started = time.perf_counter()
            await worker.call("echo", {"n": 1}, payload)
            calls.append(time.perf_counter() - started)
        chunks = requests * 10
        started = time.perf_counter()
        count = 0
        async for _ in worker.stream("count", {"n": chunks, "size": 96_000}):
            count += 1
        per_chunk = (time.perf_counter() - started) / count
    finally:
        await worker.stop()
    s = summary(calls)
    emit("protocol (test handler, no model)")
    emit(f"  call round trip with 96 kB each way: p50 {us(s['p50'])}  p90 {us(s['p90'])}")
    emit(f"  streamed 96 kB chunk (1 s of 24 kHz audio): {us(per_chunk)} per chunk")


# -- 2 and 3. the engine proxy in this process, and the daemon over HTTP --------------------


async def direct_request(
    engine: Qwen3Engine, seed: int, stream: dict[str, int] | None = None
) -> tuple[float, float, float, int]:
    """(wall, first audio, model seconds, chunks) for one request through the engine proxy;
    ``stream`` replaces the engine's streaming plan (``{"every": 0}``: whole sentences)."""
    supervisor = engine._supervisor
    assert supervisor is not None
    params, payload = await engine._plan(SpeechRequest(text=TEXT, options={"seed": seed}))
    if stream is not None:
        params["stream"] = stream
    model_seconds: dict[int, float] = {}
    chunks, first = 0, None
    started = time.perf_counter()
    # Each chunk's header carries the time since its sentence began generating in the worker:
    # a sentence's last chunk gives its model time.
    async for message in supervisor.stream("synthesize", params, payload):
        if first is None:
            first = time.perf_counter() - started
        header = message.header["value"]
        model_seconds[int(header["piece"])] = float(header["seconds"])
        chunks += 1
    wall = time.perf_counter() - started
    return wall, first or wall, sum(model_seconds.values()), chunks


async def streaming_gain(engine: Qwen3Engine, requests: int) -> None:
    """First audio with frame streaming (the engine's settings) against whole sentences."""
    streamed, whole, streamed_walls, whole_walls = [], [], [], []
    for seed in range(1, requests + 1):
        wall, first, _, _ = await direct_request(engine, seed)
        streamed.append(first)
        streamed_walls.append(wall)
        wall, first, _, _ = await direct_request(engine, seed, {"every": 0})
        whole.append(first)
        whole_walls.append(wall)
    s, w = summary(streamed), summary(whole)
    sw, ww = summary(streamed_walls), summary(whole_walls)
    emit("frame streaming against whole sentences (same requests, alternating)")
    emit(
        f"  first audio  streamed p50 {ms(s['p50'])}   whole p50 {ms(w['p50'])}"
        f"   x{s['p50'] / w['p50']:.2f}"
    )
    emit(
        f"  wall         streamed p50 {ms(sw['p50'])}   whole p50 {ms(ww['p50'])}"
        f"   x{sw['p50'] / ww['p50']:.2f}"
    )


async def engine_and_daemon(models: Path, settings: dict[str, object], requests: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="qwen-bench-"))
    context = engine_context("qwen", root / "data", models)
    engine = Qwen3Engine(Qwen3Engine.Settings.model_validate(settings), context)
    started = time.perf_counter()
    await engine.load()
    emit(f"engine load (worker start + model load): {ms(time.perf_counter() - started)}")
    direct_walls, firsts, overheads, chunk_overheads = [], [], [], []
    http_walls, http_firsts = [], []
    try:
        with speech_daemon(root, "qwen", "qwen3", settings, models) as url:
            async with httpx.AsyncClient() as client:
                # Alternate the two paths with the same seed (the same work), so load on the
                # machine hits both alike; the first round only warms up.
                for seed in range(requests + 1):
                    wall, first, model_seconds, chunks = await direct_request(engine, seed)
                    body = {"input": TEXT, "response_format": "pcm", "seed": seed}
                    http_first, http_wall = await streamed_speech(client, url, body)
                    if seed == 0:
                        continue
                    direct_walls.append(wall)
                    firsts.append(first)
                    overheads.append(wall - model_seconds)
                    chunk_overheads.append((wall - model_seconds) / chunks)
                    http_walls.append(http_wall)
                    http_firsts.append(http_first)
        info = engine._supervisor.info if engine._supervisor else {}
        await streaming_gain(engine, requests)
    finally:
        await engine.close()
    emit(
        f"engine via worker ({info.get('device')}, {info.get('dtype')}, "
        f"{requests} requests of 2 sentences)"
    )
    w, f = summary(direct_walls), summary(firsts)
    o, c = summary(overheads), summary(chunk_overheads)
    emit(f"  wall per request      p50 {ms(w['p50'])}  p90 {ms(w['p90'])}")
    emit(f"  first audio           p50 {ms(f['p50'])}  p90 {ms(f['p90'])}")
    emit(f"  worker overhead/req   p50 {ms(o['p50'])}  p90 {ms(o['p90'])}  (wall - model time)")
    emit(f"  worker overhead/chunk p50 {ms(c['p50'])}  p90 {ms(c['p90'])}")
    emit(f"  model share of wall   {1 - o['p50'] / w['p50']:.4f}")
    h, hf = summary(http_walls), summary(http_firsts)
    ratios = sorted(b / a for a, b in zip(direct_walls, http_walls, strict=True))
    emit("daemon over HTTP (streamed pcm), same requests, alternating with the direct ones")
    emit(f"  wall per request      p50 {ms(h['p50'])}  p90 {ms(h['p90'])}")
    emit(f"  first audio           p50 {ms(hf['p50'])}  p90 {ms(hf['p90'])}")
    emit(f"  daemon / direct       p50 {ratios[len(ratios) // 2]:.3f}  (per-round ratio)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--python", default=None)
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--model", default="custom_0_6b")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    args = parser.parse_args()
    configure_logging("warning", "console")
    python = find_python(args.python)
    models = args.models_dir
    if models is None:
        models = Path(tempfile.mkdtemp(prefix="qwen-tiny-"))
        subprocess.run(
            [str(python), str(BUILDER), str(models), "--kind", "custom_voice"],
            check=True,
            capture_output=True,
        )
        emit(f"tiny random-weight checkpoint in {models}")
    settings: dict[str, object] = {
        "python": str(python),
        "model": args.model,
        "device": args.device,
        "max_new_tokens": args.max_new_tokens,
    }
    asyncio.run(protocol_costs(args.requests))
    asyncio.run(engine_and_daemon(models, settings, args.requests))


if __name__ == "__main__":
    main()
