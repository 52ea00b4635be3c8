"""HTTP cost of the audio endpoints: /v1/audio/speech and /v1/audio/transcriptions.

A fake engine (no model work) is called directly, through a bare Starlette server (parse, decode,
call, send: the floor of any Python HTTP service) and through the daemon, in the same run. The
daemon-over-bare difference is the gateway's own cost: validation, routing, resampling, encoding,
metrics. Requests are sequential on one keep-alive connection.

    python -m bench.bench_audio_api [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from bench.bare_server import bare_server
from bench.scratch import scratch_folder
from bench.stats import added, emit, p50_p99, summary
from core.audio.chunk import AudioChunk
from core.engines.stt import STTEngine, TranscriptionRequest
from core.engines.tts import SpeechRequest, TTSEngine
from tests.support.daemon import daemon_process
from tests.support.plugin_dist import fake_plugin_env
from tests.support.runtime import running_runtime

CONFIG = """\
reload: {watch: false}
logging: {level: warning}
engines:
  mouth: {capability: tts, engine: fake, settings: {voices: [heart], chunks: 3}}
  ears: {capability: stt, engine: fake, settings: {reply: "one two three four"}}
routes: {tts: [mouth], stt: [ears]}
"""


def upload_wav(seconds: float = 3.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


async def direct(requests: int, config: Path, wav: bytes) -> tuple[list[float], list[float]]:
    """The same engines, called in process with the same inputs (audio already decoded)."""
    async with running_runtime(config) as runtime:
        generation = runtime.current
        await generation.slots["mouth"].ensure_loaded()
        await generation.slots["ears"].ensure_loaded()
        tts = generation.slots["mouth"].engine
        stt = generation.slots["ears"].engine
        assert isinstance(tts, TTSEngine) and isinstance(stt, STTEngine)
        samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
        audio = AudioChunk(samples, rate)
        speech, listen = [], []
        for _ in range(requests):
            t0 = time.perf_counter()
            async for _chunk in tts.synthesize(SpeechRequest(text="Hello there.")):
                pass
            t1 = time.perf_counter()
            async for _segment in stt.transcribe(TranscriptionRequest(audio=audio)):
                pass
            t2 = time.perf_counter()
            speech.append(t1 - t0)
            listen.append(t2 - t1)
        return speech, listen


def over_http(url: str, requests: int, wav: bytes) -> tuple[list[float], list[float]]:
    speech, listen = [], []
    body = {"input": "Hello there.", "voice": "heart", "response_format": "pcm"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(20):
            client.post("/v1/audio/speech", json=body).raise_for_status()
        for _ in range(requests):
            t0 = time.perf_counter()
            client.post("/v1/audio/speech", json=body).raise_for_status()
            t1 = time.perf_counter()
            client.post(
                "/v1/audio/transcriptions", files={"file": ("a.wav", wav, "audio/wav")}
            ).raise_for_status()
            t2 = time.perf_counter()
            speech.append(t1 - t0)
            listen.append(t2 - t1)
    return speech, listen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    wav = upload_wav()
    with scratch_folder() as workdir:
        config = workdir / "bench.yaml"
        config.write_text(CONFIG)
        d_speech, d_listen = asyncio.run(direct(args.requests, config, wav))
        plugin_env = fake_plugin_env(workdir)
        with daemon_process(config, env=plugin_env) as url, bare_server(plugin_env) as bare_url:
            # Alternate halves so machine noise hits both servers alike.
            half = args.requests // 2
            runs = [over_http(u, half, wav) for u in (url, bare_url, url, bare_url)]
            h_speech, h_listen = runs[0][0] + runs[2][0], runs[0][1] + runs[2][1]
            b_speech, b_listen = runs[1][0] + runs[3][0], runs[1][1] + runs[3][1]
    emit(f"audio endpoints, {args.requests} sequential requests each (fake engines, no model work)")
    for name, d, b, h in (
        ("speech (3 chunks, pcm out)", d_speech, b_speech, h_speech),
        ("transcription (3 s WAV in)", d_listen, b_listen, h_listen),
    ):
        ds, bs, hs = summary(d), summary(b), summary(h)
        emit(f"  {name}")
        emit(f"    engine called directly        {p50_p99(ds)}")
        emit(f"    bare starlette + same engine  {p50_p99(bs)}")
        emit(f"    voxgate daemon                {p50_p99(hs)}")
        emit(f"    daemon over bare server       {added(hs, bs)}   (goal p50 < 1 ms)")
        emit(f"    daemon over direct call       {added(hs, ds)}")


if __name__ == "__main__":
    main()
