"""Which addresses a result's page may be fetched from: http(s) only, and only hosts whose every
address is public, so a search result cannot point the daemon at this machine, its network or a
cloud metadata service. Networks the config allows (an intranet wiki) are the exception."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedUrl(Exception):
    """The address may not be fetched; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse_target(url: str) -> Target:
    """The scheme, host and port of ``url``; anything but http(s) with a host is refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedUrl(f"not a valid address: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedUrl(f"scheme {scheme or 'none'!r} is not fetched (http and https only)")
    if not parts.hostname:
        raise BlockedUrl("the address has no host")
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80))


def networks(entries: Sequence[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


#: IPv6 forms that carry an IPv4 address in their last 32 bits and reach it: NAT64's well-known
#: prefix and the deprecated IPv4-compatible form (``::127.0.0.1``).
_IPV4_IN_LOW_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
)


def is_allowed(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> bool:
    """Public (globally routable, not multicast) addresses, or ones in ``allowed``."""
    if isinstance(address, ipaddress.IPv6Address):
        address = embedded_ipv4(address) or address
    if any(address in network for network in allowed):
        return True
    return address.is_global and not address.is_multicast


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to (::ffff:127.0.0.1, 64:ff9b::7f00:1 through NAT64,
    2002:7f00:1:: through 6to4 are all 127.0.0.1), judged in its place."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _IPV4_IN_LOW_BITS) and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


async def resolve_allowed(target: Target, allowed: Sequence[IPNetwork] = ()) -> list[IPAddress]:
    """Every address ``target.host`` resolves to, all of which must be allowed: one private
    address among public ones is refused too (the connection could land on either)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
            raise BlockedUrl(f"cannot resolve {target.host}: {exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    refused = [str(a) for a in addresses if not is_allowed(a, allowed)]
    if refused or not addresses:
        raise BlockedUrl(f"{target.host} resolves to a non-public address ({', '.join(refused)})")
    return addresses
