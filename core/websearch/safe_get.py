"""A GET that only ever talks to allowed addresses: every hop of a redirect is checked before it
is asked, and the address actually connected to is checked again (a name that resolved to a
public address a moment ago may not any more). Bodies are read up to a size, never beyond."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from core.websearch.addresses import (
    BlockedUrl,
    IPNetwork,
    is_allowed,
    parse_target,
    resolve_allowed,
)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchFailed(Exception):
    """The page could not be had (network, status, too many redirects); the message says why."""


@dataclass(frozen=True)
class Fetched:
    #: The address that answered, after redirects.
    url: str
    status: int
    content_type: str
    encoding: str | None
    body: bytes
    #: True when the body was cut at the size limit.
    truncated: bool

    def text(self) -> str:
        """The body in its declared charset; UTF-8 when it names none, one Python does not
        know, or a codec that is not a text encoding (``charset=rot13``)."""
        try:
            return self.body.decode(self.encoding or "utf-8", "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")


#: Called with each address before it is asked (robots.txt checks hang here).
HopCheck = Callable[[str], Awaitable[None]]


async def safe_get(
    client: httpx.AsyncClient,
    url: str,
    *,
    allowed: Sequence[IPNetwork],
    max_bytes: int,
    max_redirects: int,
    before_hop: HopCheck | None = None,
) -> Fetched:
    """GET ``url`` following at most ``max_redirects`` redirects, each checked like the first.

    Raises :class:`BlockedUrl` for an address that may not be fetched and :class:`FetchFailed`
    when the exchange fails."""
    current = url
    for _hop in range(max_redirects + 1):
        target = parse_target(current)
        await resolve_allowed(target, allowed)
        if before_hop is not None:
            await before_hop(current)
        try:
            async with client.stream("GET", current) as response:
                check_peer(response, allowed)
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                encoding = response.headers.get("content-encoding", "identity").lower()
                if encoding != "identity":
                    # Asked for identity: a compressed body could expand far past the size cap.
                    raise FetchFailed(f"{current}: compressed body ({encoding}) not read")
                body, truncated = await _read_capped(response, max_bytes)
                return Fetched(
                    url=current,
                    status=response.status_code,
                    content_type=_media_type(response.headers.get("content-type", "")),
                    encoding=response.charset_encoding,
                    body=body,
                    truncated=truncated,
                )
        except httpx.HTTPError as exc:
            raise FetchFailed(f"{current}: {exc or type(exc).__name__}") from None
    raise FetchFailed(f"{url}: more than {max_redirects} redirects")


def _media_type(header: str) -> str:
    """``text/html`` out of ``Text/HTML; charset=UTF-8`` (media types ignore case)."""
    return header.split(";")[0].strip().lower()


def check_peer(response: httpx.Response, allowed: Sequence[IPNetwork]) -> None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        return  # no socket to ask (a proxy-less test transport); the name was checked
    address = ipaddress.ip_address(str(peer[0]).split("%")[0])
    if not is_allowed(address, allowed):
        raise BlockedUrl(f"connected to a non-public address ({address})")


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    size = 0
    async for piece in response.aiter_raw():
        parts.append(piece)
        size += len(piece)
        if size >= max_bytes:
            return b"".join(parts)[:max_bytes], True
    return b"".join(parts), False
