"""The ``searxng`` engine's settings block."""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from core.config.types import Duration
from core.engines.base import EngineSettings, Location


class SearxngSettings(EngineSettings):
    #: The instance's address, e.g. ``http://127.0.0.1:8888`` (its ``settings.yml`` must list
    #: ``json`` under ``search.formats``).
    url: str = "http://127.0.0.1:8888"
    #: SearXNG categories to search (``general``, ``news``, ``science``, ...), comma-separated.
    categories: str = "general"
    #: 0 off, 1 moderate, 2 strict.
    safesearch: Literal[0, 1, 2] = 1
    #: Language code sent with each query unless the request brings one; unset: the instance's.
    language: str | None = None
    #: Time for the whole HTTP exchange with the instance.
    timeout: Duration = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// address with a host")
        return url.rstrip("/")

    def location(self) -> Location:
        """Loopback instances run on this machine, so ``mode: local`` may use them."""
        host = urlsplit(self.url).hostname or ""
        if host == "localhost":
            return "local"
        try:
            return "local" if ipaddress.ip_address(host).is_loopback else "cloud"
        except ValueError:
            return "cloud"
