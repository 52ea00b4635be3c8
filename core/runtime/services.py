"""The :class:`core.engines.services.Services` engines use, backed by the live router."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.engines.base import Capability
from core.engines.embeddings import EmbeddingsEngine, InputType

if TYPE_CHECKING:
    from core.runtime.runtime import Runtime


class RouterServices:
    """Engine-to-engine calls go through the router, so they get fallback and breakers too."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def embed(
        self, texts: list[str], *, model: str | None = None, input_type: InputType | None = None
    ) -> list[list[float]]:
        async with self._runtime.lease() as generation:

            async def run(engine: EmbeddingsEngine) -> list[list[float]]:
                return (await engine.embed(texts, input_type)).vectors

            routed = await generation.router.call(Capability.EMBEDDINGS, model, run)
            return routed.value
