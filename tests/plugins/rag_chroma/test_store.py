"""Metadata filters and document metadata checked against what chroma accepts, so that a
client's mistake is its 400 and never reads as the store failing."""

from __future__ import annotations

from typing import Any

import pytest

from core.engines.errors import InvalidRequest
from plugins.rag_chroma.store import check_chroma_metadata, check_collection, chroma_where


@pytest.mark.parametrize(
    ("filters", "said"),
    [
        ({"year": {"$gt": "2020"}}, "filter 'year': $gt needs a number"),
        ({"ok": {"$lte": True}}, "filter 'ok': $lte needs a number"),
        ({"year": {"$in": [2020, "2021"]}}, "$in needs a non-empty list of values of one type"),
        ({"year": {"$nin": [1, 2.5]}}, "$nin needs a non-empty list of values of one type"),
        ({"$and": 5}, "cannot filter on '$and'"),
        ({"$or": [{"a": 1}, {"b": 2}]}, "cannot filter on '$or'"),
        ({"": 1}, "cannot filter on ''"),
        # Beyond SQLite's variables per statement, chroma failed and the store read as down.
        ({"author": {"$in": ["x"] * 40_000}}, "at most 1000"),
        ({"a": {"$in": list(range(600))}, "b": {"$nin": list(range(600))}}, "at most 1000"),
        ({f"k{n}": n for n in range(1001)}, "at most 1000"),
    ],
)
def test_filters_chroma_would_refuse_are_invalid_requests(
    filters: dict[str, Any], said: str
) -> None:
    with pytest.raises(InvalidRequest, match=said.replace("$", r"\$")) as caught:
        chroma_where(filters)
    assert caught.value.param == "filters"


def test_a_range_becomes_one_clause_per_operator() -> None:
    where = chroma_where({"year": {"$gte": 2020, "$lt": 2025}, "topic": "owls"})
    assert where == {"$and": [{"year": {"$gte": 2020}}, {"year": {"$lt": 2025}}, {"topic": "owls"}]}


def test_simple_filters_keep_their_shape() -> None:
    assert chroma_where({}) is None
    assert chroma_where({"topic": "owls"}) == {"topic": "owls"}
    assert chroma_where({"year": {"$in": [2020, 2021]}}) == {"year": {"$in": [2020, 2021]}}
    assert chroma_where({"year": {"$in": list(range(1000))}}) == {
        "year": {"$in": list(range(1000))}
    }


def test_chromas_own_metadata_names_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="reserved") as caught:
        check_chroma_metadata({"author": "x", "chroma:document": "forged"})
    assert caught.value.param == "metadata.chroma:document"
    check_chroma_metadata({"author": "x", "chromatic": True})


@pytest.mark.parametrize("key", ["$eq", "$and", "#tag"])
def test_metadata_names_chroma_refuses_are_invalid_requests(key: str) -> None:
    # Chroma refused them with "Invalid metadata at index 0", naming no field.
    with pytest.raises(InvalidRequest, match="reserved") as caught:
        check_chroma_metadata({key: 1})
    assert caught.value.param == f"metadata.{key}"
    check_chroma_metadata({"price$": 1, "a#b": 2, "a.b": 3})


@pytest.mark.parametrize("name", ["a..b", "../x", "a/b", "-x", "", "x" * 64, "日本"])
def test_collection_names_chroma_would_refuse_are_invalid_requests(name: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_collection(name)
    assert caught.value.param == "collection"


def test_collection_names_within_the_rules_are_kept() -> None:
    for name in ("default", "a.b", "UPPER", "x" * 63, "2024_notes-v1.2"):
        assert check_collection(name) == name
