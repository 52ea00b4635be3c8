"""The voice round trip end to end: /v1/conversation on the shipped config vs the same engines
driven in process by an equally overlapped pipeline, in the same run.

The daemon starts speaking the reply as soon as the model has written its first sentence; the
in-process pipeline does the same (the reply streamed into the same sentence segmenter, each
sentence spoken by a second task while the model goes on), with no HTTP, router or encoding, so
the ratio is what the daemon adds around the same work. Turns alternate between the two.

The question is spoken by the configured TTS engine first, so the bench needs nothing but the
embedded engines. Memory: after the turns, every engine the config routes is made to load
(embeddings, the RAG store, the VAD of live transcription, besides STT, LLM and TTS), checked in
``/control/status``, and the daemon's RSS is read; then ``--soak`` more turns run, with
embeddings, RAG and live transcription requests among them, and the RSS growth is reported.
The first start makes the one-time exports (the embedder's ONNX file, with torch): a second
daemon started on the same data, with every engine loaded again, gives the steady figure.

    python -m bench.bench_conversation [--turns 10] [--soak 40] [--config config/ai_backend.yaml]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import soundfile as sf

from bench.processes import wait_ready
from bench.scratch import scratch_folder
from bench.stats import emit, ms, summary
from core.audio.chunk import AudioChunk
from core.audio.encode import encode_audio
from core.audio.resample import resample
from core.engines.base import Capability
from core.engines.llm import ChatMessage, ChatRequest, LLMEngine
from core.engines.stt import STTEngine, TranscriptionRequest
from core.engines.tts import SpeechRequest, TTSEngine
from core.runtime.runtime import Runtime
from core.text.segment import SentenceSegmenter
from tests.support.daemon import free_port
from tests.support.plugin_dist import REPO_ROOT

QUESTION = "What is the capital of France?"
STAGES = ("end_to_end", "first_audio", "stt", "llm_total")
#: As the daemon's turn does it (core/api/turn.py): short sentences wait for the next one.
MIN_SENTENCE_CHARS = 12
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


async def loaded_engines(runtime: Runtime) -> tuple[STTEngine, LLMEngine, TTSEngine]:
    generation = runtime.current
    slots = [
        generation.slots[_first_engine(runtime, capability)]
        for capability in (Capability.STT, Capability.LLM, Capability.TTS)
    ]
    for slot in slots:
        await slot.ensure_loaded()
    stt, llm, tts = (slot.engine for slot in slots)
    assert isinstance(stt, STTEngine)
    assert isinstance(llm, LLMEngine)
    assert isinstance(tts, TTSEngine)
    return stt, llm, tts


async def direct_turn(engines: tuple[STTEngine, LLMEngine, TTSEngine], audio: AudioChunk) -> Turn:
    """One turn in process, overlapped as the daemon does it: the reply is cut into sentences as
    it streams, and a second task speaks each one while the model writes the next."""
    stt, llm, tts = engines
    turn = Turn()
    t0 = time.perf_counter()
    text = " ".join([s.text.strip() async for s in stt.transcribe(TranscriptionRequest(audio))])
    turn.stt = time.perf_counter() - t0
    request = ChatRequest(
        messages=(ChatMessage("system", SYSTEM), ChatMessage("user", text)), max_tokens=64
    )
    sentences: asyncio.Queue[str | None] = asyncio.Queue()

    async def speak() -> None:
        while (sentence := await sentences.get()) is not None:
            async for _chunk in tts.synthesize(SpeechRequest(text=sentence)):
                turn.first_audio = turn.first_audio or time.perf_counter() - t0

    speaker = asyncio.create_task(speak())
    segmenter = SentenceSegmenter(min_chars=MIN_SENTENCE_CHARS)
    reply = []
    async for delta in llm.chat(request):
        if delta.text:
            reply.append(delta.text)
            for sentence in segmenter.feed(delta.text):
                sentences.put_nowait(sentence)
    turn.llm_total = time.perf_counter() - t0 - turn.stt
    for sentence in segmenter.flush():
        sentences.put_nowait(sentence)
    sentences.put_nowait(None)
    await speaker
    turn.end_to_end = time.perf_counter() - t0
    turn.reply = "".join(reply).strip()
    return turn


@dataclass
class Turn:
    end_to_end: float = 0.0
    first_audio: float = 0.0
    stt: float = 0.0
    llm_total: float = 0.0
    reply: str = ""
    transcript: str = ""


def daemon_turn(client: httpx.Client, wav: bytes) -> Turn:
    t0 = time.perf_counter()
    response = client.post(
        "/v1/conversation",
        files={"file": ("q.wav", wav, "audio/wav")},
        data={"system_prompt": SYSTEM, "max_tokens": "64", "response_format": "wav"},
    )
    elapsed = time.perf_counter() - t0
    response.raise_for_status()
    body = response.json()
    latency = body["latency_ms"]
    return Turn(
        end_to_end=elapsed,
        first_audio=(latency["tts_first_audio"] or 0) / 1000,
        stt=(latency["stt"] or 0) / 1000,
        # The daemon's marks count from the start of the turn.
        llm_total=((latency["llm_total"] or 0) - (latency["stt"] or 0)) / 1000,
        reply=body["reply"]["text"],
        transcript=body["transcript"]["text"],
    )


def load_the_rest(client: httpx.Client, url: str, pcm: bytes) -> None:
    """Requests that load the engines a conversation does not use: embeddings, the RAG store and
    the voice activity detector of live transcription."""
    client.post("/v1/embeddings", json={"input": QUESTION}).raise_for_status()
    document = {"text": "Paris is the capital of France.", "collection": "bench", "id": "paris"}
    client.post("/v1/rag/documents", json=document).raise_for_status()
    query = {"question": QUESTION, "top_k": 3, "collection": "bench"}
    client.post("/v1/rag/query", json=query).raise_for_status()
    from websockets.sync.client import connect

    stream = url.replace("http://", "ws://") + "/v1/audio/transcriptions/stream?sample_rate=16000"
    with connect(stream, open_timeout=30, close_timeout=30) as socket:
        for start in range(0, len(pcm), 3200):
            socket.send(pcm[start : start + 3200])
        socket.send('{"type": "end"}')
        with contextlib.suppress(Exception):
            while True:
                socket.recv(timeout=60)


def engine_states(client: httpx.Client) -> dict[str, str]:
    engines = client.get("/control/status").json()["engines"]
    return {name: str(status["state"]) for name, status in engines.items()}


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
    parser.add_argument("--soak", type=int, default=40, help="turns after the memory reading")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "config" / "ai_backend.yaml")
    args = parser.parse_args()
    with scratch_folder():
        asyncio.run(compare(args))


def start_daemon(config: Path, port: int) -> subprocess.Popen[bytes]:
    serve = ["serve", "--config", str(config), "--port", str(port)]
    return subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", *serve],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def compare(args: argparse.Namespace) -> None:
    runtime = Runtime(args.config)
    await runtime.start()
    port = free_port()
    daemon = start_daemon(args.config, port)
    try:
        wav = await speak_question(runtime)
        engines = await loaded_engines(runtime)
        samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
        rate_in = engines[0].sample_rate
        audio = AudioChunk(resample(samples, rate, rate_in), rate_in)
        pcm = (resample(samples, rate, 16000) * 32767).astype("<i2").tobytes()
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, daemon)
        with httpx.Client(base_url=url, timeout=120) as client:
            await measure(args, engines, audio, wav, pcm, client, url, daemon.pid)
    finally:
        daemon.terminate()
        daemon.wait(30)
        await runtime.shutdown(5)
    # The first start above also made the one-time exports (the embedder's ONNX file, made with
    # torch in the daemon); a daemon started again on the same data finds them made.
    daemon = start_daemon(args.config, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, daemon)
        with httpx.Client(base_url=url, timeout=120) as client:
            daemon_turn(client, wav)
            load_the_rest(client, url, pcm)
            states = engine_states(client)
            rss, peak = rss_mib(daemon.pid)
        loaded = sum(state == "ready" for state in states.values())
        emit(
            f"  restarted on the same data (one-time exports already made), {loaded} engines "
            f"ready: RSS {rss:.0f} MiB, peak {peak:.0f} MiB   (goal <= 1024 MiB)"
        )
    finally:
        daemon.terminate()
        daemon.wait(30)


async def measure(
    args: argparse.Namespace,
    engines: tuple[STTEngine, LLMEngine, TTSEngine],
    audio: AudioChunk,
    wav: bytes,
    pcm: bytes,
    client: httpx.Client,
    url: str,
    pid: int,
) -> None:
    # One turn each first: it warms caches and is not counted.
    warm = daemon_turn(client, wav)
    await direct_turn(engines, audio)
    emit(f"conversation, {args.turns} turns per path (alternating), question {QUESTION!r}")
    emit(f"  transcript: {warm.transcript!r}")
    emit(f"  reply:      {warm.reply!r}")
    direct: list[Turn] = []
    through: list[Turn] = []
    for index in range(args.turns):
        if index % 2:
            direct.append(await direct_turn(engines, audio))
            through.append(daemon_turn(client, wav))
        else:
            through.append(daemon_turn(client, wav))
            direct.append(await direct_turn(engines, audio))

    def p50(turns: list[Turn], key: str) -> float:
        return summary([getattr(t, key) for t in turns])["p50"]

    emit("  the same engines in process, overlapped the same way (no HTTP, no router)")
    emit(
        f"    end to end p50 {ms(p50(direct, 'end_to_end'))}   "
        f"first audio p50 {ms(p50(direct, 'first_audio'))}"
    )
    emit("  POST /v1/conversation on the daemon (reply spoken sentence by sentence)")
    emit(
        f"    end to end p50 {ms(p50(through, 'end_to_end'))}   first audio p50 "
        f"{ms(p50(through, 'first_audio'))}   (goal <= 1.2 s)"
    )
    emit(
        "  stages p50, in process / daemon: "
        + ", ".join(f"{k} {ms(p50(direct, k))} / {ms(p50(through, k))}" for k in STAGES[2:])
    )
    emit(
        f"  ratio daemon/in process: end to end "
        f"x{p50(through, 'end_to_end') / p50(direct, 'end_to_end'):.2f}, first audio "
        f"x{p50(through, 'first_audio') / p50(direct, 'first_audio'):.2f}"
    )

    load_the_rest(client, url, pcm)
    states = engine_states(client)
    emit("  engines: " + ", ".join(f"{name} {state}" for name, state in sorted(states.items())))
    rss, peak = rss_mib(pid)
    emit(
        f"  daemon RSS, every routed engine loaded (first start, one-time exports made): "
        f"{rss:.0f} MiB, peak {peak:.0f} MiB"
    )
    if args.soak:
        for index in range(args.soak):
            daemon_turn(client, wav)
            if index % 10 == 9:
                load_the_rest(client, url, pcm)
        after, peak_after = rss_mib(pid)
        emit(
            f"  soak: {args.soak} more turns (and {args.soak // 10} rounds of embeddings, RAG and "
            f"live transcription): RSS {after:.0f} MiB, growth {after - rss:+.1f} MiB, "
            f"peak {peak_after:.0f} MiB"
        )


if __name__ == "__main__":
    main()
