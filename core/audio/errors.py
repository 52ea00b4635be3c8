"""Audio errors; the API maps each to one HTTP status."""

from __future__ import annotations


class AudioError(Exception):
    """Base class for problems with audio a client sent or asked for."""


class AudioDecodeError(AudioError):
    """The bytes are not audio voxgate can decode (HTTP 415)."""


class AudioTooLarge(AudioError):
    """The audio is longer than the configured limit (HTTP 413)."""


class UnsupportedFormat(AudioError):
    """An output format that is unknown or whose encoder is not installed (HTTP 400)."""
