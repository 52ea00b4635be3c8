"""A minimal Starlette app that calls the fake embeddings engine directly, with no gateway in
between: the floor the daemon's HTTP overhead is measured against (same uvicorn, same engine)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.engines.base import EngineContext
from core.runtime.services import RouterServices
from tests.support.fake_plugin import FakeEmbeddings, FakeSettings


def build_app() -> Starlette:
    data = Path(tempfile.mkdtemp())
    context = EngineContext("bare", data, data, RouterServices(None))  # type: ignore[arg-type]
    engine = FakeEmbeddings(FakeSettings(), context)

    async def embed(request: Request) -> Response:
        body = await request.json()
        result = await engine.embed([body["input"]])
        data = [{"object": "embedding", "index": 0, "embedding": result.vectors[0]}]
        return JSONResponse({"object": "list", "data": data, "model": "bare"})

    return Starlette(routes=[Route("/v1/embeddings", embed, methods=["POST"])])


if __name__ == "__main__":
    uvicorn.run(
        build_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False
    )
