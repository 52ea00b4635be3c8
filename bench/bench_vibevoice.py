"""VibeVoice: what segment streaming gains, and what the daemon costs over the engine.

Two measurements in one run:

1. The engine called in this process, on one long text: segmented (``segment_chars``, streamed
   as each segment is done) against whole-text synthesis (``segment_chars: 0``, one generation,
   audio only at the end). Time to first audio and to the last sample for each; the streaming
   gain is whole-text time over segmented time to first audio.
2. The daemon over HTTP (``POST /v1/audio/speech``, streamed ``pcm``) against the engine called
   directly, with the same segmented settings and seeds, alternating request by request: time
   to first audio and wall time, and their ratio.

With no ``--models-dir`` a tiny random-weight checkpoint is built. It is told never to end a
segment early, so every segment runs to its frame budget of ``--frames-per-char`` frames per
character (speech needs about 0.5); the figures then scale with text length as real speech
does, but the audio is noise and the per-frame cost is the tiny model's. Real weights
(``--models-dir`` holding ``vibevoice/VibeVoice-1.5B-hf``, ``--voices-dir`` with reference
clips) give real figures.

    python -m bench.bench_vibevoice [--requests 3] [--models-dir DIR] [--voices-dir DIR]
        [--voice ID] [--segment-chars 100] [--frames-per-char 0.5] [--diffusion-steps 2]
        [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.speech_daemon import speech_daemon, streamed_speech
from bench.stats import emit, ms, summary
from core.engines.tts import SpeechRequest
from core.observability.logging import configure_logging
from plugins.tts_vibevoice.engine import VibeVoiceEngine
from plugins.tts_vibevoice.script import pack_sentences
from tests.support.engines import engine_context
from tests.support.tiny_vibevoice import build, write_voice

TEXT = (
    "Welcome back to the show. Today we talk about how small teams can ship reliable software "
    "without burning out. Our first topic is planning: why short cycles beat long roadmaps. "
    "Then we look at testing, and at the checks worth automating first. After that, a few "
    "words on on-call rotations and how to keep them humane. Finally, we answer questions "
    "sent in by listeners over the past month. Let us get started."
)
VOICE = "en-Host_woman"


def engine_for(settings: dict[str, Any], models: Path, data: Path) -> VibeVoiceEngine:
    context = engine_context("vibe", data, models)
    return VibeVoiceEngine(VibeVoiceEngine.Settings.model_validate(settings), context)


async def direct_request(
    engine: VibeVoiceEngine, voice: str, seed: int
) -> tuple[float, float, float]:
    """(first audio, wall, audio seconds) for one request to the engine in this process."""
    request = SpeechRequest(text=TEXT, voice=voice, options={"seed": seed})
    started = time.perf_counter()
    first, audio = None, 0.0
    async for chunk in engine.synthesize(request):
        if first is None:
            first = time.perf_counter() - started
        audio += chunk.duration
    wall = time.perf_counter() - started
    return first or wall, wall, audio


async def streaming_gain(
    settings: dict[str, Any], models: Path, root: Path, voice: str, requests: int
) -> None:
    segmented = engine_for(settings, models, root / "data")
    whole = engine_for({**settings, "segment_chars": 0}, models, root / "data")
    await segmented.load()
    await whole.load()
    try:
        rows: dict[str, list[tuple[float, float, float]]] = {"segmented": [], "whole": []}
        for seed in range(requests):
            rows["segmented"].append(await direct_request(segmented, voice, seed))
            rows["whole"].append(await direct_request(whole, voice, seed))
    finally:
        await segmented.close()
        await whole.close()
    pieces = len(pack_sentences(TEXT, settings["segment_chars"]))
    emit(
        f"engine in this process: {len(TEXT)} characters; segmented = {pieces} segments of "
        f"<= {settings['segment_chars']} characters, whole = one generation ({requests} runs each)"
    )
    firsts = {}
    for name, runs in rows.items():
        first, wall = summary([r[0] for r in runs]), summary([r[1] for r in runs])
        audio = runs[0][2]
        firsts[name] = first["p50"]
        emit(
            f"  {name:9} first audio p50 {ms(first['p50'])}  last sample p50 {ms(wall['p50'])}"
            f"  audio {audio:.1f} s  real-time factor {wall['p50'] / audio:.2f}"
        )
    emit(
        f"  streaming gain (whole / segmented, time to first audio): "
        f"{firsts['whole'] / firsts['segmented']:.1f}x"
    )


async def daemon_against_direct(
    settings: dict[str, Any], models: Path, root: Path, voice: str, requests: int
) -> None:
    engine = engine_for(settings, models, root / "direct-data")
    await engine.load()
    direct, daemon = [], []
    try:
        with speech_daemon(root, "vibe", "vibevoice", settings, models) as url:
            async with httpx.AsyncClient() as client:
                # Alternating with the same seed (the same work); round 0 only warms up.
                for seed in range(requests + 1):
                    first, wall, _ = await direct_request(engine, voice, seed)
                    body = {"input": TEXT, "voice": voice, "response_format": "pcm", "seed": seed}
                    http_first, http_wall = await streamed_speech(client, url, body)
                    if seed:
                        direct.append((first, wall))
                        daemon.append((http_first, http_wall))
    finally:
        await engine.close()
    emit(f"daemon over HTTP (streamed pcm) against the engine directly ({requests} rounds)")
    for label, index in (("first audio", 0), ("wall", 1)):
        d = summary([r[index] for r in direct])
        h = summary([r[index] for r in daemon])
        ratios = sorted(b[index] / a[index] for a, b in zip(direct, daemon, strict=True))
        emit(
            f"  {label:11} direct p50 {ms(d['p50'])}  daemon p50 {ms(h['p50'])}"
            f"  daemon / direct p50 {ratios[len(ratios) // 2]:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--voices-dir", type=Path, default=None)
    parser.add_argument("--voice", default=VOICE, help="a voice id in the voices directory")
    parser.add_argument("--model", default="vibevoice_1_5b")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--segment-chars", type=int, default=100)
    parser.add_argument("--frames-per-char", type=float, default=0.5)
    parser.add_argument("--diffusion-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    configure_logging("warning", "console")
    root = Path(tempfile.mkdtemp(prefix="vibevoice-bench-"))
    settings: dict[str, Any] = {
        "model": args.model,
        "device": args.device,
        "threads": args.threads,
        "diffusion_steps": args.diffusion_steps,
        "segment_chars": args.segment_chars,
        "max_frames_per_char": args.frames_per_char,
        "pause_ms": 150,
    }
    models = args.models_dir
    if models is None:
        models = root / "models"
        tiny = build(models)
        settings["suppress_tokens"] = tiny.never_stop()
        emit(f"tiny random-weight checkpoint in {tiny.folder} (output is noise)")
    voices = args.voices_dir
    if voices is None:
        voices = root / "voices"
        voices.mkdir()
        write_voice(voices / f"{args.voice}.wav", pitch=200.0, seconds=4.0)
    settings["voices_dir"] = str(voices)
    asyncio.run(streaming_gain(settings, models, root, args.voice, args.requests))
    asyncio.run(daemon_against_direct(settings, models, root, args.voice, args.requests))


if __name__ == "__main__":
    main()
