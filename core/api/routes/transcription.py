"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` (multipart upload)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal, cast

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.api.bodies import read_form
from core.api.context import generation_of, limits_of
from core.api.errors import ApiError, as_api_error, error_body
from core.api.routing_headers import engine_headers
from core.api.sse import event, sse_response
from core.api.subtitles import to_srt, to_vtt
from core.audio.chunk import AudioChunk
from core.audio.decode import RawEncoding, RawFormat, decode_audio
from core.audio.errors import AudioDecodeError, AudioTooLarge
from core.audio.resample import resample
from core.engines.base import Capability
from core.engines.errors import Unsupported
from core.engines.stt import (
    Segment,
    STTEngine,
    Transcription,
    TranscriptionRequest,
    collect_transcription,
)

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
_RAW_ENCODINGS = ("pcm_s16le", "f32le", "mulaw", "alaw")


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    return str(value).strip() or None


def _float_field(form: FormData, name: str, low: float, high: float) -> float | None:
    raw = _field(form, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a number", param=name) from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}", param=name)
    return value


def _bool_field(form: FormData, name: str) -> bool:
    raw = (_field(form, name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, f"{name} must be true or false", param=name)
    return raw in ("true", "1")


def _raw_format(form: FormData) -> RawFormat | None:
    """Headerless audio declared by the client (voxgate extension: input_format, sample_rate)."""
    encoding = _field(form, "input_format")
    if encoding is None:
        return None
    if encoding not in _RAW_ENCODINGS:
        raise ApiError(
            400, f"input_format must be one of {', '.join(_RAW_ENCODINGS)}", param="input_format"
        )
    rate = _field(form, "sample_rate")
    if rate is None or not rate.isdigit() or not 4000 <= int(rate) <= 192000:
        raise ApiError(
            400, "sample_rate (4000-192000) is required with input_format", param="sample_rate"
        )
    return RawFormat(encoding=cast(RawEncoding, encoding), sample_rate=int(rate))


async def _audio_from_form(request: Request, form: FormData) -> AudioChunk:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "missing required file field 'file'", param="file")
    limits = limits_of(request)
    data = await upload.read()
    if not data:
        raise ApiError(400, "the uploaded file is empty", param="file", code="empty_file")
    raw = _raw_format(form)
    try:
        return await asyncio.to_thread(
            decode_audio, data, raw=raw, max_seconds=limits.max_audio_seconds
        )
    except AudioTooLarge as exc:
        raise ApiError(413, str(exc), param="file", code="audio_too_long") from None
    except AudioDecodeError as exc:
        raise ApiError(415, str(exc), param="file", code="invalid_audio") from None


def segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "seek": 0,
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        "tokens": [],
        "temperature": segment.temperature or 0.0,
        "avg_logprob": segment.avg_logprob,
        "compression_ratio": None,
        "no_speech_prob": segment.no_speech_prob,
    }


def render(
    result: Transcription, fmt: str, task: str, words: bool, headers: dict[str, str]
) -> Response:
    if fmt == "text":
        return PlainTextResponse(result.text + "\n", headers=headers)
    if fmt == "srt":
        return PlainTextResponse(to_srt(result.segments), headers=headers)
    if fmt == "vtt":
        return PlainTextResponse(to_vtt(result.segments), media_type="text/vtt", headers=headers)
    if fmt == "json":
        return JSONResponse({"text": result.text}, headers=headers)
    body: dict[str, Any] = {
        "task": task,
        "language": result.language,
        "duration": round(result.duration, 3),
        "text": result.text,
        "segments": [segment_json(s) for s in result.segments],
    }
    if words:
        body["words"] = [
            {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)}
            for s in result.segments
            for w in s.words
        ]
    return JSONResponse(body, headers=headers)


async def _transcribe(request: Request, task: Literal["transcribe", "translate"]) -> Response:
    limits = limits_of(request)
    form = await read_form(request, limits.max_upload_bytes)
    try:
        fmt = _field(form, "response_format") or "json"
        if fmt not in _FORMATS:
            raise ApiError(
                400,
                f"response_format must be one of {', '.join(_FORMATS)}",
                param="response_format",
            )
        granularities = [str(v) for v in form.getlist("timestamp_granularities[]")]
        granularities += [str(v) for v in form.getlist("timestamp_granularities")]
        if any(g not in ("segment", "word") for g in granularities):
            raise ApiError(
                400,
                "timestamp_granularities must be 'segment' or 'word'",
                param="timestamp_granularities[]",
            )
        words = "word" in granularities
        stream = _bool_field(form, "stream")
        audio = await _audio_from_form(request, form)
        model = _field(form, "model")
        language = None if task == "translate" else _field(form, "language")
        prompt = _field(form, "prompt")
        temperature = _float_field(form, "temperature", 0.0, 1.0)
    finally:
        await form.close()

    resampled: dict[int, AudioChunk] = {}

    def audio_for(rate: int) -> AudioChunk:
        if rate not in resampled:
            samples = resample(audio.samples, audio.sample_rate, rate)
            resampled[rate] = AudioChunk(samples, rate)
        return resampled[rate]

    async def run(engine: STTEngine) -> AsyncIterator[Segment]:
        if task == "translate" and not engine.supports_translation:
            raise Unsupported(f"engine {engine.name!r} cannot translate")
        engine_audio = await asyncio.to_thread(audio_for, engine.sample_rate)
        request_ = TranscriptionRequest(
            audio=engine_audio,
            language=language,
            prompt=prompt,
            temperature=temperature,
            word_timestamps=words,
            task=task,
        )
        async for segment in engine.transcribe(request_):
            yield segment

    routed = await generation_of(request).router.stream(Capability.STT, model, run)
    headers = engine_headers(routed.engine, routed.attempts)

    if stream:

        async def sse() -> AsyncIterator[bytes]:
            texts: list[str] = []
            try:
                async for segment in routed:
                    piece = segment.text.strip()
                    if not piece:
                        continue
                    delta = piece if not texts else " " + piece
                    texts.append(piece)
                    yield event(
                        {
                            "type": "transcript.text.delta",
                            "delta": delta,
                            "segment": segment_json(segment),
                        }
                    )
            except Exception as exc:
                error = as_api_error(exc)
                yield event(error_body(error.status, error.message, error.param, error.code))
                return
            yield event({"type": "transcript.text.done", "text": " ".join(texts)})

        return sse_response(sse(), headers)

    result = await collect_transcription(aiter(routed), audio.duration, language)
    return render(result, fmt, task, words, headers)


async def transcriptions(request: Request) -> Response:
    return await _transcribe(request, "transcribe")


async def translations(request: Request) -> Response:
    return await _transcribe(request, "translate")


routes = [
    Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
    Route("/v1/audio/translations", translations, methods=["POST"]),
]
