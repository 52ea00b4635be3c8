"""Chat LLM: time to first token and decode speed on SmolLM2-135M, four ways in one run.

1. llama-cpp-python called directly in this process (``Llama.create_chat_completion``, streamed),
   with the engine's settings: its compute thread pool and its token sampler attached to the
   ``Llama`` exactly as the engine attaches them;
2. voxgate's ``llama_cpp`` engine called directly in this process (``engine.chat``);
3. a voxgate daemon over HTTP (``POST /v1/chat/completions``, SSE);
4. llama-cpp-python's own OpenAI server (``python -m llama_cpp.server``) over HTTP (SSE), a peer
   shown for information: it cannot take the pool or the sampler, so it runs the library's
   defaults (compute threads started for every token, the library's sampler chain).

Paths 1-3 run the model with the same settings (threads, context, flash attention, compute
pool, sampler); the goal is judged on one ratio, the daemon's median against path 1's median.

Both servers are read by a bare HTTP/1.1 client (bench/raw_http.py), so the figures are the
servers' own: httpx's per-chunk work runs on the same two cores as llama.cpp and slows decoding
down by itself (``--httpx`` adds a row with the daemon read through httpx, on its own topics).

Every path gets the same prompts, ``max_tokens``, greedy decoding (temperature 0), thread
count and flash-attention setting, in alternating rounds so machine noise hits all alike (each
round starting with the next path). Each round asks about a new topic, so the first token
includes evaluating the new user turn (the system turn stays cached, as in a conversation). Time
to first token runs from sending the request to the first text; decode speed is
(tokens - 1) / (last token time - first token time).

    python -m bench.bench_llm [--rounds 10] [--max-tokens 64] [--threads 2] [--no-server] [--httpx]
                             [--no-flash-attn]

Path 4 needs llama-cpp-python's server extra (fastapi, sse-starlette, starlette-context).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.processes import stop
from bench.raw_http import stream_lines
from bench.scratch import scratch_folder
from bench.stats import emit, ms, summary
from core.engines.base import EngineContext
from core.engines.llm import ChatMessage, ChatRequest
from plugins.llm_local import samplers
from plugins.llm_local.compute_pool import ComputePool
from plugins.llm_local.engine import LlamaCppEngine
from plugins.llm_local.loaded_model import built_with_openmp
from plugins.llm_local.model_file import packaged_model
from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import daemon_process, free_port
from tests.support.engines import NoServices

SYSTEM = "You are a helpful assistant."
TOPICS = [
    "a dragon who is afraid of heights",
    "a lighthouse keeper and a lost ship",
    "a robot who learns to paint",
    "a cat that runs a bakery",
    "two friends crossing a desert",
    "a city where it never stops raining",
    "a girl who finds a map in a library book",
    "an old clockmaker and his last clock",
    "a fox who wants to fly",
    "a train that travels between stars",
    "a gardener who grows giant pumpkins",
    "a knight who is scared of the dark",
]
WARMUP_TOPIC = "a snowman who visits the beach"
# llama.cpp's sampling knobs, spelled out so all four paths use the same ones.
SAMPLING = {"top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1}
TOKENS_PER_SECOND_GOAL = 100.0
RATIO_GOAL = 1.05
HTTPX_ROW = "daemon via httpx"


def messages_for(topic: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Write a long story about {topic}."},
    ]


@dataclass
class Run:
    """One reply: when each text piece arrived, relative to the request."""

    first: float = 0.0
    last: float = 0.0
    tokens: int = 0
    text: list[str] = field(default_factory=list)

    def piece(self, started: float, text: str) -> None:
        self.at(time.perf_counter() - started, text)

    def at(self, seconds: float, text: str) -> None:
        """A piece that arrived ``seconds`` after the request."""
        if not self.tokens:
            self.first = seconds
        self.last = seconds
        self.tokens += 1
        self.text.append(text)

    @property
    def decode_rate(self) -> float:
        span = self.last - self.first
        return (self.tokens - 1) / span if span > 0 else float("nan")


# -- the four paths ---------------------------------------------------------------------------


def llama_direct(llama: Any, topic: str, max_tokens: int) -> Run:
    """In a fresh thread, as the engine does: llama.cpp's OpenMP workers belong to the calling
    thread, and two teams alive in one process on two cores slow both down about threefold."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(_llama_direct, llama, topic, max_tokens).result()


def _llama_direct(llama: Any, topic: str, max_tokens: int) -> Run:
    run = Run()
    started = time.perf_counter()
    stream = llama.create_chat_completion(
        messages_for(topic), max_tokens=max_tokens, temperature=0, stream=True, **SAMPLING
    )
    for chunk in stream:
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            run.piece(started, text)
    return run


async def engine_direct(engine: LlamaCppEngine, topic: str, max_tokens: int) -> Run:
    request = ChatRequest(
        messages=(
            ChatMessage("system", SYSTEM),
            ChatMessage("user", messages_for(topic)[1]["content"]),
        ),
        temperature=0,
        top_p=SAMPLING["top_p"],
        max_tokens=max_tokens,
        extra={k: v for k, v in SAMPLING.items() if k != "top_p"},
    )
    run = Run()
    started = time.perf_counter()
    async for delta in engine.chat(request):
        if delta.text:
            run.piece(started, delta.text)
    return run


def chat_body(model: str, topic: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": model,
        "messages": messages_for(topic),
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        **SAMPLING,
    }


def sse_text(line: str) -> str | None:
    """The content of one server-sent chat chunk line, if it carries any."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return None
    choices = json.loads(line[6:]).get("choices") or [{}]
    text = choices[0].get("delta", {}).get("content")
    return str(text) if text else None


def over_http(client: httpx.Client, model: str, topic: str, max_tokens: int) -> Run:
    """Through httpx, as an application would."""
    run = Run()
    started = time.perf_counter()
    body = chat_body(model, topic, max_tokens)
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            text = sse_text(line)
            if text:
                run.piece(started, text)
    return run


def over_socket(url: str, model: str, topic: str, max_tokens: int) -> Run:
    """Through a bare HTTP/1.1 client: the server's own cost, without httpx's per-chunk work
    competing with llama.cpp for the same two cores."""
    run = Run()
    body = chat_body(model, topic, max_tokens)
    for seconds, line in stream_lines(url, "/v1/chat/completions", body):
        text = sse_text(line)
        if text:
            run.at(seconds, text)
    return run


# -- servers ----------------------------------------------------------------------------------


def server_available() -> bool:
    return all(
        importlib.util.find_spec(m) for m in ("fastapi", "sse_starlette", "starlette_context")
    )


@dataclass
class LlamaServer:
    url: str
    process: subprocess.Popen[bytes]


def start_llama_server(model: Path, threads: int, flash_attn: bool, log_path: Path) -> LlamaServer:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--n_ctx",
        "2048",
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--flash_attn",
        str(flash_attn),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--verbose",
        "False",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/v1/models", timeout=1).status_code == 200:
                return LlamaServer(url, process)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("llama_cpp.server did not start")
        time.sleep(0.2)


# -- the comparison ---------------------------------------------------------------------------


def topics(rounds: int) -> Iterator[str]:
    for index in range(rounds):
        yield TOPICS[index % len(TOPICS)] + ("" if index < len(TOPICS) else f" (part {index})")


@dataclass(frozen=True)
class Figures:
    """One path's figures: typical (median) and best (least disturbed by other processes)."""

    first_p50: float
    first_best: float
    rate_p50: float
    rate_best: float
    tokens: float

    @classmethod
    def of(cls, runs: list[Run]) -> Figures:
        firsts = [r.first for r in runs]
        rates = [r.decode_rate for r in runs]
        return cls(
            first_p50=summary(firsts)["p50"],
            first_best=min(firsts),
            rate_p50=summary(rates)["p50"],
            rate_best=max(rates),
            tokens=sum(r.tokens for r in runs) / len(runs),
        )


def report(label: str, figures: dict[str, Figures], baseline: str, replies: int) -> None:
    base = figures[baseline]
    emit(f"{label}, {replies} replies per path (median / best; ratios of medians to {baseline}):")
    for name, fig in figures.items():
        # Time per token as a ratio, so that > 1 means slower, like the first-token ratio.
        emit(
            f"  {name:<18} first token {ms(fig.first_p50)} / {ms(fig.first_best)}"
            f"  x{fig.first_p50 / base.first_p50:.2f}"
            f"   decode {fig.rate_p50:6.1f} / {fig.rate_best:6.1f} tok/s"
            f"  time/token x{base.rate_p50 / fig.rate_p50:.2f}"
            f"   ({fig.tokens:.0f} tokens per reply)"
        )


def check_same_text(runs: dict[str, list[Run]]) -> None:
    texts = {name: "".join(rs[0].text) for name, rs in runs.items() if name != HTTPX_ROW}
    same = len(set(texts.values())) == 1
    emit(f"  same greedy reply on every path: {'yes' if same else 'NO'}")
    if not same:
        for name, text in texts.items():
            emit(f"    {name}: {text[:80]!r}")


def goals(figures: dict[str, Figures], daemon: str, direct: str) -> None:
    ours, theirs = figures[daemon], figures[direct]
    emit("goals (ratio of the medians; best in brackets, for information):")
    emit(
        f"  {daemon} decode {ours.rate_p50:.1f} [{ours.rate_best:.1f}] tok/s"
        f" (goal >= {TOKENS_PER_SECOND_GOAL:.0f}): "
        f"{'met' if ours.rate_p50 >= TOKENS_PER_SECOND_GOAL else 'NOT met'}"
    )
    ratios = {
        "first token": (ours.first_p50 / theirs.first_p50, ours.first_best / theirs.first_best),
        "time per token": (theirs.rate_p50 / ours.rate_p50, theirs.rate_best / ours.rate_best),
    }
    for what, (typical, best) in ratios.items():
        emit(
            f"  {daemon}/{direct} {what} x{typical:.2f} [x{best:.2f}]"
            f" (goal <= {RATIO_GOAL}): {'met' if typical <= RATIO_GOAL else 'NOT met'}"
        )


async def compare(args: argparse.Namespace, workdir: Path) -> None:
    import llama_cpp

    model = packaged_model()
    emit(
        f"model {model.name}, {args.threads} threads, flash attention "
        f"{'on' if args.flash_attn else 'off'}, max_tokens {args.max_tokens}, greedy"
    )
    emit(f"load average at the start: {_load_average()} (other processes skew every figure)")
    # Every path runs the model with the same settings.
    settings = {"n_threads": args.threads, "n_ctx": 2048, "flash_attn": args.flash_attn}
    llama = llama_cpp.Llama(
        str(model),
        n_ctx=2048,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        flash_attn=args.flash_attn,
        verbose=False,
    )
    # The engine's own settings on the library called directly (see LoadedModel.load).
    samplers.install(llama)
    pool = None if built_with_openmp() else ComputePool.attach(llama, args.threads, 0)
    emit(f"compute thread pool on the direct path and the engine: {'yes' if pool else 'no'}")
    context = EngineContext("smollm2", workdir / "data", workdir / "models", NoServices())
    engine = LlamaCppEngine(LlamaCppEngine.Settings.model_validate(settings), context)
    await engine.load()

    config = workdir / "bench.yaml"
    engines = {"smollm2": engine_entry("llm", "llama_cpp", settings)}
    config.write_text(daemon_config(engines), encoding="utf-8")
    server = None
    if args.server:
        server = start_llama_server(
            model, args.threads, args.flash_attn, workdir / "llama-server.log"
        )
    try:
        with (
            daemon_process(config) as daemon_url,
            httpx.Client(base_url=daemon_url, timeout=120) as daemon,
        ):
            tokens = args.max_tokens
            paths: dict[str, Callable[[str], Any]] = {
                "llama_cpp direct": lambda t: llama_direct(llama, t, tokens),
                "engine direct": lambda t: engine_direct(engine, t, tokens),
                "voxgate daemon": lambda t: over_socket(daemon_url, "smollm2", t, tokens),
            }
            if server is not None:
                paths["llama_cpp.server"] = lambda t: over_socket(server.url, "smollm2", t, tokens)
            if args.httpx:
                # A topic of its own: llama.cpp would reuse the prompt the daemon has just seen.
                paths[HTTPX_ROW] = lambda t: over_http(daemon, "smollm2", f"{t}, again", tokens)
            runs: dict[str, list[Run]] = {name: [] for name in paths}
            for path in paths.values():  # warm every path (and its prompt cache) once
                await _call(path, WARMUP_TOPIC)
            order = list(paths.items())
            for round_number, topic in enumerate(topics(args.rounds)):
                # Each round starts with the next path: a path runs a few ms slower right after
                # some others (caches, wake-ups), and none should always follow the same one.
                start = round_number % len(order)
                for name, path in order[start:] + order[:start]:
                    runs[name].append(await _call(path, topic))
            figures = {name: Figures.of(replies) for name, replies in runs.items()}
            report("SmolLM2-135M Q4_1, streamed", figures, "llama_cpp direct", args.rounds)
            check_same_text(runs)
            goals(figures, "voxgate daemon", "llama_cpp direct")
            # The HTTP layer's own share: the same engine in process against the daemon.
            served, in_process = figures["voxgate daemon"], figures["engine direct"]
            emit(
                f"  (daemon/engine direct: first token x"
                f"{served.first_p50 / in_process.first_p50:.2f}, time per token x"
                f"{in_process.rate_p50 / served.rate_p50:.2f})"
            )
            emit(f"load average at the end: {_load_average()}")
    finally:
        if server is not None:
            stop(server.process)
        await engine.close()
        llama.close()
        if pool is not None:  # after the context that points to it
            pool.free()


def _load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


async def _call(path: Callable[[str], Any], topic: str) -> Run:
    result = path(topic)
    if asyncio.iscoroutine(result):
        result = await result
    assert isinstance(result, Run)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-server", dest="server", action="store_false")
    parser.add_argument(
        "--no-flash-attn",
        dest="flash_attn",
        action="store_false",
        help="run every path without llama.cpp's fused attention (the engine's default is on)",
    )
    parser.add_argument("--httpx", action="store_true", help="also read the daemon via httpx")
    args = parser.parse_args()
    if args.server and not server_available():
        emit("llama_cpp.server: its extra (fastapi, sse-starlette, starlette-context) is missing")
        args.server = False
    with scratch_folder() as workdir:
        asyncio.run(compare(args, workdir))


if __name__ == "__main__":
    main()
