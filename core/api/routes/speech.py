"""``POST /v1/audio/speech``: text to audio, streamed to the client as it is synthesized."""

from __future__ import annotations

import asyncio
import base64
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from core.api.bodies import read_json
from core.api.context import generation_of, limits_of
from core.api.engine_calls import SpeakOptions, synthesize
from core.api.errors import ApiError, as_api_error, error_body
from core.api.routing_headers import engine_headers
from core.api.sse import event, sse_response
from core.audio.chunk import AudioChunk
from core.audio.encode import (
    OUTPUT_FORMATS,
    StreamEncoder,
    available_formats,
    content_type,
    open_encoder,
)
from core.routing.errors import StreamInterrupted

log = structlog.get_logger(__name__)

# Encoders that do real codec work run in a thread; wav/pcm/G.711 are cheap enough inline.
_THREADED = frozenset({"mp3", "opus", "aac", "flac"})


class VoiceRef(BaseModel):
    id: str


class SpeechBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    input: str
    voice: str | VoiceRef | None = None
    response_format: str = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    instructions: str | None = Field(None, max_length=4096)
    stream_format: Literal["audio", "sse"] = "audio"
    language: str | None = None

    def voice_id(self) -> str | None:
        return self.voice.id if isinstance(self.voice, VoiceRef) else self.voice


def _check(body: SpeechBody, max_chars: int) -> str:
    text = body.input.strip()
    # Zero-width characters, BOMs and bare punctuation leave an engine nothing to say.
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise ApiError(400, "input must contain text to speak", param="input", code="empty_input")
    if len(body.input) > max_chars:
        raise ApiError(
            413,
            f"input is longer than the limit of {max_chars} characters",
            param="input",
            code="input_too_long",
        )
    fmt = body.response_format
    if fmt not in OUTPUT_FORMATS:
        raise ApiError(
            400,
            f"response_format must be one of {', '.join(OUTPUT_FORMATS)}",
            param="response_format",
        )
    if fmt not in available_formats():
        raise ApiError(
            400,
            f"response_format {fmt!r} needs an encoder that is not installed "
            f"(available: {', '.join(available_formats())})",
            param="response_format",
            code="unsupported_format",
        )
    return text


async def encode_stream(
    stream: AsyncIterable[AudioChunk], encoder: StreamEncoder, threaded: bool
) -> AsyncIterator[bytes]:
    async for chunk in stream:
        data = await asyncio.to_thread(encoder.encode, chunk) if threaded else encoder.encode(chunk)
        if data:
            yield data
    tail = await asyncio.to_thread(encoder.finish) if threaded else encoder.finish()
    if tail:
        yield tail


class _AudioResponse(StreamingResponse):
    """Audio already on its way leaves no room for an error: an engine failing part-way ends the
    response without its last chunk, so the client sees a cut stream, not a shorter file."""

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        except StreamInterrupted as exc:
            log.warning("speech.stream_failed", engine=exc.engine, error=exc.message)


async def create_speech(request: Request) -> Response:
    limits = limits_of(request)
    body = await read_json(request, SpeechBody, limits.max_request_bytes)
    text = _check(body, limits.max_speech_chars)
    options = SpeakOptions(
        model=body.model,
        voice=body.voice_id(),
        speed=body.speed,
        instructions=body.instructions,
        language=body.language,
        options=dict(body.model_extra or {}),
    )
    stream, chooser = await synthesize(generation_of(request), text, options)
    first = stream.first
    encoder = open_encoder(body.response_format, first.sample_rate if first else 24000)
    threaded = body.response_format in _THREADED
    headers = engine_headers(stream.engine, stream.attempts)
    headers.update(chooser.headers(stream.engine))
    headers["x-sample-rate"] = str(encoder.sample_rate)

    if body.stream_format == "sse":

        async def sse() -> AsyncIterator[bytes]:
            total = 0
            try:
                async for data in encode_stream(stream, encoder, threaded):
                    total += len(data)
                    yield event(
                        {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
                    )
            except Exception as exc:  # the stream has started: report in-band, then end
                error = as_api_error(exc)
                yield event(error_body(error.status, error.message, error.param, error.code))
                return
            usage: dict[str, Any] = {
                "input_tokens": len(text),
                "output_tokens": total,
                "total_tokens": len(text) + total,
            }
            yield event({"type": "speech.audio.done", "usage": usage})

        return sse_response(sse(), headers)

    return _AudioResponse(
        encode_stream(stream, encoder, threaded),
        media_type=content_type(body.response_format),
        headers=headers,
    )


routes = [Route("/v1/audio/speech", create_speech, methods=["POST"])]
