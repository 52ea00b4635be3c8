"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` (multipart upload)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.api.audio_upload import audio_from_form, form_bool, form_float, form_text
from core.api.bodies import read_form
from core.api.context import generation_of, limits_of
from core.api.engine_calls import TranscribeOptions, transcribe, transcribe_all
from core.api.errors import ApiError, as_api_error, error_body
from core.api.routing_headers import engine_headers
from core.api.sse import event, sse_response
from core.api.subtitles import to_srt, to_vtt
from core.engines.stt import (
    Segment,
    Transcription,
    collect_transcription,
)

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


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
        fmt = form_text(form, "response_format") or "json"
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
        stream = form_bool(form, "stream")
        audio = await audio_from_form(request, form)
        model = form_text(form, "model")
        language = None if task == "translate" else form_text(form, "language")
        prompt = form_text(form, "prompt")
        temperature = form_float(form, "temperature", 0.0, 1.0)
    finally:
        await form.close()

    options = TranscribeOptions(
        model=model,
        language=language,
        prompt=prompt,
        temperature=temperature,
        word_timestamps=words,
        task=task,
    )
    generation = generation_of(request)
    if not stream:
        # Gathered before answering, so an engine failing part-way still falls back.
        whole = await transcribe_all(generation, audio, options)
        result = await collect_transcription(_replay(whole.value), audio.duration, language)
        return render(result, fmt, task, words, engine_headers(whole.engine, whole.attempts))

    routed = await transcribe(generation, audio, options)
    headers = engine_headers(routed.engine, routed.attempts)

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


async def _replay(segments: list[Segment]) -> AsyncIterator[Segment]:
    for segment in segments:
        yield segment


async def transcriptions(request: Request) -> Response:
    return await _transcribe(request, "transcribe")


async def translations(request: Request) -> Response:
    return await _transcribe(request, "translate")


routes = [
    Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
    Route("/v1/audio/translations", translations, methods=["POST"]),
]
