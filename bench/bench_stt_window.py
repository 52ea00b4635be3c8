"""Short spoken requests: Whisper's full 30 s window against the engine's shorter window.

The same tiny.en engine is loaded twice in this process, once with ``short_window: off``
(faster-whisper's own behaviour: every clip padded to 30 s) and once with the 10 s window on
every request (``short_window: all``; the shipped default, ``live``, uses it for realtime turns
and live transcription). Each round transcribes one request with both, alternating which goes
first, clean and with white noise added. Printed: latency p50/p90 for each, the paired
per-request ratio, word error rate for each, and how often the short window was decoded again
with the full one.

Then the same comparison on recorded human speech, WER over each set together: five LibriVox
sentences read aloud (shipped in tests/data/speech/librivox), and the utterances of a
two-speaker telephone conversation with its reference transcript (see bench/human_speech.py;
fetched once from the package registry), each cut out by its transcript's times.

    python -m bench.bench_stt_window [--rounds 2] [--noise 0.02] [--no-human]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from bench import human_speech
from bench.stats import emit, summary
from core.audio.chunk import AudioChunk
from core.engines.stt import TranscriptionRequest, collect_transcription
from plugins.stt_whisper.engine import FasterWhisperEngine
from tests.support.engines import build_engine as build
from tests.support.human_speech import librivox_clips
from tests.support.speech import at_rate, joined, quiet, speech
from tests.support.wer import word_error_rate

RATE = 16_000
#: Requests of the kind a voice assistant hears: commands and questions, one to eight seconds.
REQUESTS = (
    "What is the capital of France?",
    "Okay.",
    "Yes please.",
    "Turn off the kitchen lights.",
    "Set a timer for ten minutes.",
    "What's the weather like tomorrow in Berlin?",
    "I would like to book a table for two people at seven tonight.",
    "Can you tell me a joke about cats?",
    "Remind me to call my mother when I get home.",
    "Stop.",
    "Play some relaxing music in the bedroom.",
    "Who wrote the novel Pride and Prejudice?",
    "My order arrived damaged and I want a refund as soon as possible.",
    "Please explain how photosynthesis works in simple words, because my daughter asked me.",
    "Thank you very much, that was really helpful.",
    "What time is it?",
)


def request_audio(text: str, noise: float, seed: int) -> AudioChunk:
    clip = joined(quiet(0.2, 24_000), speech(text, seed=seed), quiet(0.2, 24_000))
    samples = at_rate(clip, RATE).samples.copy()
    if noise:
        rng = np.random.default_rng(seed * 1000 + len(text))
        samples += rng.standard_normal(len(samples)).astype(np.float32) * np.float32(noise)
    return AudioChunk(samples, RATE)


async def timed(engine: FasterWhisperEngine, audio: AudioChunk) -> tuple[float, str]:
    start = time.perf_counter()
    result = await collect_transcription(
        engine.transcribe(TranscriptionRequest(audio=audio)), audio.duration
    )
    return time.perf_counter() - start, result.text


def human_sets() -> list[tuple[str, list[tuple[str, AudioChunk]]]]:
    """(title, [(words spoken, clip)]) for each set of recorded speech at hand."""
    shipped = [(c.text, at_rate(c.audio, RATE)) for c in librivox_clips()]
    sets = [(f"{len(shipped)} LibriVox sentences read aloud (tests/data)", shipped)]
    try:
        audio, utterances = human_speech.recording()
    except (OSError, subprocess.CalledProcessError) as exc:  # no package registry at hand
        emit(f"(the telephone conversation could not be fetched: {exc})")
        return sets
    audio = at_rate(audio, RATE)
    cut = [(u.text, human_speech.cut(audio, u.start, u.end)) for u in utterances]
    return [*sets, (f"{len(cut)} utterances of a telephone conversation", cut)]


async def human_rows(full: FasterWhisperEngine, short: FasterWhisperEngine) -> None:
    for title, clips in human_sets():
        said: dict[str, list[str]] = {"full": [], "short": []}
        times: dict[str, list[float]] = {"full": [], "short": []}
        for index, (_, clip) in enumerate(clips):
            order = [("full", full), ("short", short)]
            if index % 2:
                order.reverse()
            for label, engine in order:
                seconds, text = await timed(engine, clip)
                said[label].append(text)
                times[label].append(seconds)
        reference = " ".join(text for text, _ in clips)
        emit(f"\n# Recorded human speech: {title}")
        emit("| window | p50 ms | WER over all clips |")
        emit("|---|---|---|")
        for label, name in (("full", "30 s (faster-whisper's own)"), ("short", "10 s")):
            emit(
                f"| {name} | {summary(times[label])['p50'] * 1000:.0f} | "
                f"{word_error_rate(reference, ' '.join(said[label])):.3f} |"
            )
        for (text, _), a, b in zip(clips, said["full"], said["short"], strict=True):
            if a != b:
                emit(f"- {text!r}: full {a!r}, short {b!r}")


async def run(rounds: int, noise: float, human: bool) -> None:
    retries: list[str] = []

    def count_retries(_: object, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        if event.get("event") == "stt.full_window_retry":
            retries.append(str(event.get("reason")))
        raise structlog.DropEvent

    structlog.configure(processors=[count_retries])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        full = build(FasterWhisperEngine, {"short_window": "off"}, root, "full")
        short = build(FasterWhisperEngine, {"short_window": "all"}, root, "short")
        await full.load()
        await short.load()
        times: dict[str, list[float]] = {"full": [], "short": []}
        errors: dict[str, list[float]] = {"full": [], "short": []}
        ratios: list[float] = []
        differing: list[str] = []
        for index in range(rounds * 2 * len(REQUESTS)):
            text = REQUESTS[index % len(REQUESTS)]
            level = noise if (index // len(REQUESTS)) % 2 else 0.0
            audio = request_audio(text, level, seed=1 + index // (2 * len(REQUESTS)))
            order = [("full", full), ("short", short)]
            if index % 2:
                order.reverse()
            taken: dict[str, float] = {}
            heard: dict[str, str] = {}
            for label, engine in order:
                seconds, said = await timed(engine, audio)
                taken[label] = seconds
                heard[label] = said
                times[label].append(seconds)
                errors[label].append(word_error_rate(text, said))
            if errors["short"][-1] != errors["full"][-1]:
                differing.append(f"{text!r}: full {heard['full']!r}, short {heard['short']!r}")
            ratios.append(taken["short"] / taken["full"])
        if human:
            await human_rows(full, short)
        await full.close()
        await short.close()
    count = len(ratios)
    if not count:
        return
    emit(f"# Short requests: {count} each ({len(REQUESTS)} texts, clean and noise {noise})")
    emit("| window | p50 ms | p90 ms | mean WER |")
    emit("|---|---|---|---|")
    for label, name in (("full", "30 s (faster-whisper's own)"), ("short", "10 s")):
        figures = summary(times[label])
        emit(
            f"| {name} | {figures['p50'] * 1000:.0f} | {figures['p90'] * 1000:.0f} | "
            f"{statistics.fmean(errors[label]):.3f} |"
        )
    emit(f"short/full per request (paired): median x{statistics.median(ratios):.2f}")
    emit(f"decoded again with the full window: {len(retries)} of {count} ({sorted(set(retries))})")
    emit("requests where the two windows scored differently:")
    for line in differing:
        emit(f"- {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--no-human", action="store_true", help="skip the recorded speech")
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.noise, not args.no_human))


if __name__ == "__main__":
    main()
