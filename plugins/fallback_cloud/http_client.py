"""One pooled HTTP client per cloud engine: the key from the environment, timeouts, error mapping.

The client is built at load and closed at close, so every request of an engine reuses the same
keep-alive connections. The key lives only in the client's default headers: it is never logged
and never part of an error message.

The requests go through aiohttp: its C parser and its connection pool cost a fraction of the
CPU time httpx spends per request, and on the cloud path that time is most of the daemon's own
(``bench/bench_cloud.py``). Proxies come from the usual environment variables (``HTTPS_PROXY``,
``NO_PROXY``...), certificates from certifi (plus ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``).
"""

from __future__ import annotations

import contextlib
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
import structlog

from core import jsonx
from core.engines.errors import EngineUnavailable, EngineUpstreamError
from plugins.fallback_cloud.errors import error_from_exception, error_from_response
from plugins.fallback_cloud.settings import CloudSettings

log = structlog.get_logger(__name__)

#: What a transport failure raised by aiohttp can be (a read timeout is also a TimeoutError).
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)


def shown_url(url: str) -> str:
    """``url`` as messages and logs show it: without the user and password a gateway may take
    in it (``https://user:password@host/v1``, sent as basic auth)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def api_key_headers(engine: str, settings: CloudSettings) -> dict[str, str]:
    """The auth header, or none when the server needs no key; a missing key is unavailability."""
    if settings.api_key_env is None:
        return {}
    key = os.environ.get(settings.api_key_env, "").strip()
    if not key:
        raise EngineUnavailable(
            f"engine {engine!r} needs an API key for {shown_url(settings.base_url)}: the "
            f"environment variable {settings.api_key_env} is not set or empty (set it, or set "
            "api_key_env: null for a server that needs no key)"
        )
    return {settings.api_key_header: f"{settings.api_key_prefix}{key}"}


def tls_context() -> ssl.SSLContext:
    """Verified TLS with certifi's roots, and the environment's own bundle where one is named."""
    context = ssl.create_default_context(cafile=certifi.where())
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        context.load_verify_locations(cafile=cafile or None, capath=capath or None)
    return context


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (None: connect directly)."""
    parts = urlsplit(url)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.netloc):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all") or None


class UpstreamResponse:
    """A response whose status is a success, its body still to read (once)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw

    @property
    def status_code(self) -> int:
        return self._raw.status

    @property
    def headers(self) -> Mapping[str, str]:
        """Case-insensitive, as HTTP header names are."""
        return self._raw.headers

    async def aread(self) -> bytes:
        return await self._raw.read()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        async for data in self._raw.content.iter_any():
            yield data


class CloudClient:
    """Requests to one OpenAI-compatible server on behalf of one engine."""

    def __init__(self, engine: str, settings: CloudSettings) -> None:
        self.engine = engine
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None
        self._shown_url = shown_url(settings.base_url)

    def open(self) -> None:
        """Build the pool (in the event loop that will use it)."""
        if self._session is not None:
            return
        settings = self.settings
        headers = {**settings.headers, **api_key_headers(self.engine, settings)}
        connector = aiohttp.TCPConnector(
            limit=settings.max_connections,
            limit_per_host=settings.max_connections,
            ssl=tls_context(),
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=headers,
            timeout=aiohttp.ClientTimeout(
                total=None,
                # Waiting for a free pooled connection, then opening one.
                connect=settings.connect_timeout + settings.read_timeout,
                sock_connect=settings.connect_timeout,
                sock_read=settings.read_timeout,
            ),
            # Proxies are looked up here (below), not from ~/.netrc credentials as well.
            trust_env=False,
            raise_for_status=False,
        )
        self._proxy = environment_proxy(settings.base_url)
        log.debug("cloud.client_opened", engine=self.engine, base_url=self._shown_url)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise EngineUnavailable(f"engine {self.engine!r} is not loaded")
        return self._session

    def _url(self, path: str) -> str:
        return f"{self.settings.base_url}/{path}"

    @contextlib.asynccontextmanager
    async def stream(
        self,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> AsyncIterator[UpstreamResponse]:
        """POST and hand over the response once its status is known to be a success.

        Transport failures while the body is read inside the ``async with`` are mapped too.
        """
        session = self.session
        headers: dict[str, str] | None = None
        body: bytes | aiohttp.FormData | None = None
        if json is not None:
            body = jsonx.dumps(json)
            headers = {"Content-Type": "application/json"}
        elif data is not None or files is not None:
            body = _form(data or {}, files or {})
        try:
            raw = await session.post(
                self._url(path),
                data=body,
                headers=headers,
                params=self.settings.params or None,
                proxy=self._proxy,
                # Redirects are not followed silently.
                allow_redirects=False,
            )
        except TRANSPORT_ERRORS as exc:
            raise error_from_exception(self.engine, self._shown_url, exc) from None
        try:
            if raw.status >= 400:
                try:
                    error_body = await raw.read()
                except TRANSPORT_ERRORS:
                    error_body = b""
                raise error_from_response(
                    self.engine, raw.status, raw.headers, error_body, self.settings.model, path
                )
            try:
                yield UpstreamResponse(raw)
            except TRANSPORT_ERRORS as exc:
                raise error_from_exception(self.engine, self._shown_url, exc) from None
        finally:
            raw.release()

    async def post_json(self, path: str, payload: Mapping[str, Any]) -> Any:
        """POST a JSON body and return the decoded JSON answer."""
        async with self.stream(path, json=payload) as response:
            body = await response.aread()
        try:
            return jsonx.loads(body)
        except ValueError as exc:
            raise EngineUpstreamError(
                f"{self.engine!r}: {self._shown_url} answered with invalid JSON: {exc}"
            ) from None


def _form(data: Mapping[str, Any], files: Mapping[str, tuple[str, bytes, str]]) -> aiohttp.FormData:
    """A multipart body: text fields (a list value repeats its field), then the files."""
    form = aiohttp.FormData()
    for name, value in data.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            form.add_field(name, str(item))
    for name, (filename, content, content_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=content_type)
    return form
