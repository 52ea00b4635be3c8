"""Web search on DuckDuckGo's HTML endpoint through the ``ddgs`` client library (imported only
when the engine loads)."""

from __future__ import annotations

from collections.abc import Mapping

from core.engines import SearchEngine
from core.hookspecs import hookimpl
from plugins.search_duckduckgo.engine import DuckDuckGoSearch


@hookimpl
def voxgate_search_engines() -> Mapping[str, type[SearchEngine]]:
    return {"duckduckgo": DuckDuckGoSearch}
