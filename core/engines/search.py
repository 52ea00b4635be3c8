"""Web search engines: a query in, ranked pages (address, title, snippet) out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.engines.base import Capability, Engine, Location


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str
    #: Results wanted at most; engines may return fewer.
    max_results: int = 5
    #: A language or region hint (``en``, ``de-DE``); engines without one ignore it.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class WebResult:
    """One search result, in the order the engine ranked it."""

    url: str
    title: str
    snippet: str


class SearchEngine(Engine):
    capability: ClassVar[Capability] = Capability.SEARCH
    #: Web search asks someone else's server: cloud unless an engine's settings say otherwise.
    location: ClassVar[Location] = "cloud"

    async def search(self, query: SearchQuery) -> list[WebResult]:
        """Results for ``query``, best first. Raises ``EngineRateLimited`` for a provider's 429,
        ``EngineUpstreamError`` for answers it cannot read, ``EngineTimeout`` when it is slow."""
        raise NotImplementedError
