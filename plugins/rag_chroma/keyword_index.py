"""BM25 keyword search over chunks, updated in place as documents come and go.

Scores follow bm25s's default (Lucene) variant, so results match an index built from scratch by
bm25s; unlike bm25s this index takes additions and removals without a rebuild, which keeps writes
cheap on a collection of many thousand chunks. CJK text is tokenised into its characters and
overlapping character bigrams: bm25s's own tokenizer keeps a whole Chinese sentence as one token,
which matches nothing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Function words: they say nothing about a topic, and in a small collection a rare "my" or "can"
# scores as if it did.
_FUNCTION_WORDS = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further get
got had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves
"""
_STOPWORDS = frozenset(_FUNCTION_WORDS.split())
# CJK particles: a bigram holding one is mostly the seam between two words.
_PARTICLES = frozenset("的了吗呢吧啊呀么")
# Compact once dead slots outnumber live ones (and there are enough to be worth it).
_COMPACT_AT = 1000


def tokenize(text: str) -> list[str]:
    """Lower-cased words without stop words; for CJK text, every bigram of each run and every
    character but the particles (a lone character is its own token either way).

    Bigrams find the words a question shares with a passage; single characters find a
    paraphrase, which in Chinese often keeps one character of each word (退款 and 退钱) while
    sharing no bigram. Indexing both is the usual choice for Chinese BM25 (the README's RAG
    quality rows show what it changed)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    tokens = [w for w in _WORD.findall(_CJK_RUN.sub(" ", folded)) if w not in _STOPWORDS]
    for run in _CJK_RUN.findall(folded):
        tokens.extend(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
        if len(run) > 1:
            tokens.extend(char for char in run if char not in _PARTICLES)
    return tokens


def query_units(text: str) -> list[tuple[str, ...]]:
    """What a question asks for, one entry per word or CJK character: the tokens that find it
    (a word: itself; a CJK character: the bigrams it is part of). Stop words and particles are
    left out."""
    folded = unicodedata.normalize("NFKC", text).lower()
    units: list[tuple[str, ...]] = [
        (w,) for w in _WORD.findall(_CJK_RUN.sub(" ", folded)) if w not in _STOPWORDS
    ]
    for run in _CJK_RUN.findall(folded):
        if len(run) == 1:
            units.extend([(run,)] if run not in _PARTICLES else [])
            continue
        for at, char in enumerate(run):
            if char in _PARTICLES:
                continue
            grams = (run[at - 1 : at + 1], run[at : at + 2])[at == 0 :]
            units.append(tuple(g for g in grams if len(g) == 2 and not _PARTICLES & set(g)))
    return units


class KeywordIndex:
    """An in-memory BM25 index: postings per term plus, per chunk, its (term, count) pairs.

    Removing a chunk frees its slot; postings keep pointing at dead slots (masked out at query
    time) until enough have piled up, then everything is rebuilt compactly from the live slots.
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._vocabulary: dict[str, int] = {}
        self._document_frequency = array("q")
        # term id -> (slots, counts): appendable, and readable as numpy arrays without a copy
        self._postings: list[tuple[array[int], array[int]]] = []
        self._slot_of: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._pairs: list[npt.NDArray[np.int64] | None] = []
        self._lengths = array("q")
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._slot_of

    def add(self, chunks: Iterable[tuple[str, list[str]]]) -> None:
        """Index (chunk id, tokens) pairs; an id already present is replaced."""
        for chunk_id, tokens in chunks:
            if chunk_id in self._slot_of:
                self.remove([chunk_id])
            counts = Counter(self._term_id(token) for token in tokens)
            self._append(chunk_id, list(counts.items()), len(tokens))

    def remove(self, chunk_ids: Iterable[str]) -> None:
        for chunk_id in chunk_ids:
            slot = self._slot_of.pop(chunk_id, None)
            if slot is None:
                continue
            pairs = self._pairs[slot]
            if pairs is not None:
                for term in pairs[:, 0].tolist():
                    self._document_frequency[term] -= 1
            self._total_length -= self._lengths[slot]
            self._lengths[slot] = 0
            self._ids[slot] = None
            self._pairs[slot] = None
        dead = len(self._ids) - len(self._slot_of)
        if dead > _COMPACT_AT and dead > len(self._slot_of):
            self._compact()

    def _term_id(self, token: str) -> int:
        term = self._vocabulary.get(token)
        if term is None:
            term = self._vocabulary[token] = len(self._postings)
            self._postings.append((array("q"), array("q")))
            self._document_frequency.append(0)
        return term

    def _append(self, chunk_id: str, pairs: list[tuple[int, int]], length: int) -> None:
        slot = len(self._ids)
        for term, count in pairs:
            slots, counts = self._postings[term]
            slots.append(slot)
            counts.append(count)
            self._document_frequency[term] += 1
        self._slot_of[chunk_id] = slot
        self._ids.append(chunk_id)
        self._pairs.append(np.array(pairs, dtype=np.int64).reshape(-1, 2))
        self._lengths.append(length)
        self._total_length += length

    def _compact(self) -> None:
        """Rebuild from the live slots only, keeping the vocabulary's term ids."""
        live = [
            (chunk_id, self._pairs[slot], self._lengths[slot])
            for slot, chunk_id in enumerate(self._ids)
            if chunk_id is not None
        ]
        self._postings = [(array("q"), array("q")) for _ in self._postings]
        self._document_frequency = array("q", bytes(8 * len(self._postings)))
        self._slot_of, self._ids, self._pairs = {}, [], []
        self._lengths, self._total_length = array("q"), 0
        for chunk_id, pairs, length in live:
            assert pairs is not None
            self._append(chunk_id, [(int(t), int(c)) for t, c in pairs.tolist()], length)

    def coverage(self, question: str, chunk_id: str) -> float:
        """Share of the question found in the chunk, 0-1: its words and CJK characters weighted
        by IDF (one the collection never saw weighs as much as the rarest term), a character
        counting as found when a bigram holding it is in the chunk. Tells a chunk that holds
        what was asked from one that shares a word or two with it."""
        slot = self._slot_of.get(chunk_id)
        pairs = self._pairs[slot] if slot is not None else None
        if pairs is None:
            return 0.0
        present = set(pairs[:, 0].tolist())
        live = len(self._slot_of)
        unseen = math.log(1 + (live + 0.5) / 0.5)
        total = found = 0.0
        for unit in query_units(question):
            terms = [self._vocabulary.get(token) for token in unit]
            known = [t for t in terms if t is not None and self._document_frequency[t] > 0]
            weight = max((self._idf(t, live) for t in known), default=unseen)
            total += weight
            if any(t in present for t in known):
                found += weight
        return found / total if total else 0.0

    def _idf(self, term: int, live: int) -> float:
        frequency = self._document_frequency[term]
        return math.log(1 + (live - frequency + 0.5) / (frequency + 0.5))

    def search(
        self, question: str, k: int, allowed: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, score) best first; ``allowed`` restricts results (metadata filters)."""
        live = len(self._slot_of)
        if not live or k <= 0:
            return []
        terms = {self._vocabulary[t] for t in tokenize(question) if t in self._vocabulary}
        if not terms:
            return []
        lengths = np.frombuffer(self._lengths, dtype=np.int64).astype(np.float64)
        average = self._total_length / live if self._total_length else 1.0
        scores = np.zeros(len(self._ids), dtype=np.float64)
        for term in terms:
            frequency = self._document_frequency[term]
            if frequency <= 0:
                continue
            slot_buffer, count_buffer = self._postings[term]
            slots = np.frombuffer(slot_buffer, dtype=np.int64)
            counts = np.frombuffer(count_buffer, dtype=np.int64).astype(np.float64)
            idf = self._idf(term, live)
            norm = self.k1 * (1 - self.b + self.b * lengths[slots] / average)
            scores[slots] += idf * counts / (counts + norm)
            del slots  # release the buffer view so the postings can grow again
        scores[lengths == 0] = 0.0  # dead slots (and empty chunks) never match
        hits = np.flatnonzero(scores > 0)
        if allowed is not None:
            keep = [slot for slot in hits.tolist() if self._ids[slot] in allowed]
            hits = np.array(keep, dtype=np.int64)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        ordered = hits[np.argsort(-scores[hits], kind="stable")]
        return [(str(self._ids[slot]), float(scores[slot])) for slot in ordered.tolist()]
