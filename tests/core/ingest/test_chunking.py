"""Chunking keeps offsets exact, sentences whole and overlaps small."""

from __future__ import annotations

import itertools

import pytest

from core.ingest.chunking import chunk_text

ENGLISH = "\n\n".join(
    " ".join(f"Paragraph {p} sentence {s} talks about topic {p * 10 + s}." for s in range(8))
    for p in range(6)
)
CHINESE = "今天天气很好。我们去公园散步吧！" * 40


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, ENGLISH + "\n\n" + CHINESE])
def test_offsets_point_at_the_chunk_text(text: str) -> None:
    chunks = chunk_text(text, size=300, overlap=60)
    assert len(chunks) > 2
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= 300
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_sentences_are_not_cut_and_chunks_overlap() -> None:
    chunks = chunk_text(ENGLISH, size=300, overlap=100)
    for chunk in chunks:
        assert chunk.text.startswith("Paragraph") and chunk.text.endswith(".")
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_cjk_text_is_cut_at_its_own_sentence_marks() -> None:
    for chunk in chunk_text(CHINESE, size=100, overlap=20):
        assert chunk.text.endswith(("。", "！"))


def test_a_single_huge_sentence_is_still_bounded() -> None:
    text = "word " * 1000
    assert all(len(c.text) <= 200 for c in chunk_text(text, size=200, overlap=0))


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        chunk_text("x", size=100, overlap=100)
