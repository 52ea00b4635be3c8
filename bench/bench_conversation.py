"""The voice round trip end to end: /v1/conversation on the shipped config vs the same engines
called one after another in process (no HTTP, no overlap), in the same run.

The question is spoken by the configured TTS engine first, so the bench needs nothing but the
embedded engines. Also reports the daemon's peak RSS with every embedded engine loaded.

    python -m bench.bench_conversation [--turns 10] [--config config/ai_backend.yaml]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import soundfile as sf

from bench.bench_routing import wait_ready
from bench.stats import emit, ms, summary
from core.audio.chunk import AudioChunk
from core.audio.encode import encode_audio
from core.audio.resample import resample
from core.engines.base import Capability
from core.engines.llm import ChatMessage, ChatRequest, LLMEngine
from core.engines.stt import STTEngine, TranscriptionRequest
from core.engines.tts import SpeechRequest, TTSEngine
from core.observability.logging import configure_logging
from core.runtime.runtime import Runtime
from tests.support.daemon import free_port
from tests.support.plugin_dist import REPO_ROOT

QUESTION = "What is the capital of France?"
STAGES = ("end_to_end", "first_audio", "stt", "llm_total")
SYSTEM = "You are a helpful voice assistant. Answer briefly, in plain spoken sentences."


def _first_engine(runtime: Runtime, capability: Capability) -> str:
    chain = runtime.current.router.chain(capability, None)
    return chain.slots[0].name


async def speak_question(runtime: Runtime) -> bytes:
    slot = runtime.current.slots[_first_engine(runtime, Capability.TTS)]
    await slot.ensure_loaded()
    assert isinstance(slot.engine, TTSEngine)
    chunks = [c async for c in slot.engine.synthesize(SpeechRequest(text=QUESTION))]
    return encode_audio(AudioChunk.concat(chunks), "wav")


async def direct_turns(runtime: Runtime, wav: bytes, turns: int) -> dict[str, list[float]]:
    generation = runtime.current
    stt = generation.slots[_first_engine(runtime, Capability.STT)]
    llm = generation.slots[_first_engine(runtime, Capability.LLM)]
    tts = generation.slots[_first_engine(runtime, Capability.TTS)]
    for slot in (stt, llm, tts):
        await slot.ensure_loaded()
    assert isinstance(stt.engine, STTEngine)
    assert isinstance(llm.engine, LLMEngine)
    assert isinstance(tts.engine, TTSEngine)
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = AudioChunk(resample(samples, rate, stt.engine.sample_rate), stt.engine.sample_rate)
    figures: dict[str, list[float]] = {key: [] for key in STAGES}
    for _ in range(turns + 1):
        t0 = time.perf_counter()
        text = " ".join(
            [s.text.strip() async for s in stt.engine.transcribe(TranscriptionRequest(audio))]
        )
        figures["stt"].append(time.perf_counter() - t0)
        request = ChatRequest(
            messages=(ChatMessage("system", SYSTEM), ChatMessage("user", text)), max_tokens=64
        )
        t1 = time.perf_counter()
        reply = "".join([d.text async for d in llm.engine.chat(request)])
        figures["llm_total"].append(time.perf_counter() - t1)
        first = None
        async for _chunk in tts.engine.synthesize(SpeechRequest(text=reply or "OK.")):
            first = first or time.perf_counter() - t0
        figures["end_to_end"].append(time.perf_counter() - t0)
        figures["first_audio"].append(first or 0.0)
    return {k: v[1:] for k, v in figures.items()}  # the first turn warms caches


def daemon_turns(url: str, wav: bytes, turns: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {key: [] for key in STAGES}
    with httpx.Client(base_url=url, timeout=120) as client:
        for index in range(turns + 1):
            t0 = time.perf_counter()
            response = client.post(
                "/v1/conversation",
                files={"file": ("q.wav", wav, "audio/wav")},
                data={"system_prompt": SYSTEM, "max_tokens": "64", "response_format": "wav"},
            )
            elapsed = time.perf_counter() - t0
            response.raise_for_status()
            body = response.json()
            if index == 0:
                emit(f"  transcript: {body['transcript']['text']!r}")
                emit(f"  reply:      {body['reply']['text']!r}")
                continue
            latency = body["latency_ms"]
            figures["end_to_end"].append(elapsed)
            figures["first_audio"].append((latency["tts_first_audio"] or 0) / 1000)
            figures["stt"].append((latency["stt"] or 0) / 1000)
            # The daemon's marks count from the start of the turn.
            llm_seconds = ((latency["llm_total"] or 0) - (latency["stt"] or 0)) / 1000
            figures["llm_total"].append(llm_seconds)
    return figures


def rss_mib(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in status.splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "config" / "ai_backend.yaml")
    args = parser.parse_args()
    configure_logging("warning")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("VOXGATE_DATA_DIR", str(Path(tmp) / "data"))

        async def in_process() -> tuple[bytes, dict[str, list[float]]]:
            runtime = Runtime(args.config)
            await runtime.start()
            try:
                wav = await speak_question(runtime)
                return wav, await direct_turns(runtime, wav, args.turns)
            finally:
                await runtime.shutdown(5)

        wav, direct = asyncio.run(in_process())
        port = free_port()
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "core.cli.main",
                "serve",
                "--config",
                str(args.config),
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, daemon)
            emit(f"conversation, {args.turns} turns, question {QUESTION!r}")
            through = daemon_turns(url, wav, args.turns)
            rss, peak = rss_mib(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(30)
    d, h = summary(direct["end_to_end"]), summary(through["end_to_end"])
    df, hf = summary(direct["first_audio"]), summary(through["first_audio"])
    emit("  engines one after another, in process")
    emit(f"    end to end p50 {ms(d['p50'])}   first audio p50 {ms(df['p50'])}")
    emit("  POST /v1/conversation on the daemon (reply spoken sentence by sentence)")
    emit(f"    end to end p50 {ms(h['p50'])}   first audio p50 {ms(hf['p50'])}   (goal <= 1.2 s)")
    stages = ("stt", "llm_total")
    emit(
        "  stages p50, direct / daemon: "
        + ", ".join(
            f"{k} {ms(summary(direct[k])['p50'])} / {ms(summary(through[k])['p50'])}"
            for k in stages
        )
    )
    emit(f"  ratio daemon/direct: end to end x{h['p50'] / d['p50']:.2f}")
    emit(f"  first audio x{hf['p50'] / df['p50']:.2f}")
    emit(f"  daemon RSS after the turns {rss:.0f} MiB, peak {peak:.0f} MiB   (goal <= 1024 MiB)")


if __name__ == "__main__":
    main()
