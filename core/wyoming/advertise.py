"""Announcing the listener on the local network (mDNS ``_wyoming._tcp``), as the Wyoming servers
do, so Home Assistant offers to add it by itself (``wyoming.zeroconf: true``).

A listener bound to one address is announced on that interface with that address; one bound to
all addresses is announced everywhere with the address this machine uses towards the network.
Registering takes a couple of seconds of probing, so it runs beside the daemon's start; a
machine without multicast only loses discovery (logged), never the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from typing import Any

import structlog

log = structlog.get_logger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def default_name() -> str:
    host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname().split(".")[0]).strip("-")
    return f"voxgate-{host or 'host'}"[:63]


def _outward_address() -> str:
    """The local address packets to the mDNS group leave from (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((_MDNS_GROUP, 5353))
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""


class Advertisement:
    def __init__(self, name: str, host: str, port: int) -> None:
        self.name = name
        self._host = host
        self._port = port
        self._zeroconf: Any = None
        self._info: Any = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._register(), name="wyoming-zeroconf")

    async def _register(self) -> None:
        try:
            from zeroconf import Error as ZeroconfError
            from zeroconf import InterfaceChoice, IPVersion
            from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
        except ImportError:
            log.error(
                "wyoming.zeroconf_unavailable",
                advice="install the zeroconf package: pip install 'voxgate[wyoming]'",
            )
            return
        everywhere = _unspecified(self._host)
        address = _outward_address() if everywhere else self._host
        try:
            packed = ipaddress.ip_address(address).packed
            self._zeroconf = AsyncZeroconf(
                interfaces=InterfaceChoice.All if everywhere else [address],
                ip_version=IPVersion.V6Only if len(packed) == 16 else IPVersion.V4Only,
            )
            self._info = AsyncServiceInfo(
                SERVICE_TYPE,
                f"{self.name}.{SERVICE_TYPE}",
                addresses=[packed],
                port=self._port,
                server=f"{self.name}.local.",
            )
            await self._zeroconf.async_register_service(self._info)
        except (OSError, ValueError, ZeroconfError) as exc:  # no interface, a name clash
            log.error("wyoming.zeroconf_failed", name=self.name, error=str(exc) or repr(exc))
            return
        log.info("wyoming.announced", name=self.name, address=address, port=self._port)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._zeroconf is not None:
            with contextlib.suppress(Exception):
                if self._info is not None:
                    await self._zeroconf.async_unregister_service(self._info)
            await self._zeroconf.async_close()
            self._zeroconf = None
