"""The searxng engine against a loopback server speaking SearXNG's JSON API: results, the query
it sends, and each failure as the router's kind (so the chain can fall through)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.engines import EngineContext, SearchQuery
from core.engines.errors import (
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
)
from plugins.search_searxng.engine import SearxngSearch
from plugins.search_searxng.settings import SearxngSettings
from tests.support.daemon import free_port
from tests.support.engines import NoServices
from tests.support.search_servers import WEB_HITS, SearxngServer


def _engine(tmp_path: Path, **settings: object) -> SearxngSearch:
    context = EngineContext("web", tmp_path, tmp_path, NoServices())
    return SearxngSearch(SearxngSettings(**settings), context)


@pytest.fixture
def server() -> Iterator[SearxngServer]:
    with SearxngServer() as searx:
        yield searx


@pytest.fixture
async def engine(tmp_path: Path, server: SearxngServer) -> AsyncIterator[SearxngSearch]:
    engine = _engine(tmp_path, url=server.url + "/", timeout=0.5, language="en")
    await engine.load()
    try:
        yield engine
    finally:
        await engine.close()


async def test_results_in_the_engines_order(engine: SearxngSearch, server: SearxngServer) -> None:
    results = await engine.search(SearchQuery("grey heron nests", max_results=2))
    assert [(r.url, r.title, r.snippet) for r in results] == [
        (h.url, h.title, h.snippet) for h in WEB_HITS[:2]
    ]
    [asked] = server.queries
    assert asked == {
        "q": "grey heron nests",
        "format": "json",
        "categories": "general",
        "safesearch": "1",
        "pageno": "1",
        "language": "en",
    }
    everything = await engine.search(SearchQuery("tides", max_results=10, language="de"))
    assert len(everything) == len(WEB_HITS)  # the result without an address is left out
    assert server.queries[-1]["language"] == "de"


@pytest.mark.parametrize(
    ("behaviour", "kind", "words"),
    [
        ("429", EngineRateLimited, "rate limiting"),
        ("403", EngineUnavailable, "search.formats"),
        ("500", EngineUpstreamError, "500"),
        ("garbage", EngineUpstreamError, "not JSON"),
        ("wrong_shape", EngineUpstreamError, "results list"),
        ("slow", EngineTimeout, "too slow"),
    ],
)
async def test_failures_are_the_routers_kinds(
    engine: SearxngSearch, server: SearxngServer, behaviour: str, kind: type, words: str
) -> None:
    server.behaviour = behaviour
    with pytest.raises(kind, match=words) as caught:
        await engine.search(SearchQuery("herons"))
    if behaviour == "429":
        assert caught.value.retry_after == 7


async def test_a_closed_port_is_unavailable(tmp_path: Path) -> None:
    engine = _engine(tmp_path, url=f"http://127.0.0.1:{free_port()}")
    await engine.load()
    try:
        with pytest.raises(EngineUnavailable, match="cannot reach"):
            await engine.search(SearchQuery("herons"))
    finally:
        await engine.close()


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("http://127.0.0.1:8888", "local"),
        ("http://localhost:8888/", "local"),
        ("http://[::1]:8888", "local"),
        ("https://search.example.org", "cloud"),
        ("http://192.168.1.20:8080", "cloud"),
    ],
)
def test_location_follows_the_url(url: str, location: str) -> None:
    assert SearxngSearch.location_for(SearxngSettings(url=url)) == location


@pytest.mark.parametrize("url", ["ftp://searx.example", "searx.example", "http://"])
def test_the_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        SearxngSettings(url=url)
