"""``GET /v1/voices``: every voice each TTS engine offers, the configured aliases, and the cloned
voices of the voice store (``stored``; engines that clone also list them as their own)."""

from __future__ import annotations

import asyncio
import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.context import generation_of
from core.cloned_voices.store import VoiceStore
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
    stored = await asyncio.to_thread(VoiceStore.for_data_dir(generation.config.data_dir).list)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "aliases": dict(generation.config.config.voices.aliases),
            "stored": [voice.as_dict() for voice in stored],
        }
    )


routes = [Route("/v1/voices", list_voices, methods=["GET"])]
