"""How long a pause must last before the user's turn is over.

``server_vad`` waits a fixed ``silence_duration_ms``. ``semantic_vad`` looks at what was said so
far (the transcript of the speech before the pause, which the session makes as soon as the pause
begins) and waits briefly when it sounds finished, longer when it trails off:

- finished: the text ends in ``?``, or in ``.`` or ``!`` after a word that does not usually
  lead on (a conjunction, article, preposition, determiner or filler such as "and", "the",
  "to", "um"; a question may end in a preposition: "what is it for?");
- otherwise (no end punctuation, a comma, an ellipsis, or a leading-on last word) it is
  unfinished.

==========  ========  ==========
eagerness   finished  unfinished
==========  ========  ==========
high        150 ms    800 ms
medium      300 ms    2000 ms
auto        300 ms    2000 ms
low         800 ms    4000 ms
==========  ========  ==========

While the transcript is not known yet the turn waits (at most the unfinished time).
"""

from __future__ import annotations

import re

from core.config.schema import SemanticVadSettings, ServerVadSettings

_WAITS_MS: dict[str, tuple[float, float]] = {
    "high": (150.0, 800.0),
    "medium": (300.0, 2000.0),
    "auto": (300.0, 2000.0),
    "low": (800.0, 4000.0),
}

#: Last words after which a speaker usually goes on.
_LEADING_ON = frozenset(
    (
        "and",
        "or",
        "but",
        "so",
        "because",
        "since",
        "although",
        "though",
        "while",
        "if",
        "unless",
        "until",
        "than",
        "then",
        "that",
        "which",
        "who",
        "whose",
        "whom",
        "where",
        "when",
        "whether",
        "the",
        "a",
        "an",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "about",
        "into",
        "onto",
        "over",
        "under",
        "between",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "some",
        "any",
        "um",
        "uh",
        "er",
        "erm",
        "hmm",
    )
)
_WORD = re.compile(r"[a-z']+")


def looks_finished(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped.endswith(("...", "…", ",", ";", ":", "-")):
        return False
    if stripped[-1] not in ".?!":
        return False
    words = _WORD.findall(stripped.lower())
    if not words:
        return False
    return stripped[-1] == "?" or words[-1] not in _LEADING_ON


def required_pause_ms(
    detection: ServerVadSettings | SemanticVadSettings, transcript: str | None
) -> float | None:
    """The pause that ends the turn; None while it depends on a transcript not known yet."""
    if isinstance(detection, ServerVadSettings):
        return float(detection.silence_duration_ms)
    if transcript is None:
        return None
    finished, unfinished = _WAITS_MS[detection.eagerness]
    return finished if looks_finished(transcript) else unfinished


def longest_pause_ms(detection: ServerVadSettings | SemanticVadSettings) -> float:
    """The pause after which the turn ends whatever was said."""
    if isinstance(detection, ServerVadSettings):
        return float(detection.silence_duration_ms)
    return _WAITS_MS[detection.eagerness][1]
