"""OpenAI-shaped error responses: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import math
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core.engines.errors import EngineError, InvalidRequest
from core.routing.errors import AllEnginesFailed, RoutingError, StreamInterrupted, UnknownModel

log = structlog.get_logger(__name__)

#: The status counted for a request whose client left before it was read (nginx's "client
#: closed request"); no client ever sees it.
CLIENT_CLOSED_REQUEST = 499

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    421: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """An error the client should see, with the status that describes it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "server_error"),
            "param": param,
            "code": code,
        }
    }


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(error.status, error.message, error.param, error.code),
        status_code=error.status,
        headers=error.headers,
    )


def as_api_error(exc: BaseException) -> ApiError:
    """Translate a failure from anywhere below the API into what the client is told."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InvalidRequest):
        return ApiError(exc.status, exc.message, param=exc.param, code=exc.code)
    if isinstance(exc, UnknownModel):
        return ApiError(404, exc.message, param="model", code="model_not_found")
    if isinstance(exc, AllEnginesFailed):
        headers = {"x-voxgate-fallback": ", ".join(a.header() for a in exc.attempts)}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        code = {429: "engines_overloaded", 400: "unsupported_request"}.get(
            exc.status, "engines_unavailable"
        )
        return ApiError(exc.status, exc.message, code=code, headers=headers)
    if isinstance(exc, StreamInterrupted):
        return ApiError(502, exc.message, code="stream_interrupted")
    if isinstance(exc, RoutingError):
        return ApiError(exc.status, exc.message, code="no_engine")
    if isinstance(exc, EngineError):
        return ApiError(502, exc.message, code=exc.kind)
    if isinstance(exc, HTTPException):
        # Starlette's 405 names the methods the route takes in Allow (which HTTP requires).
        return ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
    return ApiError(500, "internal error; see the server log", code="internal_error")


async def handle_exception(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ClientDisconnect):
        # The client left while its request was still arriving: nobody reads an answer.
        log.info("request.client_gone", path=request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    error = as_api_error(exc)
    if error.status >= 500 and not isinstance(exc, RoutingError | EngineError):
        log.exception("api.unhandled", path=request.url.path, exc_info=exc)
    return error_response(error)
