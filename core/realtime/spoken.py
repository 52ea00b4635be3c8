"""Which words of a spoken reply were heard, from where each sentence sits in the reply's audio.

Engines do not report word timings, so inside a sentence each word is placed in proportion to
its characters (a word's share of the sentence's letters is its share of the sentence's audio).
A word counts as heard only once its estimated end has played: cutting a reply keeps no word the
listener did not hear, at the cost of sometimes dropping the last word they did.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpokenSentence:
    text: str
    #: Where the sentence's audio starts and ends in the reply's audio (milliseconds).
    start_ms: float
    end_ms: float


def heard_words(sentence: SpokenSentence, played_ms: float) -> str:
    """The words of ``sentence`` whose audio had fully played by ``played_ms``."""
    if played_ms >= sentence.end_ms:
        return sentence.text
    if played_ms <= sentence.start_ms:
        return ""
    words = sentence.text.split()
    total = sum(len(w) for w in words) + max(len(words) - 1, 0)
    span = sentence.end_ms - sentence.start_ms
    kept: list[str] = []
    position = 0
    for word in words:
        position += len(word)
        if sentence.start_ms + span * position / max(total, 1) > played_ms:
            break
        kept.append(word)
        position += 1  # the space after it
    return " ".join(kept)


def heard_text(sentences: list[SpokenSentence], played_ms: float) -> str:
    parts = [heard_words(s, played_ms) for s in sentences]
    return " ".join(p for p in parts if p)
