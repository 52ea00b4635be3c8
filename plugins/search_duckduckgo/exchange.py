"""One search on DuckDuckGo's HTML endpoint, as the ``ddgs`` library asks it and reads the page,
with the answer's status mapped to the router's failure kinds. Blocking: run it in a thread."""

from __future__ import annotations

from typing import Any

from core.engines.errors import (
    EngineError,
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
)
from core.engines.search import WebResult
from plugins.search_duckduckgo.settings import DuckDuckGoSettings

#: DuckDuckGo answers 202 with a challenge page, or 403, when it thinks a client is a robot.
_THROTTLED = frozenset({202, 403, 429})


def search_html(
    name: str, settings: DuckDuckGoSettings, text: str, max_results: int
) -> list[WebResult]:
    from ddgs.engines.duckduckgo import Duckduckgo
    from ddgs.exceptions import DDGSException, TimeoutException

    verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle is not None else True
    # primp takes whole seconds; a sub-second timeout still gets one.
    timeout = max(1, round(settings.timeout))
    client = Duckduckgo(proxy=settings.proxy, timeout=timeout, verify=verify)
    payload = client.build_payload(
        query=text, region=settings.region, safesearch="moderate", timelimit=None, page=1
    )
    try:
        response = client.http_client.request(client.search_method, client.search_url, data=payload)
    except TimeoutException as exc:
        raise EngineTimeout(f"{name!r}: DuckDuckGo did not answer in time") from exc
    except DDGSException as exc:
        raise EngineUnavailable(f"{name!r} cannot reach DuckDuckGo: {exc}") from exc
    if response.status_code != 200:
        raise _refusal(name, response.status_code)
    return _read_page(name, client, response.text)[:max_results]


def _refusal(name: str, status: int) -> EngineError:
    if status in _THROTTLED:
        return EngineRateLimited(f"{name!r}: DuckDuckGo is throttling this client ({status})")
    return EngineUpstreamError(f"{name!r}: DuckDuckGo answered {status}")


def _read_page(name: str, client: Any, page: str) -> list[WebResult]:
    # A results page is HTML; anything else (JSON, an empty body, binary) is garbage.
    if "<" not in page[:4096]:
        raise EngineUpstreamError(f"{name!r}: DuckDuckGo answered something that is not HTML")
    try:
        found = client.post_extract_results(client.extract_results(page))
    except Exception as exc:  # lxml's parser errors have no common public base
        raise EngineUpstreamError(f"{name!r}: DuckDuckGo's page could not be read ({exc})") from exc
    return [
        WebResult(url=item.href, title=item.title or item.href, snippet=item.body)
        for item in found
        if item.href.startswith(("http://", "https://"))
    ]
