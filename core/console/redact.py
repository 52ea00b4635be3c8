"""Hiding secrets from what the console shows of the configuration.

Secrets belong in the environment (the YAML names variables such as ``api_key_env``), but a
file may still hold one by mistake: values under secret-looking keys are masked both in the
resolved configuration and in the file text, keeping line numbers intact for ``config check``.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "********"

#: Names ending in a secret's word (``api_key``, ``auth_token``), not ones merely containing it
#: (``max_output_tokens``, ``api_key_env``, ``api_key_header``).
_SECRET_KEY = re.compile(
    r"^(.*[_-])?(api[_-]?key|password|passwd|secret|token|credentials?|private[_-]key)$",
    re.IGNORECASE,
)
#: ``key: value`` on one YAML line (a mapping entry, possibly a list item's first key).
_YAML_ENTRY = re.compile(r"^(\s*(?:-\s+)?[\"']?)([\w.-]+)([\"']?\s*:\s+)(\S.*)$")


def is_secret_key(key: str) -> bool:
    """Secret-looking names (never those naming an environment variable, ``*_env``)."""
    return bool(_SECRET_KEY.match(key))


def redact(value: Any) -> Any:
    """A copy of JSON-like data with every secret-looking key's value masked."""
    if isinstance(value, dict):
        return {
            k: (MASK if is_secret_key(str(k)) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_yaml(text: str) -> str:
    """The YAML text with values of secret-looking keys masked, line for line."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        match = _YAML_ENTRY.match(body)
        if match and is_secret_key(match.group(2)) and not match.group(4).startswith("#"):
            line = match.group(1) + match.group(2) + match.group(3) + MASK + line[len(body) :]
        out.append(line)
    return "".join(out)
