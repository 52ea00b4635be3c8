"""One pooled HTTP client per cloud engine: the key from the environment, timeouts, error mapping.

The client is built at load and closed at close, so every request of an engine reuses the same
keep-alive connections. The key lives only in the client's default headers: it is never logged
and never part of an error message.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import structlog

from core.engines.errors import EngineUnavailable, EngineUpstreamError
from plugins.fallback_cloud.errors import error_from_exception, error_from_response
from plugins.fallback_cloud.settings import CloudSettings

log = structlog.get_logger(__name__)


def api_key_headers(engine: str, settings: CloudSettings) -> dict[str, str]:
    """The auth header, or none when the server needs no key; a missing key is unavailability."""
    if settings.api_key_env is None:
        return {}
    key = os.environ.get(settings.api_key_env, "").strip()
    if not key:
        raise EngineUnavailable(
            f"engine {engine!r} needs an API key for {settings.base_url}: the environment "
            f"variable {settings.api_key_env} is not set or empty (set it, or set "
            "api_key_env: null for a server that needs no key)"
        )
    return {settings.api_key_header: f"{settings.api_key_prefix}{key}"}


class CloudClient:
    """Requests to one OpenAI-compatible server on behalf of one engine."""

    def __init__(self, engine: str, settings: CloudSettings) -> None:
        self.engine = engine
        self.settings = settings
        self._client: httpx.AsyncClient | None = None

    def open(self) -> None:
        if self._client is not None:
            return
        settings = self.settings
        headers = {**settings.headers, **api_key_headers(self.engine, settings)}
        self._client = httpx.AsyncClient(
            base_url=settings.base_url + "/",
            headers=headers,
            params=settings.params,
            timeout=httpx.Timeout(
                settings.read_timeout,
                connect=settings.connect_timeout,
                pool=settings.connect_timeout + settings.read_timeout,
            ),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            # Environment proxies are honoured; redirects are not followed silently.
            trust_env=True,
        )
        log.debug("cloud.client_opened", engine=self.engine, base_url=settings.base_url)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise EngineUnavailable(f"engine {self.engine!r} is not loaded")
        return self._client

    @contextlib.asynccontextmanager
    async def stream(
        self,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """POST and hand over the response once its status is known to be a success.

        Transport failures while the body is read inside the ``async with`` are mapped too.
        """
        client = self.client
        request = client.build_request("POST", path, json=json, data=data, files=files)
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise error_from_exception(self.engine, self.settings.base_url, exc) from None
        try:
            if response.status_code >= 400:
                try:
                    body = await response.aread()
                except httpx.HTTPError:
                    body = b""
                raise error_from_response(
                    self.engine,
                    response.status_code,
                    response.headers,
                    body,
                    self.settings.model,
                    path,
                )
            try:
                yield response
            except httpx.HTTPError as exc:
                raise error_from_exception(self.engine, self.settings.base_url, exc) from None
        finally:
            await response.aclose()

    async def post_json(self, path: str, payload: Mapping[str, Any]) -> Any:
        """POST a JSON body and return the decoded JSON answer."""
        async with self.stream(path, json=payload) as response:
            body = await response.aread()
        try:
            return jsonlib.loads(body)
        except ValueError as exc:
            raise EngineUpstreamError(
                f"{self.engine!r}: {self.settings.base_url} answered with invalid JSON: {exc}"
            ) from None
