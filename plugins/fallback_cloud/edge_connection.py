"""The connection edge-tts opens, with name resolution bounded in time.

Offline, some resolvers answer "no such host" at once and others only after their own timeout
(5 s is common). aiohttp's connect timeouts do not cover the lookup, so this resolver gives up
after ``resolve_timeout`` and reports it as the lookup failure it effectively is. Imported only
when the edge engine speaks (aiohttp comes with edge-tts).
"""

from __future__ import annotations

import asyncio
import errno
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult


class BoundedResolver(AbstractResolver):
    def __init__(self, timeout: float) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._timeout = timeout

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            return await asyncio.wait_for(self._inner.resolve(host, port, family), self._timeout)
        except TimeoutError:
            # An OSError, so aiohttp reports it as a failed lookup (and the engine as unavailable).
            message = f"looking up {host} took longer than {self._timeout:g}s"
            raise OSError(errno.ETIMEDOUT, message) from None

    async def close(self) -> None:
        await self._inner.close()


class RequestConnector(aiohttp.TCPConnector):
    """A connector for one synthesis. edge-tts closes its session after each attempt (and
    retries once on a 403 with the same connector), so closing is left to :meth:`release`."""

    async def close(self, *, abort_ssl: bool = False) -> None:
        return None

    async def release(self) -> None:
        await super().close()


def connector(resolve_timeout: float) -> RequestConnector:
    return RequestConnector(resolver=BoundedResolver(resolve_timeout))
