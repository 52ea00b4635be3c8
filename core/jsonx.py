"""Fast JSON on the hot paths (orjson), with the standard library's behaviour as the fallback.

orjson refuses a few things the standard library accepts (integers beyond 64 bits, ``NaN`` in
input, non-string keys); those rare values go through ``json`` instead, so callers see the same
results either way, only faster in the common case.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a broken install alive
    orjson = None  # type: ignore[assignment]


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII text as is, not escaped)."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except TypeError:
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """Parse JSON; malformed input raises ``ValueError`` (``json.JSONDecodeError``)."""
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)
