"""Whole numbers a client wrote in a query string or a form field."""

from __future__ import annotations

#: More digits than any limit needs; ``int`` refuses numbers of thousands of digits anyway.
_MAX_DIGITS = 18


def ascii_int(raw: str) -> int | None:
    """``raw`` as a whole number written in ASCII digits, else None.

    ``str.isdigit`` alone also passes superscripts such as '²', which ``int`` refuses.
    """
    if raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS:
        return int(raw)
    return None
