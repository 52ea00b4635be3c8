"""The :class:`core.engines.services.Services` engines use, backed by the live router."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from core.engines.base import Capability
from core.engines.embeddings import EmbeddingsEngine
from core.engines.errors import EngineTimeout
from core.engines.input_type import InputType
from core.runtime.generation import Generation

if TYPE_CHECKING:
    from core.runtime.slot import EngineSlot

#: The runtime's ``lease``: the current configuration generation, held for one call.
Lease = Callable[[], AbstractAsyncContextManager[Generation]]


class SlotEmbedder:
    """Bulk embeddings on one engine slot: each batch takes one of its permits (so interactive
    requests interleave) and has a timeout of its own (``ingest.batch_timeout``), not one over
    the whole job."""

    def __init__(self, slot: EngineSlot, timeout: float | None, queue_timeout: float | None):
        self._slot = slot
        self._timeout = timeout
        self._queue_timeout = queue_timeout

    @property
    def engine(self) -> str:
        return self._slot.name

    async def __call__(self, texts: list[str], input_type: InputType) -> list[list[float]]:
        async with self._slot.use(self._queue_timeout) as engine:
            assert isinstance(engine, EmbeddingsEngine)
            try:
                async with _within(self._timeout):
                    return await engine.embed_bulk(texts, input_type)
            except TimeoutError:
                raise EngineTimeout(
                    f"{self.engine!r} embedded no batch of {len(texts)} within {self._timeout:g}s"
                ) from None


@contextlib.asynccontextmanager
async def _within(timeout: float | None) -> AsyncIterator[None]:
    if timeout is None:
        yield
    else:
        async with asyncio.timeout(timeout):
            yield


class RouterServices:
    """Engine-to-engine calls go through the router, so they get fallback and breakers too;
    bulk embeddings (ingestion) are bound to one engine instead (see :meth:`embedder`)."""

    def __init__(self, lease: Lease) -> None:
        self._lease = lease

    async def embed(
        self, texts: list[str], *, model: str | None = None, input_type: InputType | None = None
    ) -> list[list[float]]:
        async with self._lease() as generation:

            async def run(engine: EmbeddingsEngine) -> list[list[float]]:
                return (await engine.embed(texts, input_type)).vectors

            routed = await generation.router.call(Capability.EMBEDDINGS, model, run)
            return routed.value

    @contextlib.asynccontextmanager
    async def embedder(self, model: str | None = None) -> AsyncIterator[SlotEmbedder]:
        """The first engine of the route (or the one named), for a whole bulk job."""
        async with self._lease() as generation:
            router = generation.router
            slot = router.chain(Capability.EMBEDDINGS, model).slots[0]
            policy = router.policy(Capability.EMBEDDINGS, slot)
            timeout = generation.config.config.ingest.batch_timeout
            yield SlotEmbedder(slot, timeout, policy.queue_timeout)
