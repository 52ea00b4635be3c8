"""BM25 keyword search over chunks, with CJK text tokenised into character bigrams.

bm25s's own tokenizer keeps a Chinese sentence as one token (no spaces), which matches nothing;
overlapping bigrams are the usual dictionary-free answer for Chinese and Japanese.
"""

from __future__ import annotations

import re
from typing import Any

_WORD = re.compile(r"[0-9a-zà-öø-ÿ]+(?:'[a-z]+)?")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "how",
        "with",
        "does",
        "did",
        "do",
    ]
)


def tokenize(text: str) -> list[str]:
    lowered = text.lower()
    tokens = [w for w in _WORD.findall(_CJK_RUN.sub(" ", lowered)) if w not in _STOPWORDS]
    for run in _CJK_RUN.findall(lowered):
        tokens.extend(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
    return tokens


class KeywordIndex:
    """An in-memory BM25 index rebuilt from the store whenever the store changed."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._bm25: Any = None

    def build(self, ids: list[str], texts: list[str]) -> None:
        import bm25s

        self._ids = list(ids)
        corpus = [tokenize(t) or ["\u2205"] for t in texts]
        if not corpus:
            self._bm25 = None
            return
        bm25 = bm25s.BM25()
        bm25.index(corpus, show_progress=False)
        self._bm25 = bm25

    def search(
        self, question: str, k: int, allowed: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, score) best first; ``allowed`` restricts results (metadata filters)."""
        if self._bm25 is None or not self._ids:
            return []
        vocabulary = self._bm25.vocab_dict
        tokens = [t for t in tokenize(question) if t in vocabulary]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        order = scores.argsort()[::-1]
        results: list[tuple[str, float]] = []
        for index in order:
            score = float(scores[index])
            if score <= 0 or len(results) >= k:
                break
            chunk_id = self._ids[int(index)]
            if allowed is None or chunk_id in allowed:
                results.append((chunk_id, score))
        return results
