"""The ``duckduckgo`` engine: no key, no server of one's own: DuckDuckGo's HTML results page."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any, ClassVar

import structlog

from core.engines.base import EngineSettings
from core.engines.errors import EngineUnavailable
from core.engines.search import SearchEngine, SearchQuery, WebResult
from plugins.search_duckduckgo.exchange import search_html
from plugins.search_duckduckgo.settings import DuckDuckGoSettings

log = structlog.get_logger(__name__)

INSTALL_HINT = "pip install 'voxgate[search_duckduckgo]'"


class DuckDuckGoSearch(SearchEngine):
    description: ClassVar[str] = "DuckDuckGo web search (ddgs client, no key)"
    Settings: ClassVar[type[EngineSettings]] = DuckDuckGoSettings

    settings: DuckDuckGoSettings

    async def load(self) -> None:
        try:
            await asyncio.to_thread(importlib.import_module, "ddgs.engines.duckduckgo")
        except ImportError as exc:
            raise EngineUnavailable(f"ddgs is not installed ({exc}); {INSTALL_HINT}") from exc

    def info(self) -> dict[str, Any]:
        return {"region": self.settings.region, "proxy": self.settings.proxy is not None}

    async def search(self, query: SearchQuery) -> list[WebResult]:
        # The library is synchronous (a Rust HTTP client): its exchange runs in a thread.
        results = await asyncio.to_thread(
            search_html, self.name, self.settings, query.text, query.max_results
        )
        log.debug("search.duckduckgo_answered", engine=self.name, results=len(results))
        return results
