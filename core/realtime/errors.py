"""Failures a client caused, reported as an error event while the session goes on."""

from __future__ import annotations


class RealtimeError(Exception):
    """A client event that could not be carried out; ``code`` is machine-readable."""

    def __init__(
        self, message: str, *, code: str = "invalid_value", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
