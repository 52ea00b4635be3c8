"""Small value types used across the configuration: durations and byte sizes."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


def parse_duration(value: Any) -> Any:
    """Seconds as a number, or a string such as ``250ms``, ``30s``, ``5m``, ``1h``."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration such as 30, '250ms', '30s', '5m' or '1h'")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


def parse_size(value: Any) -> Any:
    """Bytes as a number, or a string such as ``25MB``, ``512k``, ``1GiB``."""
    if isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError("expected a size such as 1048576, '512KB', '25MB' or '1GiB'")
        unit = (match.group(2) or "").lower()
        power = "bkmg".index(unit[0]) if unit else 0
        base = 1024 if "i" in unit else 1000
        return int(float(match.group(1)) * base**power)
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
ByteSize = Annotated[int, BeforeValidator(parse_size)]
