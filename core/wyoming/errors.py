"""What a Wyoming client is told when a request fails: an ``error`` event, then the connection
closes (Home Assistant reads until the answer it expects, so the close is what ends its wait).

Engine and routing failures get the same message and code as the HTTP API gives them.
"""

from __future__ import annotations

from typing import Literal

from wyoming.error import Error
from wyoming.event import Event

from core.api.errors import as_api_error

#: How a request ended, for the metrics: served, the client's fault, too busy, broken, or the
#: client left before the answer was complete.
Outcome = Literal["ok", "refused", "busy", "failed", "gone"]


class Refusal(Exception):
    """Something the client sent cannot be served; ``code`` goes into the error event."""

    def __init__(self, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def error_event(exc: BaseException) -> tuple[Event, Outcome]:
    """The event telling the client about ``exc``, and the outcome it counts as."""
    if isinstance(exc, Refusal):
        return Error(text=exc.message, code=exc.code).event(), "refused"
    error = as_api_error(exc)
    code = error.code or ("invalid_request" if error.status < 500 else "server_error")
    outcome: Outcome = (
        "busy" if error.status == 429 else "refused" if error.status < 500 else "failed"
    )
    return Error(text=error.message, code=code).event(), outcome
