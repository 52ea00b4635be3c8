"""A minimal Starlette app that calls the fake engines directly, with no gateway in between: the
floor the daemon's HTTP overhead is measured against (same uvicorn, same engines). It does only
what any server must: parse the body, decode the upload, call the engine, send the bytes."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import soundfile as sf
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.audio.chunk import AudioChunk
from core.engines.base import EngineContext
from core.engines.stt import TranscriptionRequest
from core.engines.tts import SpeechRequest
from core.runtime.router_services import RouterServices
from tests.support.daemon import free_port
from tests.support.fake_plugin import FakeEmbeddings, FakeSettings, FakeSTT, FakeTTS
from tests.support.plugin_dist import REPO_ROOT


def build_app() -> Starlette:
    data = Path(tempfile.mkdtemp())
    context = EngineContext("bare", data, data, RouterServices(None))  # type: ignore[arg-type]
    engine = FakeEmbeddings(FakeSettings(), context)
    tts = FakeTTS(FakeSettings(voices=["heart"], chunks=3), context)
    stt = FakeSTT(FakeSettings(reply="one two three four"), context)

    async def embed(request: Request) -> Response:
        body = await request.json()
        result = await engine.embed([body["input"]])
        data = [{"object": "embedding", "index": 0, "embedding": result.vectors[0]}]
        return JSONResponse({"object": "list", "data": data, "model": "bare"})

    async def speech(request: Request) -> Response:
        body = await request.json()
        pcm = [c.to_pcm16() async for c in tts.synthesize(SpeechRequest(text=body["input"]))]
        return Response(b"".join(pcm), media_type="audio/pcm")

    async def transcription(request: Request) -> Response:
        async with request.form() as form:
            upload = form["file"]
            assert not isinstance(upload, str)
            samples, rate = sf.read(io.BytesIO(await upload.read()), dtype="float32")
        audio = AudioChunk(samples, rate)
        texts = [s.text async for s in stt.transcribe(TranscriptionRequest(audio=audio))]
        return JSONResponse({"text": " ".join(texts)})

    return Starlette(
        routes=[
            Route("/v1/embeddings", embed, methods=["POST"]),
            Route("/v1/audio/speech", speech, methods=["POST"]),
            Route("/v1/audio/transcriptions", transcription, methods=["POST"]),
        ]
    )


@contextlib.contextmanager
def bare_server(env: Mapping[str, str]) -> Iterator[str]:
    """This server in a child process on a free loopback port; its URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_server", str(port)],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(url + "/v1/embeddings", json={"input": "x"}, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("bare server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    uvicorn.run(
        build_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False
    )
