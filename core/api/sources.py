"""The sources a grounded answer cites: local chunks from the rag route and, when a request asks
for web search, web results from the search route, found at the same time and fused into one
numbered list."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from core.api.routing_headers import engine_headers
from core.engines.base import Capability
from core.engines.retrieval import Citation, RetrievalEngine, RetrievalQuery
from core.runtime.generation import Generation
from core.websearch.citation import WebCitation
from core.websearch.fusion import Source, fuse
from core.websearch.search import WebFound

T = TypeVar("T")


@dataclass(frozen=True)
class Sources:
    #: In the order they are numbered ([1], [2], ...).
    items: list[Source]
    #: The rag engine's response headers (which engine served, fallbacks).
    headers: dict[str, str]
    #: The search engine that found the web results; None without web search.
    web_engine: str | None = None


def citation_json(number: int, source: Source) -> dict[str, Any]:
    if isinstance(source, WebCitation):
        return {"index": number, "source": "web", **dataclasses.asdict(source)}
    return {"index": number, **dataclasses.asdict(source)}


def grounding_prompt(sources: Sequence[Source]) -> str:
    """A system message that hands the model numbered sources to cite."""
    lines = []
    for number, source in enumerate(sources, 1):
        if isinstance(source, WebCitation):
            lines.append(f"[{number}] {source.title} ({source.url}): {source.text}")
        else:
            lines.append(f"[{number}] {source.title + ': ' if source.title else ''}{source.text}")
    return (
        "Answer using only the numbered sources below. Cite the sources you use as [1], [2]. "
        "If the sources do not contain the answer, say you do not know.\n\n" + "\n\n".join(lines)
    )


async def retrieve(
    generation: Generation, query: RetrievalQuery, model: str | None
) -> tuple[list[Citation], dict[str, str]]:
    async def run(engine: RetrievalEngine) -> list[Citation]:
        return await engine.query(query)

    routed = await generation.router.call(Capability.RAG, model, run)
    return routed.value, engine_headers(routed.engine, routed.attempts)


async def gather_sources(
    generation: Generation, query: RetrievalQuery, model: str | None, web_top_k: int | None
) -> Sources:
    """Local chunks, plus ``web_top_k`` web results when that is set (None: no web search)."""
    if web_top_k is None:
        citations, headers = await retrieve(generation, query, model)
        return Sources(list(citations), headers)
    search = generation.web_search.find(generation.router, query.question, web_top_k)
    (citations, headers), found = await side_by_side(retrieve(generation, query, model), search)
    return Sources(fuse(citations, found.citations), headers, found.engine)


async def side_by_side(
    first: Awaitable[tuple[list[Citation], dict[str, str]]], second: Awaitable[WebFound]
) -> tuple[tuple[list[Citation], dict[str, str]], WebFound]:
    """Both results; the first failure cancels the other and is raised as it is."""
    local, web = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        await asyncio.wait({local, web}, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in (local, web):
            if not task.done():
                task.cancel()
    failures = [t.exception() for t in (local, web) if t.done() and not t.cancelled()]
    error = next((f for f in failures if f is not None), None)
    if error is not None:
        await asyncio.gather(local, web, return_exceptions=True)  # let the cancelled one end
        raise error
    return local.result(), web.result()
