"""One vector from several embeddings engines, for collections in more than one language.

An English model (MiniLM) ranks English paraphrases well but cannot read Chinese; a multilingual
one (e5) reads Chinese but ranks some English paraphrases lower. A passage is embedded by every
member and the vectors are joined, each scaled to the same share. A question is embedded by one
member only, the first listed of those that read its script best (measured once with the dense
probe), and the other members' parts of its vector are zeros. The cosine of the two joined
vectors is then that member's own cosine, scaled by a constant: each question is ranked by the
model that reads it, on one store, with one search.
"""

from __future__ import annotations

import asyncio
import math
from typing import ClassVar

import structlog
from pydantic import Field, field_validator

from core.engines import Embeddings, EmbeddingsEngine, EngineSettings, EngineUnavailable
from core.engines.base import EngineContext
from core.engines.embeddings import InputType
from core.engines.services import BulkEmbedding
from plugins.rag_chroma import dense_probe

log = structlog.get_logger(__name__)

#: Abilities this close to the best count as the best (the probe's scores are fractions of six).
_TIE = 1e-6


class CombinedSettings(EngineSettings):
    #: Embeddings engines, by name, in order of preference: a question goes to the first of
    #: those that read its script best. Every passage is embedded by all of them.
    members: list[str] = Field(min_length=2)

    @field_validator("members")
    @classmethod
    def _distinct(cls, members: list[str]) -> list[str]:
        if len(set(members)) != len(members):
            raise ValueError("each member may be named once")
        return members


class CombinedEmbeddingsEngine(EmbeddingsEngine):
    Settings: ClassVar[type[EngineSettings]] = CombinedSettings
    description = (
        "several embeddings engines as one: passages by all, each question by the one that "
        "reads its script best"
    )
    settings: CombinedSettings
    # The members keep their own limits; this engine only waits on them.
    default_max_concurrency: ClassVar[int] = 16

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._choice: dict[dense_probe.Script, int] | None = None
        self._sizes: list[int] | None = None
        self._probing = asyncio.Lock()

    async def load(self) -> None:
        if self.name in self.settings.members:
            raise EngineUnavailable(f"{self.name!r} cannot be one of its own members")

    async def close(self) -> None:
        self._choice = None

    def info(self) -> dict[str, object]:
        chosen = self._choice or {}
        return {
            "members": list(self.settings.members),
            "questions_by": {s: self.settings.members[i] for s, i in chosen.items()},
        }

    async def embed(self, texts: list[str], input_type: InputType | None = None) -> Embeddings:
        if input_type == "query":
            return Embeddings(await self._questions(texts), 0)
        return Embeddings(await self._passages(texts, input_type, bulk=False), 0)

    async def embed_bulk(self, texts: list[str], input_type: InputType) -> list[list[float]]:
        if input_type == "query":
            return await self._questions(texts)
        return await self._passages(texts, input_type, bulk=True)

    async def _member(
        self, member: str, texts: list[str], input_type: InputType | None, *, bulk: bool
    ) -> list[list[float]]:
        services = self.context.services
        if bulk and input_type is not None and isinstance(services, BulkEmbedding):
            async with services.embedder(member) as bound:
                return await bound(texts, input_type)
        return await services.embed(texts, model=member, input_type=input_type)

    async def _passages(
        self, texts: list[str], input_type: InputType | None, *, bulk: bool
    ) -> list[list[float]]:
        if not texts:
            return []
        parts = await asyncio.gather(
            *(self._member(m, texts, input_type, bulk=bulk) for m in self.settings.members)
        )
        share = 1 / math.sqrt(len(parts))
        return [
            [x * share for vectors in parts for x in _unit(vectors[row])]
            for row in range(len(texts))
        ]

    async def _questions(self, texts: list[str]) -> list[list[float]]:
        choice, sizes = await self._measured()
        joined: list[list[float]] = []
        by_member: dict[int, list[int]] = {}
        for row, text in enumerate(texts):
            by_member.setdefault(choice[dense_probe.script_of(text)], []).append(row)
        vectors: dict[int, list[float]] = {}
        for member, rows in by_member.items():
            name = self.settings.members[member]
            found = await self._member(name, [texts[r] for r in rows], "query", bulk=False)
            vectors.update(zip(rows, found, strict=True))
        offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        for row, text in enumerate(texts):
            member = choice[dense_probe.script_of(text)]
            vector = [0.0] * sum(sizes)
            start = offsets[member]
            vector[start : start + sizes[member]] = _unit(vectors[row])
            joined.append(vector)
        return joined

    async def _measured(self) -> tuple[dict[dense_probe.Script, int], list[int]]:
        """Which member takes each script's questions, and each member's vector size."""
        if self._choice is None or self._sizes is None:
            async with self._probing:
                if self._choice is None or self._sizes is None:
                    abilities: list[dict[dense_probe.Script, float]] = []
                    sizes: list[int] = []
                    for member in self.settings.members:
                        ability, size = await self._probe(member)
                        abilities.append(ability)
                        sizes.append(size)
                    choice = {
                        script: _first_best([a[script] for a in abilities])
                        for script in dense_probe.PROBES
                    }
                    self._sizes, self._choice = sizes, choice
                    log.info(
                        "embeddings.questions_routed",
                        engine=self.name,
                        **{s: self.settings.members[i] for s, i in choice.items()},
                    )
        return self._choice, self._sizes

    async def _probe(self, member: str) -> tuple[dict[dense_probe.Script, float], int]:
        size = 0

        async def embed(texts: list[str], side: InputType) -> list[list[float]]:
            nonlocal size
            vectors = await self._member(member, texts, side, bulk=False)
            size = len(vectors[0])
            return vectors

        return await dense_probe.measure(embed), size


def _first_best(abilities: list[float]) -> int:
    best = max(abilities)
    return next(i for i, a in enumerate(abilities) if a >= best - _TIE)


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]
