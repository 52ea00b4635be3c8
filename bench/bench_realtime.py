"""Realtime voice sessions on the shipped engines: voice-to-voice latency and barge-in reaction.

Voice to voice: a question (spoken by the daemon's own TTS) is streamed to /v1/realtime in real
time, 40 ms per append, then silence; the time runs from sending the append that holds the
question's last voiced sample to receiving the first reply audio. Its parts come from the
daemon's ``realtime.response`` log events: how long the detector took to see the silence, when
the turn ended (the VAD wait), the transcript, the first sentence from the language model and
its first audio (STT, LLM and TTS start speculatively while the silence is awaited). Beside it,
the same question through ``POST /v1/conversation`` (streamed; no VAD wait: the client decides
the user is done), in the same run: every round runs one turn of each kind in a rotating order,
and the ratio to /v1/conversation is the median of the rounds' ratios.

Barge-in: while a long reply is playing (sent 0.5 s ahead of real time, the shipped profile),
another sentence is streamed in; the time runs from sending its first voiced sample to receiving
the reply's last audio.

    python -m bench.bench_realtime [--turns 20] [--barge-ins 10] [--config config/ai_backend.yaml]

The client is a bare WebSocket (websockets) so that it costs the shared CPUs as little as
possible; the load average before and after is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import soundfile as sf
import websockets

from bench.processes import wait_ready
from bench.stats import emit, summary
from core.audio.resample import resample
from tests.support.daemon import free_port, serve_command
from tests.support.plugin_dist import REPO_ROOT

RATE = 24_000
CHUNK = RATE * 2 * 40 // 1000  # 40 ms of pcm16
QUESTION = "What is the capital of France?"
STORY = "Tell me a long story about a brave little dog."
INTERRUPTION = "Please remember to bring a warm jacket and some water."
#: Turn detections measured: (label, the session.update's turn_detection; None: the profile's).
DETECTIONS: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("semantic_vad, eagerness auto (the shipped default)", None),
    ("server_vad 500 ms", {"type": "server_vad", "silence_duration_ms": 500}),
    ("server_vad 300 ms", {"type": "server_vad", "silence_duration_ms": 300}),
    ("semantic_vad, eagerness high", {"type": "semantic_vad", "eagerness": "high"}),
)


@dataclass
class Clip:
    pcm: bytes
    #: Seconds from the start to the first and last sample louder than -34 dBFS.
    voiced_start: float
    voiced_end: float


@dataclass
class Turn:
    total: float
    response_id: str
    #: perf_counter() time the last voiced sample was sent.
    speech_end: float
    parts: dict[str, float] = field(default_factory=dict)


def speak(url: str, text: str) -> Clip:
    reply = httpx.post(
        url + "/v1/audio/speech",
        json={"model": "tts", "input": text, "voice": "alloy", "response_format": "wav"},
        timeout=60,
    )
    reply.raise_for_status()
    samples, rate = sf.read(io.BytesIO(reply.content), dtype="float32")
    samples = resample(np.ascontiguousarray(samples), rate, RATE)
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return Clip(pcm, loud[0] / RATE, (loud[-1] + 1) / RATE)


class Connection:
    """One realtime session; events are read in the background with their arrival times."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[tuple[float, dict[str, Any]]] = []
        #: When :meth:`stream` sent the chunk holding its ``mark``.
        self.mark_sent: float | None = None
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            self.events.append((time.perf_counter(), json.loads(raw)))
            self._new.set()

    async def wait(
        self, kind: str, timeout: float = 120, **match: Any
    ) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for at, event in self.events[seen:]:
                if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                    return at, event
            seen = len(self.events)
            self._new.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), left)

    def first(self, kind: str) -> tuple[float, dict[str, Any]] | None:
        return next(((a, e) for a, e in self.events if e["type"] == kind), None)

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def stream(self, pcm: bytes, mark: float | None = None) -> None:
        """Send ``pcm`` in real time, noting when the chunk holding second ``mark`` went."""
        started = time.perf_counter()
        for index, offset in enumerate(range(0, len(pcm), CHUNK)):
            chunk = pcm[offset : offset + CHUNK]
            audio = base64.b64encode(chunk).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": audio})
            if mark is not None and (offset + len(chunk)) / (RATE * 2) >= mark:
                self.mark_sent, mark = time.perf_counter(), None
            await asyncio.sleep(max(started + (index + 1) * 0.04 - time.perf_counter(), 0))

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()


async def open_session(url: str, detection: dict[str, Any] | None) -> Connection:
    ws = await websockets.connect(
        url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime", max_size=None
    )
    connection = Connection(ws)
    await connection.wait("session.created")
    if detection is not None:
        await connection.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"turn_detection": detection}}},
            }
        )
        await connection.wait("session.updated")
    return connection


async def realtime_turn(url: str, question: Clip, detection: dict[str, Any] | None) -> Turn:
    connection = await open_session(url, detection)
    try:
        await connection.stream(question.pcm, question.voiced_end)
        speech_end = connection.mark_sent
        assert speech_end is not None
        silence = asyncio.create_task(connection.stream(b"\x00" * (RATE * 2 * 8)))
        first_at, first = await connection.wait("response.output_audio.delta")
        # The rest of the reply is not needed: stop it (it would play in real time).
        await connection.send({"type": "response.cancel"})
        await connection.wait("response.done")
        silence.cancel()
        return Turn(first_at - speech_end, first["response_id"], speech_end)
    finally:
        await connection.close()


async def barge_in(url: str, story: Clip, interruption: Clip) -> float:
    connection = await open_session(url, None)
    try:
        await connection.stream(story.pcm)
        waiting = asyncio.create_task(connection.stream(b"\x00" * (RATE * 2 * 10)))
        _, first = await connection.wait("response.output_audio.delta")
        waiting.cancel()
        reply = first["response_id"]
        await connection.stream(b"\x00" * (RATE * 2))  # a second of the reply plays
        talking = asyncio.create_task(
            connection.stream(
                interruption.pcm + b"\x00" * (RATE * 2 * 3), interruption.voiced_start
            )
        )
        _, done = await connection.wait("response.done")
        talking.cancel()
        assert done["response"]["id"] == reply, "the reply ended before it was interrupted"
        assert done["response"]["status"] == "cancelled", done["response"]["status"]
        speech_sent = connection.mark_sent
        assert speech_sent is not None
        last = max(
            at
            for at, event in connection.events
            if event["type"] == "response.output_audio.delta" and event["response_id"] == reply
        )
        return last - speech_sent
    finally:
        await connection.close()


def conversation_turn(url: str, question: Clip) -> float:
    buffer = io.BytesIO()
    samples = np.frombuffer(question.pcm, dtype="<i2")
    sf.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
    started = time.perf_counter()
    with httpx.stream(
        "POST",
        url + "/v1/conversation",
        files={"file": ("q.wav", buffer.getvalue(), "audio/wav")},
        data={"stream": "true", "response_format": "pcm"},
        timeout=120,
    ) as response:
        first: float | None = None
        for line in response.iter_lines():
            if first is None and line.startswith("data: ") and "conversation.audio.delta" in line:
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("no audio from /v1/conversation")
    return first


def server_parts(log: Path, turns: list[Turn]) -> None:
    """Fill each turn's parts from the daemon's realtime.response events (milliseconds)."""
    by_id = {}
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"realtime.response"' in line:
            event = json.loads(line)
            by_id[event["response"]] = event
    for turn in turns:
        event = by_id.get(turn.response_id)
        if event is None or event.get("pause_seen_monotonic") is None:
            continue
        # The daemon's clock is the same monotonic clock (perf_counter) on this machine.
        seen = (event["pause_seen_monotonic"] - turn.speech_end) * 1000
        turn.parts = {
            "silence seen": seen,
            "VAD hangover (turn end)": seen + event["confirmed_ms"],
            "STT tail": event["transcript_ms"],
            "LLM first sentence": event["llm_first_sentence_ms"] - event["transcript_ms"],
            "TTS first audio": event["tts_first_audio_ms"] - event["llm_first_sentence_ms"],
            "audio ready": seen + event["tts_first_audio_ms"],
            "sent": seen + event["first_audio_sent_ms"],
            "speculative": 1.0 if event["speculative"] else 0.0,
        }


def report(label: str, turns: list[Turn]) -> None:
    totals = summary([t.total for t in turns])
    p50, p90 = totals["p50"] * 1000, totals["p90"] * 1000
    emit(f"  {label}: voice to voice p50 {p50:.0f} ms, p90 {p90:.0f} ms")
    measured = [t for t in turns if t.parts]
    if measured:

        def median(name: str) -> str:
            return f"{np.median([t.parts[name] for t in measured]):.0f}"

        emit(
            f"    p50 after the last voiced sample: silence seen {median('silence seen')},"
            f" turn ended {median('VAD hangover (turn end)')},"
            f" first audio ready {median('audio ready')}, sent {median('sent')} ms"
        )
        emit(
            f"    parts p50: STT tail {median('STT tail')} (from the silence seen),"
            f" LLM first sentence {median('LLM first sentence')},"
            f" TTS first audio {median('TTS first audio')} ms"
        )
        kept = sum(t.parts["speculative"] for t in measured)
        emit(f"    replies started before the turn ended: {kept:.0f} of {len(measured)}")


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--barge-ins", type=int, default=10)
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "config" / "ai_backend.yaml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "daemon.log"
        port = free_port()
        env = {
            **os.environ,
            "VOXGATE_DATA_DIR": str(Path(tmp) / "data"),
            "VOXGATE_LOGGING__FORMAT": "json",
            "VOXGATE_LOGGING__LEVEL": "info",
            "VOXGATE_RELOAD__WATCH": "false",
        }
        with log.open("wb") as sink:
            daemon = subprocess.Popen(
                serve_command(args.config, port),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, daemon)
            run(url, log, args.turns, args.barge_ins)
        finally:
            daemon.terminate()
            daemon.wait(30)


def run(url: str, log: Path, turns: int, barge_ins: int) -> None:
    emit(f"load average before: {load()} (2 shared cores; other work shows up in these figures)")
    question, story, interruption = (
        speak(url, QUESTION),
        speak(url, STORY),
        speak(url, INTERRUPTION),
    )
    emit(f"realtime voice to voice, {turns} turns each, question {QUESTION!r}")
    # Each round runs one turn of every kind, in a rotating order, so that all kinds see the
    # same moments of a busy machine; the first two rounds warm up.
    kinds = [label for label, _ in DETECTIONS] + ["conversation"]
    detections = dict(DETECTIONS)
    realtime: dict[str, list[Turn]] = {label: [] for label, _ in DETECTIONS}
    through: list[float] = []
    for round_index in range(turns + 2):
        order = kinds[round_index % len(kinds) :] + kinds[: round_index % len(kinds)]
        for kind in order:
            if kind == "conversation":
                seconds = conversation_turn(url, question)
                if round_index >= 2:
                    through.append(seconds)
                continue
            turn = asyncio.run(realtime_turn(url, question, detections[kind]))
            if round_index >= 2:
                realtime[kind].append(turn)
    conv = summary(through)
    for label, measured in realtime.items():
        server_parts(log, measured)
        report(label, measured)
        paired = [t.total / c for t, c in zip(measured, through, strict=True)]
        emit(f"    x{np.median(paired):.2f} of /v1/conversation (median of the rounds' ratios)")
    emit(
        "  POST /v1/conversation (stream=true), same question: first audio"
        f" p50 {conv['p50'] * 1000:.0f} ms, p90 {conv['p90'] * 1000:.0f} ms"
        " (from the request; no VAD wait)"
    )
    emit("  goal: p50 <= 450 ms including the VAD silence wait")
    reactions = [asyncio.run(barge_in(url, story, interruption)) for _ in range(barge_ins)]
    r = summary(reactions)
    emit(
        f"barge-in, {barge_ins} interruptions: speech start -> last reply audio"
        f" p50 {r['p50'] * 1000:.0f} ms, p90 {r['p90'] * 1000:.0f} ms (goal p50 <= 150 ms)"
    )
    emit(f"load average after: {load()}")


if __name__ == "__main__":
    main()
