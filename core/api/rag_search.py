"""The search a request asks for: ``/v1/rag/query`` and the ``rag`` block of chat and
conversation name the same retrieval and web search with the same fields, so both are turned into
sources here."""

from __future__ import annotations

from typing import Any, Protocol

from core.api.sources import Sources, gather_sources
from core.engines.retrieval import RetrievalMode, RetrievalQuery
from core.runtime.generation import Generation


class SearchFields(Protocol):
    """The fields a request names its search with."""

    collection: str
    top_k: int
    mode: RetrievalMode
    filters: dict[str, Any]
    min_score: float | None
    #: Retrieval engine, route or alias (None: the rag route).
    model: str | None
    web_search: bool
    web_top_k: int | None


async def search_sources(
    generation: Generation, question: str, fields: SearchFields, *, web_top_k_param: str
) -> Sources:
    """Local chunks for ``question`` and, when asked for, web results beside them.
    ``web_top_k_param`` is how the request spells ``web_top_k``, for the 400 about it."""
    query = RetrievalQuery(
        question=question,
        collection=fields.collection,
        top_k=fields.top_k,
        mode=fields.mode,
        filters=fields.filters,
        min_score=fields.min_score,
    )
    web_top_k = generation.web_search.results_wanted(
        fields.web_search, fields.web_top_k, param=web_top_k_param
    )
    return await gather_sources(generation, query, fields.model, web_top_k)
