"""Reading a result's page as text: robots.txt obeyed, address checked, size and time capped,
HTML turned into its visible text. A page that cannot be read is skipped, never an error: the
result's snippet still stands."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

import httpx
import structlog

from core.config.schema import WebSearchConfig
from core.ingest.extract import UnreadableDocument, extract_documents
from core.websearch.addresses import BlockedUrl, networks
from core.websearch.cache import TTLCache
from core.websearch.robots import RobotsGate
from core.websearch.safe_get import FetchFailed, safe_get

log = structlog.get_logger(__name__)

#: Content types read, each with the file name that tells the text extractor what it is.
_TEXT_TYPES = {
    "text/html": "page.html",
    "application/xhtml+xml": "page.html",
    "text/plain": "page.txt",
}


class RobotsRefused(Exception):
    """robots.txt asks this user agent not to fetch the address."""


@dataclass(frozen=True)
class Page:
    url: str
    title: str | None
    text: str


class PageReader:
    def __init__(
        self, config: WebSearchConfig, robots_cache: TTLCache[str, RobotFileParser]
    ) -> None:
        self.config = config
        self._robots_cache = robots_cache
        #: Built on first use and kept: loading the certificate store takes tens of ms.
        self._tls: ssl.SSLContext | None = None

    async def read_all(self, urls: Sequence[str]) -> list[Page | None]:
        """Each page's text (None where it could not be read), all fetched at once."""
        config = self.config
        if self._tls is None:
            self._tls = await asyncio.to_thread(httpx.create_ssl_context)
        # Environment proxies are ignored: a proxy would connect to addresses we never checked.
        async with httpx.AsyncClient(
            verify=self._tls,
            trust_env=False,
            follow_redirects=False,
            timeout=config.page_timeout,
            headers={
                "User-Agent": config.user_agent,
                "Accept": "text/html, text/plain;q=0.8",
                "Accept-Encoding": "identity",
            },
        ) as client:
            gate = RobotsGate(
                client, config.user_agent, networks(config.allowed_networks), self._robots_cache
            )
            return list(await asyncio.gather(*(self._read(client, gate, url) for url in urls)))

    async def _read(self, client: httpx.AsyncClient, gate: RobotsGate, url: str) -> Page | None:
        async def obey_robots(hop: str) -> None:
            if not await gate.permits(hop):
                raise RobotsRefused(f"robots.txt disallows {hop}")

        try:
            async with asyncio.timeout(self.config.page_timeout):
                fetched = await safe_get(
                    client,
                    url,
                    allowed=networks(self.config.allowed_networks),
                    max_bytes=self.config.max_page_bytes,
                    max_redirects=self.config.max_redirects,
                    before_hop=obey_robots,
                )
        except (BlockedUrl, RobotsRefused, FetchFailed) as exc:
            log.info("websearch.page_skipped", url=url, reason=type(exc).__name__, error=str(exc))
            return None
        except TimeoutError:
            log.info("websearch.page_skipped", url=url, reason="timeout")
            return None
        name = _TEXT_TYPES.get(fetched.content_type)
        if fetched.status != 200 or name is None:
            log.info(
                "websearch.page_skipped",
                url=url,
                reason="not_a_page",
                status=fetched.status,
                content_type=fetched.content_type,
            )
            return None
        text = fetched.text()
        return await asyncio.to_thread(self._text, fetched.url, text, name)

    def _text(self, url: str, text: str, name: str) -> Page | None:
        try:
            [document] = extract_documents(text.encode("utf-8"), name)
        except (UnreadableDocument, ValueError):
            return None
        if not document.text:
            return None
        return Page(url, document.title, document.text[: self.config.max_page_chars])
