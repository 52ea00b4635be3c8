"""Reading a request's text as a multi-speaker script and cutting it into segments.

A script has one turn per ``Speaker N: text`` line (a full-width colon works too; lines without
the prefix continue the turn above). Speakers are numbered as the writer likes (``Speaker 1``,
``Speaker 2`` or ``Speaker 0`` ...); the lowest number takes the request's first voice, the next
one the second, and so on. Plain text is one turn of one speaker.

Long turns are cut at sentence punctuation by the shared segmenter and the sentences packed
back together up to ``segment_chars``, so each segment is as long as allowed without cutting a
sentence (only a single sentence longer than the limit is cut, at a clause break).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.text.script import is_cjk
from core.text.segment import split_sentences

_SPEAKER_LINE = re.compile(r"^\s*speaker\s*(\d{1,3})\s*[:：]\s*(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Turn:
    #: Index into the request's voices (0 for the first speaker of the script).
    speaker: int
    text: str


def parse_turns(text: str) -> list[Turn]:
    """The script's turns, or one turn of speaker 0 when ``text`` is not a script."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not _SPEAKER_LINE.match(lines[0]):
        return [Turn(0, text.strip())]
    raw: list[tuple[int, list[str]]] = []
    for line in lines:
        match = _SPEAKER_LINE.match(line)
        if match:
            raw.append((int(match.group(1)), [match.group(2).strip()]))
        else:
            raw[-1][1].append(line.strip())
    ranks = {number: rank for rank, number in enumerate(sorted({n for n, _ in raw}))}
    turns = [Turn(ranks[number], _joined(parts)) for number, parts in raw]
    return [turn for turn in turns if _speakable(turn.text)]


def speaker_count(turns: list[Turn]) -> int:
    return max((turn.speaker for turn in turns), default=-1) + 1


def pack_sentences(text: str, limit: int) -> list[str]:
    """``text`` as pieces of at most ``limit`` characters, each ending at a sentence end where
    possible."""
    pieces: list[str] = []
    for sentence in split_sentences(text, max_chars=limit, min_chars=0):
        if pieces and len(_join(pieces[-1], sentence)) <= limit:
            pieces[-1] = _join(pieces[-1], sentence)
        else:
            pieces.append(sentence)
    return pieces


def _join(first: str, second: str) -> str:
    if not first:
        return second
    if is_cjk(first[-1]) or is_cjk(second[0]):
        return first + second
    return f"{first} {second}"


def _joined(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if part:
            text = _join(text, part)
    return text


def _speakable(text: str) -> bool:
    return any(c.isalnum() for c in text)
