"""Reading JSON a client wrote: every way it can be unreadable is one error, with its reason."""

from __future__ import annotations

import pytest

from core.client_json import UnreadableJson, read_client_json


@pytest.mark.parametrize(
    ("raw", "reason", "code"),
    [
        ('{"a": ', "is not valid JSON: Expecting value", "invalid_json"),
        (b"\xff\xfe{", "is not valid JSON", "invalid_json"),
        ("[" * 100_000 + "]" * 100_000, "is nested too deeply", "invalid_json"),
        ('{"n": ' + "9" * 5000 + "}", "holds a number too long to read", "invalid_json"),
        ('{"text": "hi \\ud800"}', "holds a lone UTF-16 surrogate", "invalid_unicode"),
        ('{"\\udfff": 1}', "holds a lone UTF-16 surrogate", "invalid_unicode"),
        (b'["a", ["\\uDBFF"]]', "holds a lone UTF-16 surrogate", "invalid_unicode"),
    ],
    ids=["malformed", "not_utf8", "too_deep", "long_number", "surrogate", "key", "nested"],
)
def test_unreadable_text_says_why(raw: str | bytes, reason: str, code: str) -> None:
    with pytest.raises(UnreadableJson) as caught:
        read_client_json(raw)
    assert caught.value.reason.startswith(reason)
    assert caught.value.code == code


def test_readable_text_comes_back_whole() -> None:
    # A surrogate pair is one character; escapes of other characters are no surrogates.
    assert read_client_json('{"emoji": "\\ud83d\\ude00", "e": "\\u00e9", "n": 12}') == {
        "emoji": "\U0001f600",
        "e": "é",
        "n": 12,
    }
    assert read_client_json(b"[1, 2.5, null]") == [1, 2.5, None]
