"""CORS headers for browser apps on the data plane (which origins: core.api.request_guard).

Only the data plane answers browsers of other origins; ``/control`` never does. Credentials
(cookies) are never allowed: browser apps authenticate with a bearer key in a header.
"""

from __future__ import annotations

_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
#: Headers a page may read from answers: which engine served, why it fell back, when to retry.
_EXPOSED = b"x-voxgate-engine, x-voxgate-fallback, x-voxgate-voice, x-request-id, retry-after"
_DEFAULT_HEADERS = b"authorization, content-type, x-api-key, x-request-id, openai-beta"
#: Browsers may cache a preflight answer this long (seconds).
_MAX_AGE = b"600"

Headers = list[tuple[bytes, bytes]]


def is_preflight(method: str, headers: Headers) -> bool:
    return method == "OPTIONS" and any(k == b"access-control-request-method" for k, _ in headers)


def preflight_headers(origin: str, headers: Headers) -> Headers:
    requested = next((v for k, v in headers if k == b"access-control-request-headers"), None)
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", _METHODS),
        (b"access-control-allow-headers", requested or _DEFAULT_HEADERS),
        (b"access-control-max-age", _MAX_AGE),
        (b"vary", b"Origin"),
    ]


def response_headers(origin: str) -> Headers:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", _EXPOSED),
        (b"vary", b"Origin"),
    ]
