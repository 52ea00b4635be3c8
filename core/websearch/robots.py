"""robots.txt, obeyed before a page is fetched (RFC 9309): rules for the configured user agent
or ``*``; a missing file (4xx) allows everything, an unreachable one (5xx, network) nothing.
Each site's rules are cached as long as search answers are."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx
import structlog

from core.websearch.addresses import BlockedUrl, IPNetwork
from core.websearch.cache import TTLCache
from core.websearch.safe_get import FetchFailed, safe_get

log = structlog.get_logger(__name__)

#: Larger robots.txt files are read only this far (RFC 9309 asks for at least 500 KiB).
MAX_ROBOTS_BYTES = 512 * 1024
#: What an unreachable robots.txt means.
_NOTHING = ["User-agent: *", "Disallow: /"]


class RobotsGate:
    def __init__(
        self,
        client: httpx.AsyncClient,
        user_agent: str,
        allowed: Sequence[IPNetwork],
        cache: TTLCache[str, RobotFileParser],
    ) -> None:
        self._client = client
        self._user_agent = user_agent
        self._allowed = allowed
        self._cache = cache

    async def permits(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        rules = self._cache.get(origin)
        if rules is None:
            rules = await self._rules(origin)
            self._cache.put(origin, rules)
        return rules.can_fetch(self._user_agent, url)

    async def _rules(self, origin: str) -> RobotFileParser:
        rules = RobotFileParser()
        try:
            fetched = await safe_get(
                self._client,
                origin + "/robots.txt",
                allowed=self._allowed,
                max_bytes=MAX_ROBOTS_BYTES,
                max_redirects=5,
            )
        except (FetchFailed, BlockedUrl) as exc:
            log.info("websearch.robots_unreachable", origin=origin, error=str(exc))
            rules.parse(_NOTHING)
            return rules
        if 400 <= fetched.status < 500:
            rules.parse([])  # no file: no rules
        elif fetched.status >= 300:
            rules.parse(_NOTHING)
        else:
            rules.parse(fetched.text().splitlines())
        return rules
