"""Web search through a SearXNG instance's JSON API (self-hosted meta-search)."""

from __future__ import annotations

from collections.abc import Mapping

from core.engines import SearchEngine
from core.hookspecs import hookimpl
from plugins.search_searxng.engine import SearxngSearch


@hookimpl
def voxgate_search_engines() -> Mapping[str, type[SearchEngine]]:
    return {"searxng": SearxngSearch}
