"""Hiding secrets from what the console shows of the configuration.

Secrets belong in the environment (the YAML names variables such as ``api_key_env``), but a
file may still hold one by mistake: values under secret-looking keys, and passwords inside URLs
(``valkey://:password@host``), are masked both in the resolved configuration and in the file's
text, line for line, so ``config check`` line numbers still match.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "********"

#: Names ending in a secret's word (``api_key``, ``auth_token``), not ones merely containing it
#: (``max_output_tokens``, ``api_key_env``, ``api_key_header``). Header names count too: an
#: engine's extra ``headers`` may carry ``Authorization: Bearer ...`` or a cookie.
_SECRET_KEY = re.compile(
    r"^(.*[_-])?(api[_-]?key|password|passwd|secret|token|credentials?|private[_-]key"
    r"|authorization|cookie)$",
    re.IGNORECASE,
)
#: ``key: value`` anywhere on a line, block or flow style (``{api_key: x, model: y}``).
_ENTRY = re.compile(
    r"""(?P<key>[\w.-]+)(?P<sep>["']?\s*:\s+)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,{}\[\]#](?:[^,}\]#]*[^\s,}\]#])?)"""
)
#: The password of ``scheme://user:password@host``.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]+@")


def is_secret_key(key: str) -> bool:
    """Secret-looking names (never those naming an environment variable, ``*_env``)."""
    return bool(_SECRET_KEY.match(key))


def redact(value: Any) -> Any:
    """A copy of JSON-like data with secret-looking values masked."""
    if isinstance(value, dict):
        return {
            k: (MASK if is_secret_key(str(k)) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(rf"\1{MASK}@", value)
    return value


def _mask_entry(match: re.Match[str]) -> str:
    if not is_secret_key(match.group("key")):
        return match.group(0)
    return match.group("key") + match.group("sep") + MASK


def _split_comment(line: str) -> tuple[str, str]:
    """A YAML line's code and its comment (a ``#`` at the start or after a space, unquoted)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index], line[index:]
    return line, ""


def redact_yaml(text: str) -> str:
    """The YAML text with secret-looking values masked; lines stay where they were."""
    out = []
    for line in text.splitlines(keepends=True):
        code, comment = _split_comment(line)
        code = _URL_PASSWORD.sub(rf"\1{MASK}@", _ENTRY.sub(_mask_entry, code))
        out.append(code + comment)
    return "".join(out)
