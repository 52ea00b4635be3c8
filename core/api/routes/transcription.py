"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` (multipart upload)."""

from __future__ import annotations

import zlib
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
from core.engines.base import Capability
from core.engines.stt import (
    Segment,
    STTEngine,
    Transcription,
    collect_transcription,
)
from core.runtime.generation import Generation

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"]
_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")


def compression_ratio(text: str) -> float:
    """Whisper's repetition measure: how much zlib shrinks the text (1.0 for no text)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 1.0


def segment_json(segment: Segment) -> dict[str, Any]:
    """A verbose_json segment: every field the spec gives a number is a number, estimated where
    the engine did not say (a cloud engine, a fake)."""
    ratio = segment.compression_ratio
    return {
        "id": segment.id,
        "seek": 0,
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        "tokens": [],
        "temperature": segment.temperature or 0.0,
        "avg_logprob": segment.avg_logprob if segment.avg_logprob is not None else 0.0,
        "compression_ratio": ratio if ratio is not None else compression_ratio(segment.text),
        "no_speech_prob": segment.no_speech_prob if segment.no_speech_prob is not None else 0.0,
    }


def diarized_segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "type": "transcript.text.segment",
        "id": f"seg_{segment.id}",
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        "speaker": segment.speaker or "A",
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
    if fmt == "diarized_json":
        return JSONResponse(
            {
                "task": task,
                "duration": round(result.duration, 3),
                "text": result.text,
                "segments": [diarized_segment_json(s) for s in result.segments],
            },
            headers=headers,
        )
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
        diarize=fmt == "diarized_json",
    )
    generation = generation_of(request)
    if options.diarize:
        _check_diarization(generation, model, stream)
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


def _check_diarization(generation: Generation, model: str | None, stream: bool) -> None:
    """diarized_json needs an engine that tells speakers apart somewhere in the chain: refused
    up front, naming the engines, rather than answered without speakers."""
    chain = generation.router.chain(Capability.STT, model)
    names = [slot.name for slot in chain.slots]
    engines = generation.config.engines
    diarizing = [
        name
        for name in names
        if issubclass(cls := engines[name].entry.cls, STTEngine) and cls.supports_diarization
    ]
    if not diarizing:
        raise ApiError(
            400,
            "response_format diarized_json needs an engine that tells speakers apart; "
            f"{', '.join(names)} cannot: use json, text, srt, verbose_json or vtt",
            param="response_format",
            code="unsupported_value",
        )
    if stream:
        raise ApiError(
            400,
            "diarized_json is answered whole: drop stream",
            param="stream",
            code="unsupported_value",
        )


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
