"""What a client is told about an engine failure inside a session (an error on a reply or a
transcript; the session itself goes on)."""

from __future__ import annotations

from core.engines.errors import EngineError, InvalidRequest
from core.realtime.errors import RealtimeError
from core.realtime.events import ErrorInfo
from core.routing.errors import AllEnginesFailed, RoutingError, StreamInterrupted, UnknownModel


def failure_info(exc: BaseException) -> ErrorInfo:
    if isinstance(exc, RealtimeError):
        return ErrorInfo(exc.message, exc.code, param=exc.param)
    if isinstance(exc, InvalidRequest):
        return ErrorInfo(exc.message, "invalid_value", param=exc.param)
    if isinstance(exc, AllEnginesFailed):
        code = "engines_overloaded" if exc.status == 429 else "engines_unavailable"
        return ErrorInfo(exc.message, code, type="server_error")
    if isinstance(exc, UnknownModel):
        return ErrorInfo(exc.message, "model_not_found")
    if isinstance(exc, StreamInterrupted):
        return ErrorInfo(exc.message, "stream_interrupted", type="server_error")
    if isinstance(exc, RoutingError):
        return ErrorInfo(exc.message, "no_engine", type="server_error")
    if isinstance(exc, EngineError):
        return ErrorInfo(exc.message, exc.kind, type="server_error")
    return ErrorInfo("internal error; see the server log", "internal_error", type="server_error")
