"""Asking the ``search`` route for a question's web results (through the answer cache) and, when
the config says so, reading their pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.robotparser import RobotFileParser

import structlog

from core.config.schema import WebSearchConfig
from core.engines.base import Capability
from core.engines.errors import InvalidRequest
from core.engines.search import SearchEngine, SearchQuery, WebResult
from core.routing.errors import Attempt
from core.routing.router import Router
from core.websearch.cache import TTLCache
from core.websearch.citation import WebCitation
from core.websearch.pages import Page, PageReader

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WebFound:
    citations: list[WebCitation]
    #: The search engine that answered (the cached answer's, when it came from the cache).
    engine: str
    attempts: list[Attempt] = field(default_factory=list)
    cached: bool = False


class WebSearch:
    """One per configuration generation: its limits, its answer and robots.txt caches."""

    def __init__(self, config: WebSearchConfig) -> None:
        self.config = config
        self._answers: TTLCache[tuple[str, int, bool], WebFound] = TTLCache(
            config.cache_ttl, config.cache_entries
        )
        robots: TTLCache[str, RobotFileParser] = TTLCache(config.cache_ttl, config.cache_entries)
        self._pages = PageReader(config, robots)

    def results_wanted(self, enabled: bool, top_k: int | None, *, param: str) -> int | None:
        """How many web results a request gets (None: no web search), or a clear 400."""
        if not enabled:
            if top_k is not None:
                raise InvalidRequest(f"{param} needs web_search: true", param=param)
            return None
        if top_k is not None and top_k > self.config.max_top_k:
            raise InvalidRequest(
                f"{param} is {top_k}; this server allows at most {self.config.max_top_k} "
                "(web_search.max_top_k)",
                param=param,
            )
        return top_k or self.config.top_k

    async def find(self, router: Router, question: str, top_k: int) -> WebFound:
        key = (" ".join(question.lower().split()), top_k, self.config.fetch_pages)
        cached = self._answers.get(key)
        if cached is not None:
            log.info("websearch.cache_hit", engine=cached.engine, results=len(cached.citations))
            return WebFound(cached.citations, cached.engine, cached=True)
        query = SearchQuery(text=question, max_results=top_k)

        async def run(engine: SearchEngine) -> list[WebResult]:
            return await engine.search(query)

        routed = await router.call(Capability.SEARCH, None, run)
        results = routed.value[:top_k]
        pages: list[Page | None] = [None] * len(results)
        if self.config.fetch_pages and results:
            pages = await self._pages.read_all([r.url for r in results])
        citations = [
            _citation(rank, result, page, routed.engine)
            for rank, (result, page) in enumerate(zip(results, pages, strict=True), 1)
            if result.snippet or page is not None
        ]
        found = WebFound(citations, routed.engine, routed.attempts)
        self._answers.put(key, found)
        log.info(
            "websearch.searched",
            engine=routed.engine,
            results=len(citations),
            pages=sum(page is not None for page in pages),
            fell_back=routed.fell_back,
        )
        return found


def _citation(rank: int, result: WebResult, page: Page | None, engine: str) -> WebCitation:
    if page is None:
        return WebCitation(result.url, result.title, result.snippet, rank, engine)
    return WebCitation(result.url, result.title or page.title or "", page.text, rank, engine, True)
