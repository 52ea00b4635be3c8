"""Word error rate, for checking transcripts against the text that was spoken."""

from __future__ import annotations

import re

_NOT_WORD = re.compile(r"[^a-z0-9']+")
#: Titles a transcriber writes short and a reference spells out as they are spoken.
_SPOKEN_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor"}


def normalized_words(text: str) -> list[str]:
    """Lowercase words; punctuation and hyphens separate words, apostrophes are dropped, and
    the titles Mr, Mrs and Dr are read as spoken."""
    words = (w.replace("'", "") for w in _NOT_WORD.split(text.lower().replace("’", "'")) if w)
    return [_SPOKEN_TITLES.get(w, w) for w in words]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance between the word sequences (substitutions, insertions, deletions) divided
    by the number of reference words."""
    ref, hyp = normalized_words(reference), normalized_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    # distances[j]: edits turning the first i reference words into the first j hypothesis words.
    distances = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        diagonal, distances[0] = distances[0], i
        for j in range(1, len(hyp) + 1):
            substitution = diagonal + (ref[i - 1] != hyp[j - 1])
            diagonal = distances[j]
            distances[j] = min(substitution, distances[j] + 1, distances[j - 1] + 1)
    return distances[len(hyp)] / len(ref)


def corpus_word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Word errors over every pair divided by all reference words (long texts weigh more)."""
    errors = words = 0.0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        count = len(normalized_words(reference))
        errors += word_error_rate(reference, hypothesis) * count
        words += count
    return errors / words if words else 0.0
