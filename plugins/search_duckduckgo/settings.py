"""The ``duckduckgo`` engine's settings block."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from core.config.types import Duration
from core.engines.base import EngineSettings


class DuckDuckGoSettings(EngineSettings):
    #: DuckDuckGo's region code (``us-en``, ``de-de``, ...); ``wt-wt`` is no region.
    region: str = "wt-wt"
    #: Time for the whole HTTP exchange with DuckDuckGo.
    timeout: Duration = Field(10.0, gt=0)
    #: Send the searches through a proxy: ``http://host:port``, ``socks5://host:port``.
    proxy: str | None = None
    #: A PEM file of certificate authorities to trust instead of the system's (a proxy that
    #: inspects TLS, as some company networks have).
    ca_bundle: Path | None = None

    @field_validator("proxy")
    @classmethod
    def _proxy_scheme(cls, proxy: str | None) -> str | None:
        if proxy is not None and proxy.partition("://")[0] not in ("http", "https", "socks5"):
            raise ValueError("expected http://, https:// or socks5:// host:port")
        return proxy
