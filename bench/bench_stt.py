"""Speech-to-text: real-time factor and short-utterance latency, engine directly vs the daemon.

Whisper tiny.en (the ``faster_whisper`` engine) transcribes the same speech two ways in
alternating rounds, so machine noise hits both alike:

1. the engine called directly in this process (``engine.transcribe``);
2. a daemon over HTTP (``POST /v1/audio/transcriptions``, a 16 kHz WAV upload, JSON answer).

Figures: RTF (transcription time / audio length) on a ~15 s clip of four sentences, and the
latency of one short sentence (~1.5 s of speech). Each engine variant runs in both places with
the same settings: no VAD filter, the pysilero VAD filter, the onnxruntime VAD filter.

    python -m bench.bench_stt [--rounds 8] [--short-rounds 16] [--variants whisper,whisper_vad]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.scratch import scratch_folder
from bench.stats import emit, ms, summary
from core.audio.chunk import AudioChunk
from core.engines.stt import TranscriptionRequest
from plugins.stt_whisper.engine import FasterWhisperEngine
from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import daemon_process
from tests.support.engines import build_engine as build
from tests.support.speech import SENTENCES, at_rate, joined, quiet, speech, wav_bytes
from tests.support.wer import word_error_rate

RATE = 16_000
#: Engine names (in this process and in the daemon's config) and their settings.
VARIANTS: dict[str, dict[str, Any]] = {
    "whisper": {},
    "whisper_vad": {"vad_filter": True},
    "whisper_vad_onnx": {"vad_filter": True, "vad_runtime": "onnxruntime"},
}
SHORT_TEXT = "Turn on the lights."
RTF_GOAL = 0.10
RATIO_GOAL = 1.05


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Clip:
    label: str
    text: str
    audio: AudioChunk
    wav: bytes


def clips() -> list[Clip]:
    long_audio = at_rate(
        joined(*(p for s in SENTENCES for p in (speech(s), quiet(0.3, 24_000)))), RATE
    )
    short_audio = at_rate(speech(SHORT_TEXT), RATE)
    return [
        Clip("long clip", " ".join(SENTENCES), long_audio, wav_bytes(long_audio)),
        Clip("short utterance", SHORT_TEXT, short_audio, wav_bytes(short_audio)),
    ]


async def direct(engine: FasterWhisperEngine, clip: Clip) -> tuple[float, str]:
    started = time.perf_counter()
    texts = [s.text async for s in engine.transcribe(TranscriptionRequest(audio=clip.audio))]
    return time.perf_counter() - started, " ".join(t.strip() for t in texts)


def over_http(client: httpx.Client, name: str, clip: Clip) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.post(
        "/v1/audio/transcriptions",
        data={"model": name, "response_format": "json"},
        files={"file": ("clip.wav", clip.wav, "audio/wav")},
    )
    response.raise_for_status()
    return time.perf_counter() - started, str(response.json()["text"])


async def compare(
    name: str, settings: Mapping[str, Any], url: str, rounds: Mapping[str, int], workdir: Path
) -> None:
    engine = build(FasterWhisperEngine, settings, workdir, name)
    await engine.load()
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            for clip in clips():
                for _ in range(2):  # warm both paths
                    await direct(engine, clip)
                    over_http(client, name, clip)
                engine_side, daemon_side = Samples(), Samples()
                errors: list[float] = []
                for index in range(rounds[clip.label]):
                    # ABBA order, so neither path always runs right after the other.
                    for path in ("direct", "daemon")[:: 1 if index % 2 == 0 else -1]:
                        if path == "direct":
                            seconds, text = await direct(engine, clip)
                            engine_side.seconds.append(seconds)
                        else:
                            seconds, text = over_http(client, name, clip)
                            daemon_side.seconds.append(seconds)
                        errors.append(word_error_rate(clip.text, text))
                report(name, clip, engine_side, daemon_side, max(errors))
    finally:
        await engine.close()


def report(name: str, clip: Clip, engine_side: Samples, daemon_side: Samples, wer: float) -> None:
    d, h = summary(engine_side.seconds), summary(daemon_side.seconds)
    ratio = h["p50"] / d["p50"]
    emit(
        f"{name}, {clip.label} ({clip.audio.duration:.1f} s of audio, "
        f"{len(engine_side.seconds)} rounds, p50 / p90, worst WER {wer:.2f}):"
    )
    emit(
        f"  latency  direct {ms(d['p50'])} / {ms(d['p90'])}   "
        f"daemon {ms(h['p50'])} / {ms(h['p90'])}   ratio x{ratio:.3f} (goal <= {RATIO_GOAL})"
    )
    duration = clip.audio.duration
    emit(
        f"  RTF      direct {d['p50'] / duration:.4f} / {d['p90'] / duration:.4f}     "
        f"daemon {h['p50'] / duration:.4f} / {h['p90'] / duration:.4f}"
        + (f"     (goal <= {RTF_GOAL})" if clip.label == "long clip" else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=8, help="rounds on the long clip")
    parser.add_argument("--short-rounds", type=int, default=16, help="rounds on the short one")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    names = [n for n in args.variants.split(",") if n]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    rounds = {"long clip": args.rounds, "short utterance": args.short_rounds}
    with scratch_folder() as workdir:
        engines = {n: engine_entry("stt", "faster_whisper", VARIANTS[n]) for n in names}
        config = workdir / "bench.yaml"
        config.write_text(daemon_config(engines))
        emit(f"speech: hibari 'heart'; model: Whisper tiny.en, int8, {os.cpu_count()} CPUs")
        with daemon_process(config) as url:
            for name in names:
                asyncio.run(compare(name, VARIANTS[name], url, rounds, workdir))


if __name__ == "__main__":
    main()
