"""Form fields and the audio file of multipart uploads (transcriptions, conversation turns)."""

from __future__ import annotations

import asyncio
import functools
from typing import cast

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from core.api.context import limits_of
from core.api.errors import ApiError
from core.api.params import ascii_int
from core.audio.chunk import AudioChunk
from core.audio.decode import (
    MAX_RATE,
    MIN_RATE,
    RawEncoding,
    RawFormat,
    decode_audio,
    sniff_container,
)
from core.audio.errors import AudioDecodeError, AudioTooLarge
from core.engines.stt import STTEngine

#: PCM uploads up to this size (~10 s at 16 kHz) are decoded on the event loop.
_INLINE_DECODE_BYTES = 320_000
_RAW_ENCODINGS = ("pcm_s16le", "f32le", "mulaw", "alaw")


def form_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    return str(value).strip() or None


def number_in_range(raw: str, name: str, low: float, high: float) -> float:
    """``raw`` (a form field or query parameter) as a number from ``low`` to ``high``, or a 400
    naming the parameter."""
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a number", param=name) from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low:g} and {high:g}", param=name)
    return value


def form_float(form: FormData, name: str, low: float, high: float) -> float | None:
    raw = form_text(form, name)
    return None if raw is None else number_in_range(raw, name, low, high)


def form_bool(form: FormData, name: str) -> bool:
    raw = (form_text(form, name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, f"{name} must be true or false", param=name)
    return raw in ("true", "1")


def raw_format(form: FormData) -> RawFormat | None:
    """Headerless audio declared by the client (voxgate extension: input_format, sample_rate)."""
    encoding = form_text(form, "input_format")
    if encoding is None:
        return None
    if encoding not in _RAW_ENCODINGS:
        raise ApiError(
            400, f"input_format must be one of {', '.join(_RAW_ENCODINGS)}", param="input_format"
        )
    rate = ascii_int(form_text(form, "sample_rate") or "")
    if rate is None or not MIN_RATE <= rate <= MAX_RATE:
        raise ApiError(
            400,
            f"sample_rate ({MIN_RATE}-{MAX_RATE}) is required with input_format",
            param="sample_rate",
        )
    return RawFormat(encoding=cast(RawEncoding, encoding), sample_rate=rate)


async def audio_from_form(
    request: Request, form: FormData, *, max_rate: int = STTEngine.sample_rate
) -> AudioChunk:
    """The uploaded audio, mono, at its own rate or lowered to ``max_rate`` while it is decoded
    (speech engines take 16 kHz: a 192 kHz upload never exists in memory at 192 kHz)."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "missing required file field 'file'", param="file")
    limits = limits_of(request)
    data = await upload.read()
    if not data:
        raise ApiError(400, "the uploaded file is empty", param="file", code="empty_file")
    raw = raw_format(form)
    try:
        if len(data) <= _INLINE_DECODE_BYTES and (
            raw is not None or sniff_container(data) == "wav"
        ):
            # A short PCM clip decodes in well under a millisecond: a thread hop costs more.
            return decode_audio(
                data, raw=raw, max_seconds=limits.max_audio_seconds, max_rate=max_rate
            )
        return await asyncio.to_thread(
            functools.partial(
                decode_audio, data, raw=raw, max_seconds=limits.max_audio_seconds, max_rate=max_rate
            )
        )
    except AudioTooLarge as exc:
        raise ApiError(413, str(exc), param="file", code="audio_too_long") from None
    except AudioDecodeError as exc:
        raise ApiError(415, str(exc), param="file", code="invalid_audio") from None
