"""Web search through the search route on an in-process runtime: the chain falls through 429s,
garbage and timeouts to the next engine, answers are cached, mode local never asks a cloud
engine, and bad request values are clear 400s. Real search engines against loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

import plugins.search_duckduckgo
import plugins.search_searxng
from core.api.sources import citation_json, grounding_prompt
from core.config import load_config
from core.config.schema import AppConfig
from core.engines.base import Capability
from core.engines.retrieval import Citation
from core.plugins import PluginCatalog, create_plugin_catalog
from core.routing.errors import AllEnginesFailed, NoEngineAvailable
from core.runtime.runtime import Runtime
from core.websearch.citation import WebCitation
from core.websearch.fusion import fuse
from tests.support.daemon import asgi_client
from tests.support.fake_plugin import FakePlugin
from tests.support.plugin_dist import REPO_ROOT
from tests.support.search_servers import WEB_HITS, DuckDuckGoProxy, SearxngServer


def search_catalog(disabled: Iterable[str]) -> PluginCatalog:
    """The fake engines plus both search plugins, registered as their entry points would."""
    return create_plugin_catalog(
        disabled=disabled,
        use_entry_points=False,
        extra={
            "fakes": FakePlugin(),
            "search_searxng": plugins.search_searxng,
            "search_duckduckgo": plugins.search_duckduckgo,
        },
    )


@pytest.fixture
def first() -> Iterator[SearxngServer]:
    with SearxngServer() as server:
        yield server


@pytest.fixture
def second() -> Iterator[SearxngServer]:
    with SearxngServer(WEB_HITS[1:]) as server:
        yield server


@pytest.fixture
def ddg(tmp_path: Path) -> Iterator[DuckDuckGoProxy]:
    with DuckDuckGoProxy(tmp_path) as proxy:
        yield proxy


def _config(
    tmp_path: Path,
    first: SearxngServer,
    second: SearxngServer,
    ddg: DuckDuckGoProxy,
    *,
    mode: str = "hybrid",
    extra: str = "",
) -> Path:
    path = tmp_path / "ai_backend.yaml"
    path.write_text(
        f"""\
mode: {mode}
reload: {{watch: false}}
policy: {{search: {{timeout: 500ms}}, breaker: {{failures: 5}}}}
engines:
  first: {{capability: search, engine: searxng, settings: {{url: "{first.url}", timeout: 30}}}}
  second: {{capability: search, engine: searxng, settings: {{url: "{second.url}"}}}}
  ddg:
    capability: search
    engine: duckduckgo
    settings: {{proxy: "{ddg.url}", ca_bundle: "{ddg.ca_path}", timeout: 5}}
  chat: {{capability: llm, engine: fake}}
routes: {{search: [first, second, ddg], llm: [chat]}}
{extra}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def runtime(
    tmp_path: Path, first: SearxngServer, second: SearxngServer, ddg: DuckDuckGoProxy
) -> AsyncIterator[Runtime]:
    runtime = Runtime(_config(tmp_path, first, second, ddg), catalog_factory=search_catalog)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.shutdown(5)


async def test_the_chain_falls_through_to_an_engine_that_answers(
    runtime: Runtime, first: SearxngServer, second: SearxngServer, ddg: DuckDuckGoProxy
) -> None:
    first.behaviour, second.behaviour = "429", "garbage"
    generation = runtime.current
    found = await generation.web_search.find(generation.router, "grey herons", 2)
    assert found.engine == "ddg" and not found.cached
    assert [(a.engine, a.reason) for a in found.attempts] == [
        ("first", "rate_limited"),
        ("second", "upstream"),
    ]
    assert [(c.url, c.title, c.rank, c.engine) for c in found.citations] == [
        (h.url, h.title, n, "ddg") for n, h in enumerate(WEB_HITS[:2], 1)
    ]
    assert [c.text for c in found.citations] == [h.snippet for h in WEB_HITS[:2]]
    # The same question again (spelt differently) is answered from the cache.
    again = await generation.web_search.find(generation.router, "  Grey   HERONS ", 2)
    assert again.cached and again.citations == found.citations
    assert (len(first.requests), len(second.requests), len(ddg.forms)) == (1, 1, 1)


async def test_a_stalled_engine_times_out_and_the_next_answers(
    runtime: Runtime, first: SearxngServer, second: SearxngServer
) -> None:
    first.behaviour = "slow"
    generation = runtime.current
    found = await generation.web_search.find(generation.router, "egrets", 3)
    assert found.engine == "second"
    assert [(a.engine, a.reason) for a in found.attempts] == [("first", "timeout")]
    assert [c.url for c in found.citations] == [h.url for h in WEB_HITS[1:]]


async def test_when_every_engine_fails_the_request_is_told(
    runtime: Runtime, first: SearxngServer, second: SearxngServer, ddg: DuckDuckGoProxy
) -> None:
    first.behaviour, second.behaviour, ddg.behaviour = "500", "wrong_shape", "challenge"
    generation = runtime.current
    with pytest.raises(AllEnginesFailed) as failed:
        await generation.web_search.find(generation.router, "herons", 2)
    assert failed.value.status == 429  # DuckDuckGo asked to slow down: try later
    assert [a.engine for a in failed.value.attempts] == ["first", "second", "ddg"]


async def test_mode_local_never_asks_the_cloud_engine(
    tmp_path: Path, first: SearxngServer, second: SearxngServer, ddg: DuckDuckGoProxy
) -> None:
    first.behaviour = second.behaviour = "500"
    config = _config(tmp_path, first, second, ddg, mode="local")
    runtime = Runtime(config, catalog_factory=search_catalog)
    await runtime.start()
    try:
        generation = runtime.current
        assert generation.config.chains[generation.config.engines["ddg"].capability] == [
            "first",
            "second",
        ]
        with pytest.raises(AllEnginesFailed):
            await generation.web_search.find(generation.router, "herons", 2)
    finally:
        await runtime.shutdown(5)
    assert ddg.connects == []


async def test_mode_local_with_only_a_cloud_engine_has_no_search(
    tmp_path: Path, first: SearxngServer, second: SearxngServer, ddg: DuckDuckGoProxy
) -> None:
    # A loopback SearXNG declared cloud (it forwards to the internet) is left out too.
    path = _config(tmp_path, first, second, ddg, mode="local")
    text = path.read_text().replace("engine: searxng,", "engine: searxng, location: cloud,")
    path.write_text(text)
    runtime = Runtime(path, catalog_factory=search_catalog)
    await runtime.start()
    try:
        generation = runtime.current
        with pytest.raises(NoEngineAvailable, match="no search engine"):
            await generation.web_search.find(generation.router, "herons", 2)
    finally:
        await runtime.shutdown(5)
    assert ddg.connects == [] and first.requests == [] and second.requests == []


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"web_top_k": 2}, "web_top_k", "needs web_search: true"),
        ({"web_search": True, "web_top_k": 9}, "web_top_k", "at most 8"),
        ({"web_search": True, "web_top_k": 0}, None, "greater than or equal to 1"),
        ({"web_search": "yes"}, None, "valid boolean"),
        ({"web_search": 1}, None, "valid boolean"),
    ],
)
async def test_bad_web_values_on_rag_query_are_400s(
    runtime: Runtime, body: dict[str, object], param: str | None, words: str
) -> None:
    async with asgi_client(runtime) as client:
        answer = await client.post("/v1/rag/query", json={"question": "herons?", **body})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert words in error["message"]
    if param:
        assert error["param"] == param


@pytest.mark.parametrize(
    ("rag", "words"),
    [
        ({"web_top_k": 3}, "rag.web_top_k needs web_search: true"),
        ({"web_search": True, "web_top_k": 50}, "at most 8"),
        ({"web_search": "on"}, "valid boolean"),
    ],
)
async def test_bad_web_values_in_the_chat_rag_block_are_400s(
    runtime: Runtime, rag: dict[str, object], words: str
) -> None:
    body = {"model": "chat", "messages": [{"role": "user", "content": "herons?"}], "rag": rag}
    async with asgi_client(runtime) as client:
        answer = await client.post("/v1/chat/completions", json=body)
        assert answer.status_code == 400, answer.text
        assert words in answer.json()["error"]["message"]
        healthy = await client.get("/healthz")
    assert healthy.status_code == 200


def test_the_config_block_checks_its_limits() -> None:
    with pytest.raises(ValidationError, match="above max_top_k"):
        AppConfig(web_search={"top_k": 9, "max_top_k": 8})
    with pytest.raises(ValidationError, match="allowed_networks"):
        AppConfig(web_search={"allowed_networks": ["intranet"]})
    with pytest.raises(ValidationError, match="Extra inputs"):
        AppConfig(web_search={"fetch_page": True})


def test_web_search_is_off_in_the_shipped_config() -> None:
    loaded = load_config(REPO_ROOT / "config" / "ai_backend.yaml")
    assert Capability.SEARCH not in loaded.config.routes
    assert not any(e.capability is Capability.SEARCH for e in loaded.config.engines.values())
    assert loaded.config.web_search.fetch_pages is False
    assert loaded.config.web_search.allowed_networks == []


def test_the_prompt_numbers_web_sources_like_chunks() -> None:
    chunk = Citation("bees", 0, 0, 10, "Bees make honey.", 0.9, title="Bees")
    page = WebCitation("https://h.example/", "Herons", "Forty nests.", 1, "web", page=True)
    prompt = grounding_prompt(fuse([chunk], [page]))
    assert "[1] Bees: Bees make honey.\n\n[2] Herons (https://h.example/): Forty nests." in prompt
    assert citation_json(2, page) == {
        "index": 2,
        "source": "web",
        "url": "https://h.example/",
        "title": "Herons",
        "text": "Forty nests.",
        "rank": 1,
        "engine": "web",
        "page": True,
    }
    assert "source" not in citation_json(1, chunk)  # local citations keep their shape
