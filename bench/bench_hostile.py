"""A hostile client against a daemon on the shipped config: decode bombs, oversized and slow
request heads (slowloris), oversized batches and histories, input no engine can encode. For
each: the status the daemon answered, how long it took, what it cost in resident memory, and
whether /healthz and a normal chat kept answering meanwhile.

    python -m bench.bench_hostile [--sockets 1100] [--slow-seconds 20] [--config FILE]

Nothing here is a pass/fail test (tests/core/... hold those); these are the figures for the
README's reliability section.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import tempfile
import time
from pathlib import Path

import httpx

from bench.stats import emit, percentile
from tests.support.audio_bombs import silent_flac, wav_declaring
from tests.support.daemon import Daemon
from tests.support.plugin_dist import REPO_ROOT

MIB = 1024 * 1024
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi."}]}


def peak_rss(daemon: Daemon) -> int:
    for line in Path(f"/proc/{daemon.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def mib(value: int) -> str:
    return f"{value / MIB:,.0f} MiB"


async def timed(coro: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = await coro  # type: ignore[misc]
    return time.perf_counter() - started, result


async def post_audio(client: httpx.AsyncClient, data: bytes, name: str) -> int:
    files = {"file": (name, data, "application/octet-stream")}
    response = await client.post(
        "/v1/audio/transcriptions", files=files, data={"model": "whisper-1"}
    )
    return response.status_code


async def bombs(daemon: Daemon, client: httpx.AsyncClient) -> None:
    emit("\n## Decode bombs (/v1/audio/transcriptions)")
    emit("| upload | size | status | seconds | RSS after | peak RSS |")
    emit("|---|---|---|---|---|---|")
    cases = [
        ("120 s 8-ch 192 kHz silent FLAC", silent_flac(120), "bomb.flac"),
        ("WAV declaring 1 Hz", wav_declaring(1), "one-hz.wav"),
        ("WAV declaring 2,147,483,647 Hz", wav_declaring(2_147_483_647), "huge-rate.wav"),
    ]
    for label, data, name in cases:
        seconds, status = await timed(post_audio(client, data, name))
        emit(
            f"| {label} | {len(data) / 1024:,.0f} KiB | {status} | {seconds:.2f} | "
            f"{mib(daemon.rss_bytes())} | {mib(peak_rss(daemon))} |"
        )


async def huge_heads(daemon: Daemon, port: int, count: int, size: int) -> None:
    emit(f"\n## Oversized request heads ({count} connections x {size // MIB} MiB of headers)")
    before = daemon.rss_bytes()

    async def one() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            chunk = b"X-Filler: " + b"a" * 65_000 + b"\r\n"
            sent = 0
            while sent < size:
                writer.write(chunk)
                sent += len(chunk)
                try:
                    await asyncio.wait_for(writer.drain(), 5)
                except (ConnectionError, TimeoutError):
                    break
            line = await asyncio.wait_for(reader.readline(), 10)
            return line.decode(errors="replace").strip() or "closed"
        except (ConnectionError, TimeoutError, OSError):
            return "closed"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    answers = await asyncio.gather(*(one() for _ in range(count)))
    emit(f"answers: {sorted(set(answers))}; RSS {mib(before)} -> {mib(daemon.rss_bytes())}")


async def slowloris(url: str, port: int, sockets: int, seconds: float) -> None:
    emit(f"\n## Slowloris: {sockets} sockets trickling a request head, {seconds:.0f} s")
    writers: list[asyncio.StreamWriter] = []
    opened = refused = 0
    for _ in range(sockets):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            refused += 1
            continue
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        writers.append(writer)
        opened += 1

    async def trickle() -> None:
        while True:
            for writer in writers:
                if not writer.is_closing():
                    writer.write(b"X-a: b\r\n")
            await asyncio.sleep(2)

    trickler = asyncio.create_task(trickle())
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=5) as probe:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                response = await probe.get(url + "/healthz", headers={"connection": "close"})
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures += 1
            except httpx.HTTPError:
                failures += 1
            await asyncio.sleep(0.2)
    trickler.cancel()
    alive = sum(1 for w in writers if not w.is_closing())
    for writer in writers:
        writer.close()
    emit(f"opened {opened}, refused at connect {refused}, still open at the end {alive}")
    if latencies:
        emit(
            f"/healthz during the attack: {len(latencies)} answered, {failures} failed; "
            f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms"
        )
    else:
        emit(f"/healthz during the attack: 0 answered, {failures} failed")


async def heavy_requests(daemon: Daemon, client: httpx.AsyncClient) -> None:
    emit("\n## Oversized work and a normal chat beside it")
    emit("| request | status | seconds |")
    emit("|---|---|---|")
    batch = {"input": ["word " * 180] * 2048, "model": "text-embedding-3-small"}
    history = {**CHAT, "messages": [{"role": "user", "content": "hi"}] * 20_000}
    for label, path, body in (
        ("embeddings 2048 x 900 chars", "/v1/embeddings", batch),
        ("chat with 20,000 messages", "/v1/chat/completions", history),
    ):
        normal = asyncio.create_task(timed(client.post("/v1/chat/completions", json=CHAT)))
        seconds, response = await timed(client.post(path, json=body))
        normal_seconds, normal_response = await normal
        assert isinstance(response, httpx.Response)
        assert isinstance(normal_response, httpx.Response)
        emit(f"| {label} | {response.status_code} | {seconds:.2f} |")
        emit(
            f"| ... normal chat meanwhile | {normal_response.status_code} | {normal_seconds:.2f} |"
        )
    statuses = []
    for _ in range(3):
        # json.dumps escapes the lone surrogate as \ud800, as a buggy client would send it.
        bad = json.dumps({**CHAT, "messages": [{"role": "user", "content": "hi \ud800"}]})
        response = await client.post(
            "/v1/chat/completions", content=bad, headers={"content-type": "application/json"}
        )
        statuses.append(response.status_code)
    after = (await client.post("/v1/chat/completions", json=CHAT)).status_code
    emit(f"| 3 chats with a lone surrogate | {statuses} | |")
    emit(f"| a normal chat right after | {after} | |")
    emit(f"RSS now {mib(daemon.rss_bytes())}, peak {mib(peak_rss(daemon))}")


def long_text(chars: int) -> str:
    """Varied English prose (country profiles from tests/data), cut at a sentence."""
    documents = json.loads((REPO_ROOT / "tests/data/rag/factbook_en.json").read_text())["documents"]
    text = " ".join(str(d["text"]) for d in documents)[:chars]
    return text[: text.rfind(".") + 1]


async def big_but_fair(daemon: Daemon, client: httpx.AsyncClient) -> None:
    """Large requests within every limit: does the memory they needed come back?"""
    emit("\n## Large requests within the limits, then idle")
    emit("| request | status | seconds | RSS after |")
    emit("|---|---|---|---|")
    before = daemon.rss_bytes()
    speech = {"model": "tts-1", "voice": "alloy", "input": long_text(4096)}
    seconds, response = await timed(client.post("/v1/audio/speech", json=speech))
    assert isinstance(response, httpx.Response)
    spoken = response.content
    emit(
        f"| speech, 4,096 characters | {response.status_code} | {seconds:.2f} | "
        f"{mib(daemon.rss_bytes())} |"
    )
    seconds, status = await timed(post_audio(client, spoken, "long.wav"))
    emit(
        f"| transcription of that speech ({len(spoken) / MIB:.1f} MiB WAV) | {status} | "
        f"{seconds:.2f} | {mib(daemon.rss_bytes())} |"
    )
    batch = {"input": ["word " * 200] * 400, "model": "text-embedding-3-small"}
    seconds, response = await timed(client.post("/v1/embeddings", json=batch))
    assert isinstance(response, httpx.Response)
    emit(
        f"| embeddings 400 x 1,000 chars | {response.status_code} | {seconds:.2f} | "
        f"{mib(daemon.rss_bytes())} |"
    )
    await asyncio.sleep(35)
    emit(f"RSS {mib(before)} before, {mib(daemon.rss_bytes())} after 35 s idle")


async def run(config: Path, sockets: int, slow_seconds: float) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, sockets + 512)), hard))
    with tempfile.TemporaryDirectory() as folder:
        daemon = Daemon(config, {"VOXGATE_DATA_DIR": str(Path(folder) / "data")})
        try:
            async with httpx.AsyncClient(base_url=daemon.url, timeout=120) as client:
                await client.post("/v1/chat/completions", json=CHAT)  # warm every path once
                await client.post("/v1/embeddings", json={"input": "warm"})
                await post_audio(client, wav_declaring(16000, data_bytes=32_000), "warm.wav")
                start_rss = daemon.rss_bytes()
                emit(f"# Hostile client vs {config.name} (daemon RSS warm: {mib(start_rss)})")
                await big_but_fair(daemon, client)
                await bombs(daemon, client)
                await huge_heads(daemon, daemon.port, 8, 64 * MIB)
                await slowloris(daemon.url, daemon.port, sockets, slow_seconds)
                await heavy_requests(daemon, client)
                await asyncio.sleep(35)  # past the idle memory trim
                emit(f"\nRSS after 35 s idle: {mib(daemon.rss_bytes())} (warm: {mib(start_rss)})")
        finally:
            daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "config" / "ai_backend.yaml")
    parser.add_argument("--sockets", type=int, default=1100)
    parser.add_argument("--slow-seconds", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(run(args.config, args.sockets, args.slow_seconds))


if __name__ == "__main__":
    main()
