"""The ``searxng`` engine: ``GET /search?q=...&format=json`` on a SearXNG instance."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx
import structlog

from core.engines.base import EngineSettings, Health, Location
from core.engines.errors import (
    EngineError,
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
)
from core.engines.search import SearchEngine, SearchQuery, WebResult
from plugins.search_searxng.settings import SearxngSettings

log = structlog.get_logger(__name__)

#: A Retry-After beyond this is read as this; the breaker caps it further.
_MAX_RETRY_AFTER = 3600.0


class SearxngSearch(SearchEngine):
    description: ClassVar[str] = "SearXNG meta-search (JSON API); local when its URL is loopback"
    Settings: ClassVar[type[EngineSettings]] = SearxngSettings
    default_max_concurrency: ClassVar[int] = 8

    settings: SearxngSettings
    _client: httpx.AsyncClient | None = None

    @classmethod
    def location_for(cls, settings: EngineSettings) -> Location:
        assert isinstance(settings, SearxngSettings)
        return settings.location()

    async def load(self) -> None:
        # No proxies from the environment: the configured address is the one asked.
        self._client = httpx.AsyncClient(
            base_url=self.settings.url,
            timeout=self.settings.timeout,
            trust_env=False,
            headers={"Accept": "application/json"},
        )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def health(self) -> Health:
        return Health(ok=self._client is not None)

    def info(self) -> dict[str, Any]:
        return {"url": self.settings.url, "categories": self.settings.categories}

    async def search(self, query: SearchQuery) -> list[WebResult]:
        if self._client is None:
            raise EngineUnavailable(f"{self.name!r} is not loaded")
        params: dict[str, str | int] = {
            "q": query.text,
            "format": "json",
            "categories": self.settings.categories,
            "safesearch": self.settings.safesearch,
            "pageno": 1,
        }
        language = query.language or self.settings.language
        if language:
            params["language"] = language
        try:
            response = await self._client.get("/search", params=params)
        except httpx.TimeoutException as exc:
            raise EngineTimeout(f"{self.name!r}: {self.settings.url} is too slow ({exc})") from exc
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            message = f"{self.name!r} cannot reach {self.settings.url}: {detail}"
            raise EngineUnavailable(message) from exc
        if response.status_code != 200:
            raise self._refusal(response)
        results = parse_results(self.name, response.content)
        log.debug("search.searxng_answered", engine=self.name, results=len(results))
        return results[: query.max_results]

    def _refusal(self, response: httpx.Response) -> EngineError:
        where = f"{self.name!r} (SearXNG {response.status_code})"
        if response.status_code == 429:
            return EngineRateLimited(
                f"{where} is rate limiting this client",
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        if response.status_code == 403:
            # SearXNG answers 403 to format=json unless its settings allow that format.
            return EngineUnavailable(
                f"{where} refused: is json listed under search.formats in its settings.yml?"
            )
        return EngineUpstreamError(f"{where} failed")


def parse_results(engine: str, body: bytes) -> list[WebResult]:
    """The results of a SearXNG JSON answer; anything else is the upstream's fault."""
    try:
        data = json.loads(body)
    except ValueError:
        raise EngineUpstreamError(f"{engine!r} answered something that is not JSON") from None
    raw = data.get("results") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise EngineUpstreamError(f"{engine!r} answered JSON without a results list")
    results: list[WebResult] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        url, title = item.get("url"), item.get("title")
        if not isinstance(url, str) or not url:
            continue
        snippet = item.get("content")
        results.append(
            WebResult(
                url=url,
                title=title if isinstance(title, str) else url,
                snippet=snippet.strip() if isinstance(snippet, str) else "",
            )
        )
    return results


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return None if seconds is None or seconds != seconds else min(max(seconds, 0), _MAX_RETRY_AFTER)
