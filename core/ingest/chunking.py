"""Chunking text for retrieval: about ``size`` characters, overlapping, sentences kept whole.

Text is cut into sentences (a sentence longer than a chunk is cut at a clause mark or a space, or
anywhere for CJK). Sentences are packed into chunks, which end at a paragraph break when one falls
late enough; a chunk cut inside a paragraph is followed by one that repeats its last sentence or
two (about ``overlap`` characters), so no passage loses its context at the cut.
A CJK character counts as two towards the size: it carries about as much as two Latin letters,
and embedding models spend at least one token on each. Every chunk keeps its character offsets
into the original text, so a citation can point at the exact passage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate

from core.text.script import is_cjk

# A sentence ends at Latin end punctuation before a space (closing quotes may follow), at CJK end
# marks (no space needed) or at a line break inside a paragraph.
_SENTENCE_END = re.compile(
    r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)|[\u3002\uff01\uff1f\u2026]+[\u201d\u2019\u300d\u300f\uff09]*|\n"
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# Where an over-long sentence is best cut: after clause punctuation, else after a space.
_CLAUSE_MARK = re.compile(r"[,;:\uff0c\uff1b\uff1a\u3001]")
#: How far past ``overlap`` a repeated sentence may go ("about" 100 characters).
_OVERLAP_SLACK = 1.5
#: A chunk ends early at a paragraph break only once it holds this share of ``size``.
_PARAGRAPH_FILL = 0.5


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    ends_paragraph: bool


class _Weights:
    """Prefix sums of character weights, so any span's size is one subtraction."""

    def __init__(self, text: str) -> None:
        self._sums = [0, *accumulate(2 if is_cjk(ch) else 1 for ch in text)]

    def of(self, start: int, end: int) -> int:
        return self._sums[end] - self._sums[start]

    def furthest_end(self, start: int, end: int, budget: int) -> int:
        """The last position in (start, end] whose span from ``start`` fits ``budget``."""
        position = start + 1
        while position < end and self.of(start, position + 1) <= budget:
            position += 1
        return position


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans = []
    cursor = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, len(text)))
    trimmed = (_trimmed(text, a, b) for a, b in spans)
    return [(a, b) for a, b in trimmed if a < b]


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, match.end()))
        cursor = match.end()
    spans.append((cursor, end))
    trimmed = (_trimmed(text, a, b) for a, b in spans)
    return [(a, b) for a, b in trimmed if a < b]


def _hard_cuts(
    text: str, start: int, end: int, size: int, weights: _Weights
) -> list[tuple[int, int]]:
    """An over-long sentence in pieces that fit, cut at clause marks or spaces where possible."""
    pieces = []
    while weights.of(start, end) > size:
        limit = weights.furthest_end(start, end, size)
        window = text[start:limit]
        floor = len(window) // 3  # never cut so early that pieces get tiny
        marks = [m.end() for m in _CLAUSE_MARK.finditer(window) if m.end() > floor]
        space = window.rfind(" ")
        if marks:
            cut = start + marks[-1]
        elif space > floor:
            cut = start + space
        else:
            cut = limit
        piece = _trimmed(text, start, cut)
        if piece[0] < piece[1]:
            pieces.append(piece)
        start = _trimmed(text, cut, end)[0]
    if start < end:
        pieces.append((start, end))
    return pieces


def _units(text: str, size: int, weights: _Weights) -> list[_Unit]:
    units: list[_Unit] = []
    for p_start, p_end in _paragraphs(text):
        pieces = [
            piece
            for s_start, s_end in _sentences(text, p_start, p_end)
            for piece in _hard_cuts(text, s_start, s_end, size, weights)
        ]
        units.extend(_Unit(a, b, i == len(pieces) - 1) for i, (a, b) in enumerate(pieces))
    return units


def chunk_text(text: str, size: int = 500, overlap: int = 100) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``size`` (CJK counting double), overlapping by about
    ``overlap``; sentences are never split unless one alone is longer than ``size``."""
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("chunk size must be positive and overlap smaller than it")
    weights = _Weights(text)
    units = _units(text, size, weights)
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        start = units[first].start
        last = first
        while last + 1 < len(units) and weights.of(start, units[last + 1].end) <= size:
            last += 1
        if last + 1 < len(units):
            # End at the last paragraph break that leaves the chunk reasonably full.
            for candidate in range(last, first, -1):
                if units[candidate].ends_paragraph:
                    if weights.of(start, units[candidate].end) >= size * _PARAGRAPH_FILL:
                        last = candidate
                    break
        end = units[last].end
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if last + 1 >= len(units):
            break
        # Cut inside a paragraph, the next chunk repeats the trailing sentences that fit in
        # about ``overlap``; at a paragraph break it starts afresh with the next paragraph.
        following = last + 1
        while (
            not units[last].ends_paragraph
            and following - 1 > first
            and weights.of(units[following - 1].start, end) <= overlap * _OVERLAP_SLACK
            and weights.of(units[following - 1].start, units[last + 1].end) <= size
        ):
            following -= 1
        first = following
    return chunks
