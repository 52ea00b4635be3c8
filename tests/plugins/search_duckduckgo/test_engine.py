"""The duckduckgo engine with the real ddgs library, its TLS and its form, through a loopback
proxy that plays html.duckduckgo.com (certificate from a test authority the engine is told to
trust): results, what the library posts, and each failure as the router's kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.engines import EngineContext, SearchQuery
from core.engines.errors import (
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
)
from plugins.search_duckduckgo.engine import DuckDuckGoSearch
from plugins.search_duckduckgo.settings import DuckDuckGoSettings
from tests.support.daemon import free_port
from tests.support.engines import NoServices
from tests.support.search_servers import WEB_HITS, DuckDuckGoProxy


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[DuckDuckGoProxy]:
    with DuckDuckGoProxy(tmp_path) as ddg:
        yield ddg


def _engine(tmp_path: Path, proxy: DuckDuckGoProxy, **settings: object) -> DuckDuckGoSearch:
    chosen = {"proxy": proxy.url, "ca_bundle": proxy.ca_path, "timeout": 1, **settings}
    context = EngineContext("ddg", tmp_path, tmp_path, NoServices())
    return DuckDuckGoSearch(DuckDuckGoSettings(**chosen), context)


async def test_results_from_the_html_page(tmp_path: Path, proxy: DuckDuckGoProxy) -> None:
    engine = _engine(tmp_path, proxy, region="uk-en")
    await engine.load()
    results = await engine.search(SearchQuery("grey herons", max_results=2))
    # The ad (a duckduckgo.com/y.js link) is dropped by the library, the rest kept in order.
    assert [(r.url, r.title, r.snippet) for r in results] == [
        (h.url, h.title, h.snippet) for h in WEB_HITS[:2]
    ]
    assert proxy.connects == ["html.duckduckgo.com:443"]
    [form] = proxy.forms
    assert form == {"q": "grey herons", "b": "", "l": "uk-en"}


@pytest.mark.parametrize(
    ("behaviour", "kind", "words"),
    [
        ("429", EngineRateLimited, "429"),
        ("challenge", EngineRateLimited, "202"),
        ("500", EngineUpstreamError, "500"),
        ("garbage", EngineUpstreamError, "not HTML"),
        ("slow", EngineTimeout, "in time"),
    ],
)
async def test_failures_are_the_routers_kinds(
    tmp_path: Path, proxy: DuckDuckGoProxy, behaviour: str, kind: type, words: str
) -> None:
    proxy.behaviour = behaviour
    engine = _engine(tmp_path, proxy)
    with pytest.raises(kind, match=words):
        await engine.search(SearchQuery("herons"))


async def test_an_unreachable_proxy_is_unavailable(tmp_path: Path, proxy: DuckDuckGoProxy) -> None:
    settings = DuckDuckGoSettings(proxy=f"http://127.0.0.1:{free_port()}", timeout=1)
    engine = DuckDuckGoSearch(settings, EngineContext("ddg", tmp_path, tmp_path, NoServices()))
    with pytest.raises(EngineUnavailable, match="cannot reach"):
        await engine.search(SearchQuery("herons"))


async def test_an_untrusted_certificate_is_refused(tmp_path: Path, proxy: DuckDuckGoProxy) -> None:
    """Without the test authority the library's TLS check fails: nothing is read."""
    engine = _engine(tmp_path, proxy, ca_bundle=None)
    with pytest.raises(EngineUnavailable):
        await engine.search(SearchQuery("herons"))
    assert proxy.forms == []


def test_the_proxy_must_be_a_proxy_url() -> None:
    with pytest.raises(ValueError, match="socks5"):
        DuckDuckGoSettings(proxy="ftp://proxy.example:21")
