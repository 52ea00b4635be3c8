"""Reading request bodies within limits and validating them into typed models."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import Message

from core.api.errors import ApiError
from core.client_json import UnreadableJson, read_client_json

M = TypeVar("M", bound=BaseModel)


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, "invalid Content-Length header") from None


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refusing with 413 as soon as it passes ``limit`` bytes."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, f"request body is larger than the limit of {limit} bytes", code="payload_too_large"
    )


def validation_to_api_error(exc: ValidationError, data: Any) -> ApiError:
    """The 400 for the first field that failed. A field of several accepted shapes (a string or
    a list of parts) fails once per shape: the shape that came furthest into ``data`` says
    what is wrong, and the shape names pydantic adds to the location are left out."""
    errors = exc.errors()
    field = errors[0]["loc"][:1]
    first = max((e for e in errors if e["loc"][:1] == field), key=lambda e: len(e["loc"]))
    param = ".".join(str(p) for p in _body_path(first["loc"], data, first["type"])) or None
    message = first["msg"]
    if first["type"] == "missing":
        message = f"missing required field {param!r}"
    elif param:
        message = f"invalid value for {param!r}: {message}"
    return ApiError(400, message, param=param, code="invalid_value")


def _body_path(loc: tuple[int | str, ...], data: Any, kind: str) -> list[int | str]:
    """The steps of ``loc`` that lead through ``data``: keys of objects and indexes of lists,
    without the union members' tags (``str``, ``list[str]``...) pydantic puts between them."""
    path: list[int | str] = []
    value = data
    for index, step in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(value, dict) and isinstance(step, str):
            if step in value or (last and kind == "missing"):
                path.append(step)
                value = value.get(step)
        elif isinstance(value, list) and isinstance(step, int):
            path.append(step)
            value = value[step] if 0 <= step < len(value) else None
    return path


def parse_json_text(raw: bytes | str) -> Any:
    """JSON from a client: malformed JSON, nesting too deep for the parser, numbers too long
    to read and text that is not valid Unicode (a lone surrogate) are all the client's 400."""
    try:
        return read_client_json(raw)
    except UnreadableJson as exc:
        raise ApiError(400, f"request body {exc.reason}", code=exc.code) from None


async def read_json(request: Request, model: type[M], limit: int) -> M:
    """Parse and validate a JSON body; malformed JSON and bad fields are 400s naming the field.

    The body must be declared JSON: a browser page can send a cross-site form or text/plain
    POST without asking first, but never an ``application/json`` one.
    """
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        shown = repr(content_type) if content_type else "none"
        raise ApiError(
            415,
            f"expected a JSON body with Content-Type: application/json, got {shown}",
            code="unsupported_media_type",
        )
    raw = await read_limited(request, limit)
    data = parse_json_text(raw)
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_to_api_error(exc, data) from None


async def read_form(request: Request, limit: int) -> FormData:
    """Parse multipart/urlencoded data, counting bytes as they arrive so a huge upload is cut off
    at ``limit`` instead of being spooled to disk first."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise ApiError(
            415, "expected multipart/form-data with a 'file' field", code="unsupported_media_type"
        )
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise _too_large(limit)
    received = 0
    receive = request.receive

    async def counting_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    limited = Request(request.scope, counting_receive)
    try:
        return await limited.form(max_files=4, max_fields=64, max_part_size=1024 * 1024)
    except ApiError:
        raise
    except Exception as exc:  # starlette raises MultiPartException / HTTPException on bad forms
        detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
        raise ApiError(400, f"malformed form data: {detail}", code="invalid_form") from None
