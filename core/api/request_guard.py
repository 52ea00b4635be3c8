"""Who may reach the daemon from a browser, and who the client really is behind a proxy.

A daemon on loopback is reachable by every web page the user opens: a page can POST to
``http://127.0.0.1:8765`` (a "simple" cross-site request needs no preflight) or rebind its own
DNS name to 127.0.0.1 and read the answers. Three checks close that:

- **Host**: the request must name this daemon. IP literals and ``localhost`` are always fine (a
  rebinding attack needs a DNS name of the attacker's); other names must be listed in
  ``server.allowed_hosts``.
- **Origin**: a browser says which page sent a request. State-changing requests (anything but
  GET/HEAD/OPTIONS) and WebSocket handshakes from another origin are refused, unless the origin is
  allowed for browser apps (``server.cors_origins``, loopback pages by default). The control plane
  takes no cross-origin request at all.
- **Forwarded addresses** are believed only from ``server.trusted_proxies``; a request relayed by a
  proxy counts as coming from the address the proxy names, never from the proxy itself, so a
  same-host reverse proxy does not make every client "loopback". A request from this host that
  carries forwarding headers although no proxy is configured was relayed by something: it does
  not count as loopback either.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.config.schema import ServerConfig

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Pages served from this machine (any port): browser apps in development, the console.
_LOOPBACK_ORIGIN = re.compile(
    r"^https?://(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$", re.IGNORECASE
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RequestGuard:
    allowed_hosts: frozenset[str]
    any_host: bool
    cors_origins: frozenset[str]
    any_origin: bool
    trusted_proxies: tuple[Network, ...]

    @classmethod
    def from_config(cls, server: ServerConfig) -> RequestGuard:
        hosts = frozenset(h.lower() for h in server.allowed_hosts)
        origins = frozenset(o.rstrip("/").lower() for o in server.cors_origins)
        proxies = tuple(ipaddress.ip_network(p, strict=False) for p in server.trusted_proxies)
        return cls(hosts - {"*"}, "*" in hosts, origins - {"*"}, "*" in origins, proxies)

    # -- Host ----------------------------------------------------------------------------------

    def host_allowed(self, host_header: str | None) -> bool:
        if host_header is None or self.any_host:
            return True
        host = _host_name(host_header)
        if not host:
            return False
        if host == "localhost" or host.endswith(".localhost") or _is_ip(host):
            return True
        return host in self.allowed_hosts or any(
            entry.startswith(".") and host.endswith(entry) for entry in self.allowed_hosts
        )

    # -- Origin --------------------------------------------------------------------------------

    def browser_origin_allowed(self, origin: str) -> bool:
        """Whether pages of ``origin`` may use the data plane (CORS and state changes)."""
        origin = origin.rstrip("/").lower()
        if self.any_origin or origin in self.cors_origins:
            return True
        return bool(_LOOPBACK_ORIGIN.match(origin))

    def origin_refusal(
        self, *, method: str, websocket: bool, control: bool, origin: str | None, host: str | None
    ) -> str | None:
        """Why a cross-origin request must be refused, or None when it may go on."""
        if origin is None or (method in _SAFE_METHODS and not websocket):
            return None
        if _same_origin(origin, host):
            return None
        if control:
            return "the control plane takes no cross-origin requests"
        if self.browser_origin_allowed(origin):
            return None
        return (
            f"requests from pages of {origin} are not allowed "
            "(list the origin in server.cors_origins to allow it)"
        )

    # -- client address -------------------------------------------------------------------------

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client's address: the peer, or what a trusted proxy says the client was.

        None (unknown, never loopback) when a trusted proxy relayed the request without naming
        a client, or an unconfigured one on this host relayed it."""
        if peer is None:
            return None
        if not self._trusted(peer):
            relayed_locally = forwarded_for is not None and _is_loopback(peer)
            return None if relayed_locally else peer
        if not forwarded_for:
            return None
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        # The rightmost address a trusted proxy did not add is the client's.
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop if _is_ip(hop) else None
        return None

    def _trusted(self, address: str) -> bool:
        if not self.trusted_proxies:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


def forwarded_for(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The client chain a proxy reported: X-Forwarded-For, RFC 7239 Forwarded, or X-Real-IP."""
    for name, value in headers:
        if name == b"x-forwarded-for":
            return value.decode("latin-1")
    for name, value in headers:
        if name == b"forwarded":
            hops = re.findall(r'for="?\[?([^\]";,]+)', value.decode("latin-1"), re.IGNORECASE)
            return ", ".join(hops)
        if name == b"x-real-ip":
            return value.decode("latin-1")
    return None


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _same_origin(origin: str, host: str | None) -> bool:
    if host is None or origin == "null":
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.strip().lower()
