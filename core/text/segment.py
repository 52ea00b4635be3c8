"""Cutting text into sentence-sized pieces for speech synthesis, in English and Chinese.

A TTS engine speaks one piece at a time, so the first piece decides how soon audio starts and
every piece must be short enough for the model. Pieces end at sentence punctuation
(``. ! ? ; …`` and ``。！？；``) or a line break. A period does not end a sentence inside a
number (``3.14``), after a title or an initial (``Dr. Smith``, ``J. K. Rowling``) or when a
lowercase word follows (``e.g. this``). Pieces shorter than ``min_chars`` are joined to the next
one (a lone "Hi." sounds clipped and costs a model call); pieces longer than ``max_chars`` are cut
at a clause break (``, : ， 、 ：``), else at a space, else hard.

:class:`SentenceSegmenter` works incrementally (text arriving token by token from an LLM) and
gives the same pieces as :func:`split_sentences` on the whole text.
"""

from __future__ import annotations

import re

from core.text.script import is_cjk

DEFAULT_MAX_CHARS = 250
DEFAULT_MIN_CHARS = 8

_CLOSERS = "\"'”’)]}」』》〉）"
_CJK_ENDS = frozenset("。！？；")
# A run of sentence punctuation with any closing quotes or brackets, or a line break.
_CANDIDATE = re.compile(r"\n|[.!?;…。！？；]+[" + re.escape(_CLOSERS) + r"]*")
# Where an over-long piece may be cut: after these; the ASCII ones only before whitespace.
_CLAUSE_BREAK = re.compile(r"[,:—–](?=\s)|[，、：]")
_OPENERS = "\"'“‘([{「『《〈（"

# A period after these words does not end the sentence ("Dr. Smith", "e.g. Paris").
_TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
        "st",
        "mt",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "rev",
        "hon",
        "gov",
        "pres",
        "sen",
        "rep",
        "messrs",
        "mme",
        "mlle",
        "fr",
        "supt",
        "insp",
        "det",
        "e.g",
        "i.e",
        "cf",
        "viz",
        "vs",
        "approx",
        "al",
        "ca",
    ]
)
# ... nor after these when a number follows ("No. 5", "vol. 2").
_BEFORE_NUMBERS = frozenset(
    ["no", "nos", "vol", "vols", "p", "pp", "ch", "sec", "fig", "figs", "art", "op"]
)


def _word_before(text: str, index: int) -> str:
    head = text[:index].rsplit(None, 1)
    return head[-1].lstrip(_OPENERS) if head else ""


def _period_continues(text: str, start: int, following: str) -> bool:
    """Whether a lone period at ``start`` belongs to an abbreviation, not a sentence end."""
    word = _word_before(text, start).lower()
    if word in _TITLES:
        return True
    if word in _BEFORE_NUMBERS and following.isdigit():
        return True
    original = _word_before(text, start)
    return len(original) == 1 and original.isalpha() and original.isupper()


def _next_boundary(text: str, final: bool) -> int | None:
    """End of the first sentence in ``text``, or ``None`` while that is not yet certain.

    ``final`` says no more text will arrive, so the end of ``text`` is a boundary too.
    """
    for match in _CANDIDATE.finditer(text):
        run = match.group()
        end = match.end()
        if run == "\n":
            return end
        punct = run.rstrip(_CLOSERS)
        if end == len(text):
            # More punctuation or a closing quote may still arrive.
            return end if final else None
        if any(c in _CJK_ENDS for c in punct) or is_cjk(text[end]):
            return end
        if not text[end].isspace():
            continue  # "3.14", "e.g.x", "Hello.World"
        rest = text[end:].lstrip()
        if not rest:
            return end if final else None
        following = rest[0]
        if punct != ";" and following.islower():
            continue  # "e.g. this", "Wait... what", "'Stop!' she said"
        if punct == "." and _period_continues(text, match.start(), following):
            continue
        return end
    return len(text) if final else None


def _cut_point(text: str, limit: int) -> int:
    """Where to cut a piece longer than ``limit``: a clause break, else a space, else ``limit``."""
    window = text[: limit + 1]
    floor = limit // 3  # cutting earlier than this would leave a tiny first piece
    breaks = [m.end() for m in _CLAUSE_BREAK.finditer(window) if floor <= m.end() <= limit]
    if breaks:
        return breaks[-1]
    space = max((i for i, c in enumerate(window) if c.isspace() and i >= floor), default=-1)
    return space if space > 0 else limit


def _tidy(piece: str) -> str:
    return " ".join(piece.split())


def _join(first: str, second: str) -> str:
    if is_cjk(first[-1]) or is_cjk(second[0]):
        return first + second
    return f"{first} {second}"


def _speakable(piece: str) -> bool:
    return any(c.isalnum() for c in piece)


class SentenceSegmenter:
    """Incremental segmentation: :meth:`feed` text as it arrives, :meth:`flush` at the end.

    Each call returns the pieces that became final; a piece is held back only until the text that
    decides where it ends (or whether it is long enough) has arrived.
    """

    def __init__(
        self, *, max_chars: int = DEFAULT_MAX_CHARS, min_chars: int = DEFAULT_MIN_CHARS
    ) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        if not 0 <= min_chars <= max_chars:
            raise ValueError("min_chars must be between 0 and max_chars")
        self.max_chars = max_chars
        self.min_chars = min_chars
        self._buffer = ""
        self._held = ""  # a tiny piece waiting to be joined to the next one

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """Everything still buffered, as final pieces; the segmenter is then empty and reusable."""
        out = self._drain(final=True)
        if self._held:
            out.append(self._held)
            self._held = ""
        return out

    def _drain(self, *, final: bool) -> list[str]:
        out: list[str] = []
        while True:
            self._buffer = self._buffer.lstrip()
            if not self._buffer:
                return out
            end = _next_boundary(self._buffer, final)
            if end is None:
                if len(self._buffer) <= self.max_chars:
                    return out
                # No end in sight and already too long: cut now, so speech can start.
                end = _cut_point(self._buffer, self.max_chars)
            sentence, self._buffer = self._buffer[:end], self._buffer[end:]
            for piece in self._cap(sentence):
                out.extend(self._merge(piece))

    def _cap(self, sentence: str) -> list[str]:
        pieces: list[str] = []
        rest = sentence.strip()
        while len(rest) > self.max_chars:
            cut = _cut_point(rest, self.max_chars)
            pieces.append(rest[:cut])
            rest = rest[cut:].lstrip()
        pieces.append(rest)
        return [_tidy(p) for p in pieces if _speakable(p)]

    def _merge(self, piece: str) -> list[str]:
        out: list[str] = []
        if self._held:
            joined = _join(self._held, piece)
            if len(joined) <= self.max_chars:
                piece = joined
            else:
                out.append(self._held)
            self._held = ""
        if len(piece) < self.min_chars:
            self._held = piece
        else:
            out.append(piece)
        return out


def split_sentences(
    text: str, *, max_chars: int = DEFAULT_MAX_CHARS, min_chars: int = DEFAULT_MIN_CHARS
) -> list[str]:
    """All pieces of ``text`` at once (what feeding it to a :class:`SentenceSegmenter` gives)."""
    segmenter = SentenceSegmenter(max_chars=max_chars, min_chars=min_chars)
    return segmenter.feed(text) + segmenter.flush()
