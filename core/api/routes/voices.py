"""``GET /v1/voices``: every voice each TTS engine offers, and the configured aliases."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.context import generation_of
from core.engines.tts import TTSEngine


async def list_voices(request: Request) -> Response:
    generation = generation_of(request)
    data = []
    for name in generation.config.engines:
        engine = generation.slots[name].engine
        if not isinstance(engine, TTSEngine):
            continue
        default = engine.default_voice()
        for voice in await engine.voices():
            entry = dataclasses.asdict(voice)
            entry.update(object="voice", engine=name, default=voice.id == default)
            data.append(entry)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "aliases": dict(generation.config.config.voices.aliases),
        }
    )


routes = [Route("/v1/voices", list_voices, methods=["GET"])]
