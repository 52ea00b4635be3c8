"""The incremental BM25 index scores exactly like bm25s built from scratch, through additions,
removals, replacements and compaction; CJK text is searchable."""

from __future__ import annotations

import random

import bm25s
import pytest

from plugins.rag_chroma.keyword_index import KeywordIndex, tokenize

# fmt: off
WORDS = [
    "river", "mountain", "engine", "market", "garden", "signal", "winter", "copper", "harbor",
    "lantern", "orbit", "meadow", "canyon", "ledger", "violin", "glacier", "compass", "thunder",
]
# fmt: on


def corpus(rng: random.Random, start: int, count: int) -> dict[str, list[str]]:
    return {
        f"c{n}": [rng.choice(WORDS) for _ in range(rng.randint(3, 40))]
        for n in range(start, start + count)
    }


def index_of(texts: dict[str, str]) -> KeywordIndex:
    """An index of ``texts`` (chunk id: text), tokenised as the engine tokenises chunks."""
    index = KeywordIndex()
    index.add((chunk_id, tokenize(text)) for chunk_id, text in texts.items())
    return index


def assert_matches_bm25s(index: KeywordIndex, live: dict[str, list[str]], query: str) -> None:
    ids = list(live)
    reference = bm25s.BM25()  # defaults: Lucene variant, k1 1.5, b 0.75, like ours
    reference.index([live[i] for i in ids], show_progress=False)
    terms = list(dict.fromkeys(t for t in tokenize(query) if t in reference.vocab_dict))
    expected = {ids[n]: float(s) for n, s in enumerate(reference.get_scores(terms)) if s > 0}
    got = dict(index.search(query, len(live)))
    assert got.keys() == expected.keys()
    for chunk_id, score in got.items():
        assert score == pytest.approx(expected[chunk_id], rel=1e-5)


def test_scores_match_bm25s_through_adds_removes_and_compaction() -> None:
    rng = random.Random(11)
    live = corpus(rng, 0, 1500)
    index = KeywordIndex()
    index.add(live.items())
    assert_matches_bm25s(index, live, "copper harbor lantern")

    gone = rng.sample(sorted(live), 1300)  # enough dead slots to trigger a compaction
    index.remove(gone)
    for chunk_id in gone:
        del live[chunk_id]
    fresh = corpus(rng, 5000, 200)
    index.add(fresh.items())
    live.update(fresh)
    replaced = {"c5000": ["violin", "violin", "orbit"]}
    index.add(replaced.items())  # an id already present is replaced
    live.update(replaced)
    assert len(index) == len(live)
    for query in ("copper harbor lantern", "violin orbit", "meadow", "glacier glacier compass"):
        assert_matches_bm25s(index, live, query)


def test_search_orders_limits_and_restricts() -> None:
    index = index_of({"a": "copper copper copper wire", "b": "copper wire", "c": "silver spoon"})
    assert [i for i, _ in index.search("copper", 10)] == ["a", "b"]
    assert [i for i, _ in index.search("copper", 1)] == ["a"]
    assert [i for i, _ in index.search("copper", 10, allowed={"b", "c"})] == ["b"]
    assert index.search("gold", 10) == []
    assert index.search("the of and", 10) == []  # stop words only
    index.remove(["a", "b", "c"])
    assert index.search("copper", 10) == [] and len(index) == 0


def test_cjk_text_is_tokenised_into_bigrams_and_characters() -> None:
    assert tokenize("龙井茶产自杭州") == [
        *["龙井", "井茶", "茶产", "产自", "自杭", "杭州"],
        *["龙", "井", "茶", "产", "自", "杭", "州"],
    ]
    assert tokenize("茶") == ["茶"]
    # Particles are no token of their own (they still join bigrams).
    assert tokenize("好的") == ["好的", "好"]
    # Full-width Latin letters and digits fold to ASCII.
    assert tokenize("Ｎ先生 ２０２４ Hello") == ["n", "2024", "hello", "先生", "先", "生"]
    index = index_of({"tea": "龙井茶产自杭州西湖", "panda": "大熊猫吃竹子"})
    assert [i for i, _ in index.search("杭州的龙井", 5)] == ["tea"]


def test_a_cjk_paraphrase_sharing_no_bigram_is_found_by_its_characters() -> None:
    """退钱 and 退款 (a refund, said two ways) share no bigram, only 退."""
    index = index_of({"refund": "退款会在七个工作日内原路返回", "delivery": "包裹一般三天内送达"})
    assert [i for i, _ in index.search("怎么退钱", 5)] == ["refund"]


def test_coverage_is_the_share_of_the_question_a_chunk_holds() -> None:
    index = index_of(
        {
            "refund": "Refunds are credited to the original card within a week.",
            "generic": "You can do it with my account at any time.",
            "story": "孔乙己还欠十九个钱，酒店的掌柜记在粉板上。",
            "other": "鲁镇的酒店格局和别处不同。",
        }
    )
    assert index.coverage("refunds credited card", "refund") == pytest.approx(1.0)
    # Function words say nothing about the topic: only "refunds" is asked, and it is not there.
    assert index.coverage("Can I get my refunds?", "generic") == 0.0
    assert index.coverage("Can I get my refunds?", "refund") == pytest.approx(1.0)
    # A word the collection never saw counts against every chunk.
    assert 0 < index.coverage("refunds for eavesdropping", "refund") < 1
    # CJK: characters found through the bigrams holding them; particles are left out.
    full = index.coverage("孔乙己欠了酒店多少钱？", "story")
    assert full > index.coverage("孔乙己欠了酒店多少钱？", "other") > 0
    assert index.coverage("anything", "missing") == 0.0
