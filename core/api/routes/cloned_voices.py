"""Cloned voices: ``POST /v1/voices`` (upload), ``GET|PATCH|DELETE /v1/voices/{id}``.

An upload carries a reference clip (any format the daemon decodes), a name and optionally a
description, the clip's transcript (``reference_text``), language and gender. The clip is
normalized (mono, 24 kHz, trimmed, steady loudness) before it is stored. Speech requests then
name the voice by its id; engines that clone voices list stored voices among their own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.audio_upload import form_text
from core.api.bodies import read_form, read_json
from core.api.context import generation_of, limits_of
from core.api.errors import ApiError
from core.audio.decode import decode_audio
from core.audio.errors import AudioDecodeError, AudioTooLarge
from core.cloned_voices.normalize import REFERENCE_RATE, ReferenceAudioError, normalize_reference
from core.cloned_voices.store import StoredVoice, VoiceStore, VoiceStoreError

#: Reference clips are short; a bigger upload is refused before it is read in full.
MAX_REFERENCE_BYTES = 20_000_000
#: Longest clip accepted (it is cut to at most 15 s of speech when normalized).
MAX_REFERENCE_SECONDS = 120.0


def _store(request: Request) -> VoiceStore:
    return VoiceStore.for_data_dir(generation_of(request).config.data_dir)


def _not_found(voice_id: str) -> ApiError:
    return ApiError(404, f"no stored voice {voice_id!r}", param="voice_id", code="voice_not_found")


def _body(voice: StoredVoice) -> dict[str, Any]:
    return voice.as_dict()


async def create_voice(request: Request) -> Response:
    limit = min(limits_of(request).max_upload_bytes, MAX_REFERENCE_BYTES)
    form = await read_form(request, limit)
    upload = form.get("file") or form.get("audio")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "missing the reference audio field 'file'", param="file")
    name = form_text(form, "name")
    if name is None:
        raise ApiError(400, "name is required", param="name")
    data = await upload.read()
    if not data:
        raise ApiError(400, "the uploaded file is empty", param="file", code="empty_file")
    try:
        # Straight to the reference rate while decoding: never the file's own rate in memory.
        audio = await asyncio.to_thread(
            decode_audio, data, REFERENCE_RATE, max_seconds=MAX_REFERENCE_SECONDS
        )
        reference = await asyncio.to_thread(normalize_reference, audio)
    except AudioTooLarge as exc:
        raise ApiError(413, str(exc), param="file", code="audio_too_long") from None
    except AudioDecodeError as exc:
        raise ApiError(415, str(exc), param="file", code="invalid_audio") from None
    except ReferenceAudioError as exc:
        raise ApiError(400, str(exc), param="file", code="invalid_reference") from None
    store = _store(request)
    try:
        voice = await asyncio.to_thread(
            store.create,
            reference,
            name=name,
            description=form_text(form, "description") or "",
            language=form_text(form, "language"),
            gender=form_text(form, "gender"),
            reference_text=form_text(form, "reference_text") or form_text(form, "text"),
        )
    except VoiceStoreError as exc:
        raise ApiError(400, str(exc), param=exc.param, code="invalid_voice") from None
    return JSONResponse(_body(voice), status_code=201)


async def get_voice(request: Request) -> Response:
    voice_id = request.path_params["voice_id"]
    voice = await asyncio.to_thread(_store(request).get, voice_id)
    if voice is None:
        raise _not_found(voice_id)
    return JSONResponse(_body(voice))


async def get_voice_audio(request: Request) -> Response:
    voice_id = request.path_params["voice_id"]
    store = _store(request)
    voice = await asyncio.to_thread(store.get, voice_id)
    if voice is None:
        raise _not_found(voice_id)
    try:
        # Read now (a clip is under a megabyte): a voice deleted meanwhile, or a clip removed by
        # hand, is a 404 rather than a failure half-way through the answer.
        clip = await asyncio.to_thread(store.audio_path(voice).read_bytes)
    except FileNotFoundError:
        raise ApiError(
            404, f"the clip of voice {voice_id!r} is missing", param="voice_id", code="clip_missing"
        ) from None
    return Response(clip, media_type="audio/wav")


class VoicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = None
    language: str | None = None
    gender: str | None = None
    reference_text: str | None = None


async def update_voice(request: Request) -> Response:
    voice_id = request.path_params["voice_id"]
    body = await read_json(request, VoicePatch, 64_000)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name", "") is None:
        raise ApiError(400, "name cannot be removed", param="name")
    try:
        voice = await asyncio.to_thread(_store(request).update, voice_id, changes)
    except VoiceStoreError as exc:
        raise ApiError(400, str(exc), param=exc.param, code="invalid_voice") from None
    if voice is None:
        raise _not_found(voice_id)
    return JSONResponse(_body(voice))


async def delete_voice(request: Request) -> Response:
    voice_id = request.path_params["voice_id"]
    keep = request.query_params.get("keep_files", "false").lower() in ("1", "true", "yes")
    deleted = await asyncio.to_thread(_store(request).delete, voice_id, remove_files=not keep)
    if not deleted:
        raise _not_found(voice_id)
    return JSONResponse({"id": voice_id, "object": "voice.deleted", "deleted": True})


routes = [
    Route("/v1/voices", create_voice, methods=["POST"]),
    Route("/v1/voices/{voice_id}", get_voice, methods=["GET"]),
    Route("/v1/voices/{voice_id}", update_voice, methods=["PATCH"]),
    Route("/v1/voices/{voice_id}", delete_voice, methods=["DELETE"]),
    Route("/v1/voices/{voice_id}/audio", get_voice_audio, methods=["GET"]),
]
