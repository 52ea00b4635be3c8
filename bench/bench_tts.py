"""Text-to-speech: time to first audio and real-time factor, engine called directly vs the daemon.

For each engine (hibari, and Piper when installed) the same texts are synthesized by the engine
in this process and by a running daemon over ``POST /v1/audio/speech`` (streamed ``pcm``), in
round-robin so machine noise hits each path alike (each round starting with the next path). The
daemon is timed with a bare HTTP/1.1 client (bench/raw_http.py), so the ratio is the daemon's own
cost; a second row gives the same requests through httpx, whose own overhead is a millisecond or
more here. First audio is when the first samples are in hand (the first chunk from the engine,
the first body bytes over HTTP); RTF is the whole synthesis time over the audio's length.

    python -m bench.bench_tts [--rounds 15] [--gap 0] [--engines hibari,piper]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.raw_http import post_json
from bench.scratch import scratch_folder
from bench.stats import emit, ms, summary
from core.engines.tts import SpeechRequest, TTSEngine
from plugins.tts_hibari.engine import HibariEngine
from plugins.tts_piper.engine import PiperEngine
from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import daemon_process
from tests.support.engines import engine_context

ENGINES: dict[str, type[TTSEngine]] = {"hibari": HibariEngine, "piper": PiperEngine}
PACKAGES = {"hibari": "hibari", "piper": "piper"}
TEXTS = {
    "one sentence": "Hello there, how can I help you today?",
    "paragraph": (
        "The morning was cold and bright. We walked along the river for an hour, talking about "
        "the week ahead. Then we stopped for coffee near the old stone bridge. The cafe was "
        "crowded, but we found a table by the window. It was a good start to the day."
    ),
}
FIRST_AUDIO_GOAL = 0.060


@dataclass
class Samples:
    first: list[float] = field(default_factory=list)
    rtf: list[float] = field(default_factory=list)

    def add(self, first: float, rtf: float) -> None:
        self.first.append(first)
        self.rtf.append(rtf)


async def direct(engine: TTSEngine, text: str) -> tuple[float, float]:
    started = time.perf_counter()
    first = 0.0
    seconds = 0.0
    async for chunk in engine.synthesize(SpeechRequest(text=text)):
        if not first:
            first = time.perf_counter() - started
        seconds += chunk.duration
    return first, (time.perf_counter() - started) / seconds


def over_socket(url: str, name: str, text: str) -> tuple[float, float]:
    """The daemon through a bare HTTP/1.1 client: what the daemon itself adds."""
    body = {"model": name, "input": text, "response_format": "pcm"}
    reply = post_json(url, "/v1/audio/speech", body)
    assert reply.status == 200, reply.body[:300]
    rate = int(reply.headers["x-sample-rate"])
    return reply.first_byte, reply.total / (len(reply.body) / 2 / rate)


def over_http(client: httpx.Client, name: str, text: str) -> tuple[float, float]:
    body = {"model": name, "input": text, "response_format": "pcm"}
    started = time.perf_counter()
    first = 0.0
    size = 0
    with client.stream("POST", "/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        rate = int(response.headers["x-sample-rate"])
        for block in response.iter_bytes():
            if block and not first:
                first = time.perf_counter() - started
            size += len(block)
    return first, (time.perf_counter() - started) / (size / 2 / rate)


async def load(name: str, workdir: Path) -> TTSEngine:
    cls = ENGINES[name]
    context = engine_context(name, workdir / "data", workdir / "models")
    engine = cls(cls.Settings(), context)
    await engine.load()
    return engine


async def compare(name: str, url: str, rounds: int, gap: float, workdir: Path) -> None:
    engine = await load(name, workdir)
    with httpx.Client(base_url=url, timeout=60) as client:
        for label, text in TEXTS.items():
            for _ in range(3):  # warm every path
                await direct(engine, text)
                over_socket(url, name, text)
                over_http(client, name, text)
            engine_side, daemon_side, httpx_side = Samples(), Samples(), Samples()

            async def by_socket(text: str) -> tuple[float, float]:
                return over_socket(url, name, text)

            async def by_httpx(text: str) -> tuple[float, float]:
                return over_http(client, name, text)

            paths: list[tuple[Samples, Callable[[str], Awaitable[tuple[float, float]]]]] = [
                (engine_side, functools.partial(direct, engine)),
                (daemon_side, by_socket),
                (httpx_side, by_httpx),
            ]
            # Round-robin so machine noise hits each path alike, starting each round with the
            # next path: work right after ~0.1 s idle runs 2-3 ms slower on a 15 ms sentence, so
            # a fixed order favours whichever path follows another path's work. ``--gap`` puts
            # the same idle time before every request instead (a daemon answering from idle).
            for round_number in range(rounds):
                start = round_number % len(paths)
                for samples, call in paths[start:] + paths[:start]:
                    await asyncio.sleep(gap)
                    samples.add(*await call(text))
            report(name, label, engine_side, daemon_side, httpx_side)
    await engine.close()


def report(
    name: str, label: str, engine_side: Samples, daemon_side: Samples, httpx_side: Samples
) -> None:
    d_first, h_first = summary(engine_side.first), summary(daemon_side.first)
    d_rtf, h_rtf = summary(engine_side.rtf), summary(daemon_side.rtf)
    x_first, x_rtf = summary(httpx_side.first), summary(httpx_side.rtf)
    goal = f"   (goal <= {ms(FIRST_AUDIO_GOAL)})" if name == "hibari" else ""
    emit(f"{name}, {label} ({len(engine_side.first)} rounds, p50 / p90):")
    emit(
        f"  first audio  direct {ms(d_first['p50'])} / {ms(d_first['p90'])}   "
        f"daemon {ms(h_first['p50'])} / {ms(h_first['p90'])}   "
        f"ratio x{h_first['p50'] / d_first['p50']:.2f}{goal}"
    )
    emit(
        f"  RTF          direct {d_rtf['p50']:.4f} / {d_rtf['p90']:.4f}     "
        f"daemon {h_rtf['p50']:.4f} / {h_rtf['p90']:.4f}     "
        f"ratio x{h_rtf['p50'] / d_rtf['p50']:.2f}"
    )
    emit(
        f"  with httpx as the client: first audio {ms(x_first['p50'])} "
        f"(x{x_first['p50'] / d_first['p50']:.2f}), RTF {x_rtf['p50']:.4f} "
        f"(x{x_rtf['p50'] / d_rtf['p50']:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--gap", type=float, default=0.0, help="idle seconds before every timed request"
    )
    parser.add_argument("--engines", default="hibari,piper")
    args = parser.parse_args()
    wanted = [n for n in args.engines.split(",") if n]
    names = [n for n in wanted if importlib.util.find_spec(PACKAGES[n]) is not None]
    for skipped in sorted(set(wanted) - set(names)):
        emit(f"{skipped}: not installed, left out")
    with scratch_folder() as workdir:
        config = workdir / "bench.yaml"
        config.write_text(daemon_config({n: engine_entry("tts", n) for n in names}))
        with daemon_process(config) as url:
            for name in names:
                asyncio.run(compare(name, url, args.rounds, args.gap, workdir))


if __name__ == "__main__":
    main()
