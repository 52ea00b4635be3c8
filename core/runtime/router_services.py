"""The :class:`core.engines.services.Services` engines use, backed by the live router."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from core.engines.base import Capability
from core.engines.embeddings import EmbeddingsEngine
from core.engines.input_type import InputType
from core.runtime.generation import Generation

#: The runtime's ``lease``: the current configuration generation, held for one call.
Lease = Callable[[], AbstractAsyncContextManager[Generation]]


class RouterServices:
    """Engine-to-engine calls go through the router, so they get fallback and breakers too."""

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
