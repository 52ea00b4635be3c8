"""Chunking keeps offsets exact, sentences whole, paragraphs together and overlaps small."""

from __future__ import annotations

import itertools
import re

import pytest

from core.ingest.chunking import chunk_text
from core.text.script import is_cjk

ENGLISH = "\n\n".join(
    " ".join(f"Paragraph {p} sentence {s} talks about topic {p * 10 + s}." for s in range(8))
    for p in range(6)
)
CHINESE = "今天天气很好。我们去公园散步吧！" * 40
MIXED = ENGLISH + "\n\n" + CHINESE + "\n\n" + "“你好！”他说。Then he left."


def weight(text: str) -> int:
    return sum(2 if is_cjk(ch) else 1 for ch in text)


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, MIXED])
def test_offsets_point_at_the_chunk_text_and_cover_it(text: str) -> None:
    chunks = chunk_text(text, size=300, overlap=60)
    assert len(chunks) > 2
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert weight(chunk.text) <= 300
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_sentences_are_whole_and_chunks_overlap_by_about_the_overlap() -> None:
    chunks = chunk_text(ENGLISH, size=300, overlap=100)
    for chunk in chunks:
        assert chunk.text.startswith("Paragraph") and chunk.text.endswith(".")
    overlaps = [a.end - b.start for a, b in itertools.pairwise(chunks) if b.start < a.end]
    assert len(overlaps) >= len(chunks) // 2
    assert all(0 < o <= 150 for o in overlaps)


def test_chunks_prefer_to_end_at_paragraph_breaks() -> None:
    first = "The first paragraph has a sentence. And another one here. Then a third one."
    second = "Second paragraph, sentence one. Sentence two is here. Sentence three ends it."
    text = f"{first}\n\n{second}"
    # Packing sentences greedily would take two sentences of the second paragraph as well.
    chunks = chunk_text(text, size=140, overlap=0)
    assert [c.text for c in chunks] == [first, second]
    # A break too early in the chunk is not worth it: then sentences are packed to the size.
    chunks = chunk_text("Tiny.\n\n" + second + " " + second, size=100, overlap=0)
    assert chunks[0].text.startswith("Tiny.\n\nSecond paragraph")


def test_cjk_counts_double_and_is_cut_at_its_own_sentence_marks() -> None:
    chunks = chunk_text(CHINESE, size=100, overlap=20)
    for chunk in chunks:
        assert chunk.text.endswith(("。", "！"))
        assert len(chunk.text) <= 50  # 100 weight = 50 ideographs
    quoted = chunk_text("他说：“走吧！”我们便走了。" * 20, size=60, overlap=0)
    assert all(re.search(r"[。！]”?$", c.text) for c in quoted)


def test_a_sentence_longer_than_a_chunk_is_cut_at_clauses_or_spaces() -> None:
    words = "word " * 1000
    assert all(len(c.text) <= 200 for c in chunk_text(words, size=200, overlap=0))
    assert all(not c.text.endswith("wor") for c in chunk_text(words, size=200, overlap=0))
    clauses = "，".join(["这是一个很长的分句"] * 60) + "。"
    pieces = chunk_text(clauses, size=100, overlap=0)
    assert all(c.text.endswith(("，", "。")) for c in pieces)


def test_tiny_and_empty_texts() -> None:
    assert chunk_text("") == []
    assert chunk_text("   \n\n  ") == []
    [only] = chunk_text("  Hello.  ")
    assert (only.start, only.end, only.text) == (2, 8, "Hello.")


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        chunk_text("x", size=100, overlap=100)
