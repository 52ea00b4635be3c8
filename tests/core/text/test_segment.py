"""Sentence segmentation for TTS: English, Chinese, mixed, abbreviations, caps, streaming."""

from __future__ import annotations

import pytest

from core.text.script import cjk_only
from core.text.segment import DEFAULT_MIN_CHARS, SentenceSegmenter, split_sentences


def fed_piecewise(text: str, step: int, **options: int) -> list[str]:
    segmenter = SentenceSegmenter(**options)
    out: list[str] = []
    for start in range(0, len(text), step):
        out += segmenter.feed(text[start : start + step])
    return out + segmenter.flush()


@pytest.mark.parametrize(
    ("text", "min_chars", "expected"),
    [
        pytest.param(
            "Hello there. How are you today? I am fine! Thanks for asking; see you soon.",
            DEFAULT_MIN_CHARS,
            [
                "Hello there.",
                "How are you today?",
                "I am fine!",
                "Thanks for asking;",
                "see you soon.",
            ],
            id="english",
        ),
        pytest.param(
            "今天天气很好，我们去公园散步吧。你觉得怎么样？我非常喜欢这个主意！明天见；再见。",
            0,
            [
                "今天天气很好，我们去公园散步吧。",
                "你觉得怎么样？",
                "我非常喜欢这个主意！",
                "明天见；",
                "再见。",
            ],
            id="chinese-needs-no-spaces",
        ),
        pytest.param(
            "他说：“你好！”然后走了。",
            0,
            ["他说：“你好！”", "然后走了。"],
            id="closing-quotes-stay-chinese",
        ),
        pytest.param(
            'She said "Stop." Then she left.',
            DEFAULT_MIN_CHARS,
            ['She said "Stop."', "Then she left."],
            id="closing-quotes-stay-english",
        ),
        pytest.param(
            "Welcome to Beijing.欢迎来到北京！The weather is nice today. 今天很暖和。",
            0,
            ["Welcome to Beijing.", "欢迎来到北京！", "The weather is nice today.", "今天很暖和。"],
            id="mixed-english-and-chinese",
        ),
        pytest.param(
            "Dr. Smith paid $3.50 at 7 p.m. yesterday. J. K. Rowling met Mrs. Jones, e.g. at "
            "No. 5 Main Road. Pi is 3.14159 and version 2.0 is out.",
            DEFAULT_MIN_CHARS,
            [
                "Dr. Smith paid $3.50 at 7 p.m. yesterday.",
                "J. K. Rowling met Mrs. Jones, e.g. at No. 5 Main Road.",
                "Pi is 3.14159 and version 2.0 is out.",
            ],
            id="abbreviations-decimals-and-initials-do-not-end-sentences",
        ),
        pytest.param(
            "Wait... what happened? Well… I don't know. 'Run!' she shouted.",
            DEFAULT_MIN_CHARS,
            ["Wait... what happened?", "Well… I don't know.", "'Run!' she shouted."],
            id="ellipsis-and-lowercase-continuations",
        ),
        pytest.param(
            "First line without a stop\n\n  Second   line\twith tabs\r\nThird line.",
            DEFAULT_MIN_CHARS,
            ["First line without a stop", "Second line with tabs", "Third line."],
            id="newlines-end-pieces-and-whitespace-is-tidied",
        ),
    ],
)
def test_sentences_are_split(text: str, min_chars: int, expected: list[str]) -> None:
    assert split_sentences(text, min_chars=min_chars) == expected


def test_tiny_pieces_are_merged_with_the_next() -> None:
    assert split_sentences("Hi. Okay then, let us begin.") == ["Hi. Okay then, let us begin."]
    # Joining stops once the piece is long enough (8 characters by default).
    assert split_sentences("Hi. Yes. Okay then, let us begin.") == [
        "Hi. Yes.",
        "Okay then, let us begin.",
    ]
    assert split_sentences("Hi. Yes.", min_chars=0) == ["Hi.", "Yes."]
    # A tiny last piece still comes out.
    assert split_sentences("This is the whole story. Bye.") == ["This is the whole story.", "Bye."]
    # Merging never makes a piece longer than the cap.
    second = "This sentence fills the whole cap."
    assert split_sentences("Hi. " + second, max_chars=len(second)) == ["Hi.", second]


def test_very_long_sentence_is_cut_at_clause_breaks_then_spaces() -> None:
    clauses = ", ".join(f"clause number {i} goes here" for i in range(20)) + "."
    pieces = split_sentences(clauses, max_chars=80)
    assert len(pieces) > 5
    assert all(len(p) <= 80 for p in pieces)
    assert all(p.endswith((",", ".")) for p in pieces)
    assert " ".join(pieces) == clauses

    words = " ".join(["word"] * 100)
    pieces = split_sentences(words, max_chars=50)
    assert all(len(p) <= 50 for p in pieces)
    assert " ".join(pieces) == words


def test_long_chinese_without_commas_is_cut_hard_and_with_commas_at_them() -> None:
    run = "这是一个没有标点的很长的句子" * 20 + "。"
    pieces = split_sentences(run, max_chars=60)
    assert all(len(p) <= 60 for p in pieces)
    assert "".join(pieces) == run

    clauses = "，".join(["我们今天一起去公园散步"] * 12) + "。"
    pieces = split_sentences(clauses, max_chars=40)
    assert all(len(p) <= 40 for p in pieces)
    assert all(p.endswith(("，", "。")) for p in pieces)
    assert "".join(pieces) == clauses


def test_numbers_with_thousands_commas_are_not_cut() -> None:
    text = "The crowd of 1,250 people paid 9,999 dollars " + "and more " * 20
    pieces = split_sentences(text, max_chars=60)
    assert all("1,250" in p or "1," not in p for p in pieces)
    assert all(len(p) <= 60 for p in pieces)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t", "...", "— !? 。"])
def test_empty_whitespace_or_punctuation_only_gives_nothing(text: str) -> None:
    assert split_sentences(text) == []


@pytest.mark.parametrize("step", [1, 2, 3, 7, 50])
def test_incremental_feeding_gives_the_same_pieces(step: int) -> None:
    text = (
        "Dr. Smith paid $3.50 at 7 p.m. yesterday. Hi. 今天天气很好！他说：“你好！”然后走了。"
        "Wait... what happened?\nA list, with commas, and an ending that runs on and on "
        + "and on " * 30
        + "until it stops. Done."
    )
    assert fed_piecewise(text, step, max_chars=90) == split_sentences(text, max_chars=90)


def test_incremental_output_comes_as_soon_as_a_sentence_is_certain() -> None:
    segmenter = SentenceSegmenter()
    assert segmenter.feed("The first sentence is here") == []
    # The period might still belong to an abbreviation or a number: wait for what follows.
    assert segmenter.feed(".") == []
    assert segmenter.feed(" ") == []
    assert segmenter.feed("Then") == ["The first sentence is here."]
    # Chinese sentence ends need no following space, only a check for a closing quote.
    assert segmenter.feed(" more. 你好世界，今天很好。") == ["Then more."]
    assert segmenter.feed("明") == ["你好世界，今天很好。"]
    assert segmenter.flush() == ["明"]
    assert segmenter.flush() == []


def test_a_long_stream_without_punctuation_is_cut_before_it_ends() -> None:
    segmenter = SentenceSegmenter(max_chars=40)
    early: list[str] = []
    for _ in range(30):
        early += segmenter.feed("word ")
    assert early and all(len(p) <= 40 for p in early)


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError):
        SentenceSegmenter(max_chars=0)
    with pytest.raises(ValueError):
        SentenceSegmenter(max_chars=10, min_chars=11)


def test_cjk_only() -> None:
    assert cjk_only("你好，世界。123")
    assert cjk_only("こんにちは")
    assert not cjk_only("Hello 世界")
    assert not cjk_only("12, 34.")
