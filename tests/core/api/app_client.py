"""An HTTP client wired straight into the app of a running runtime (no socket)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from core.api.app import create_app
from tests.support.runtime import running_runtime


@contextlib.asynccontextmanager
async def runtime_client(
    config: Path, *, base_url: str, host: str = "127.0.0.1", **headers: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app serving ``config``, seen as a peer at ``host`` (loopback or not
    decides what the control plane allows) asking for ``base_url``'s host."""
    async with running_runtime(config) as runtime:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=(host, 4000))
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, headers=headers
        ) as client:
            yield client
