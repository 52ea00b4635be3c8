"""Chunking text for retrieval: about ``size`` characters, overlapping, sentences kept whole.

Paragraphs are packed first; a paragraph too long for one chunk is packed sentence by sentence;
a sentence too long for one chunk is cut at a space (or anywhere, for CJK). Every chunk keeps its
character offsets into the original text, so a citation can point at the exact passage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Sentence ends: Latin punctuation followed by space, or CJK marks (no space needed).
_SENTENCE = re.compile(r"[^.!?。！？；;\n]*(?:[.!?]+(?=\s|$)|[。！？；;]+|\n|$)")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    start: int
    end: int
    text: str


def _spans(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank pieces of ``text[start:end]`` separated by ``pattern`` matches."""
    spans = []
    cursor = start
    for match in pattern.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    for match in _SENTENCE.finditer(text, start, end):
        if match.end() > match.start() and text[match.start() : match.end()].strip():
            spans.append((match.start(), match.end()))
    return spans


def _hard_cut(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    pieces = []
    while end - start > size:
        window = text[start : start + size]
        space = window.rfind(" ")
        cut = start + space if space > size // 2 else start + size
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def _units(text: str, size: int) -> list[tuple[int, int]]:
    """The smallest pieces chunks are made of: paragraphs, else sentences, else hard cuts."""
    units: list[tuple[int, int]] = []
    for p_start, p_end in _spans(text, _PARAGRAPH_BREAK, 0, len(text)):
        if p_end - p_start <= size:
            units.append((p_start, p_end))
            continue
        for s_start, s_end in _sentences(text, p_start, p_end):
            units.extend(_hard_cut(text, s_start, s_end, size))
    return units


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_text(text: str, size: int = 500, overlap: int = 100) -> list[Chunk]:
    """Split ``text`` into chunks of about ``size`` characters overlapping by about ``overlap``."""
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("chunk size must be positive and overlap smaller than it")
    units = _units(text, size)
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last = first
        while last + 1 < len(units) and units[last + 1][1] - units[first][0] <= size:
            last += 1
        start, end = _trimmed(text, units[first][0], units[last][1])
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if last + 1 >= len(units):
            break
        # The next chunk starts with the trailing units that fit in the overlap.
        following = last + 1
        while following - 1 > first and units[last][1] - units[following - 1][0] <= overlap:
            following -= 1
        first = following
    return chunks
