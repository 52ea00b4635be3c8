"""Which writing system a piece of text is in (enough to tell a voice it cannot read it)."""

from __future__ import annotations


def is_cjk(char: str) -> bool:
    """Chinese/Japanese ideographs, kana, and CJK or full-width punctuation."""
    code = ord(char)
    return (
        0x3000 <= code <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x3400 <= code <= 0x9FFF  # ideographs (and extension A)
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x20000 <= code <= 0x2FFFF
    )


def cjk_only(text: str) -> bool:
    """True when every letter in ``text`` is CJK (digits and punctuation do not count)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(is_cjk(c) for c in letters)
