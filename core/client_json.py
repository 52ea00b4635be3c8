"""JSON text from clients, read so that every way it can be unreadable is one error.

HTTP bodies, form fields, Realtime and live-transcription frames and Wyoming headers all parse
text a client wrote. Beyond malformed JSON, such text can be nested past the parser's recursion
limit, hold an integer of more digits than Python converts, or hold a lone UTF-16 surrogate
(``\\ud800`` without its pair) that parses but can never be encoded as UTF-8 again, so echoing
or logging it fails later, far from the input. Each front door turns :class:`UnreadableJson`
into its own protocol's error.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: A JSON escape of a UTF-16 surrogate: only then can decoded text hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class UnreadableJson(ValueError):
    """``reason`` completes a sentence about the text ("the event " + reason)."""

    def __init__(self, reason: str, code: str = "invalid_json") -> None:
        super().__init__(reason)
        self.reason = reason
        #: ``invalid_json``, or ``invalid_unicode`` for a lone surrogate.
        self.code = code


def read_client_json(raw: bytes | str) -> Any:
    """The value ``raw`` holds; raises :class:`UnreadableJson` saying what is wrong with it."""
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UnreadableJson(f"is not valid JSON: {exc}") from None
    except RecursionError:
        raise UnreadableJson("is nested too deeply") from None
    except ValueError:
        # An integer of more digits than Python converts (sys.get_int_max_str_digits()).
        raise UnreadableJson("holds a number too long to read") from None
    if _holds_lone_surrogate(raw, data):
        raise UnreadableJson(
            "holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), "
            "which is not valid Unicode text",
            code="invalid_unicode",
        )
    return data


def _holds_lone_surrogate(raw: bytes | str, data: Any) -> bool:
    encoded = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if not _SURROGATE_ESCAPE.search(encoded):  # the common case: no walk at all
        return False
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
