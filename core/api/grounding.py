"""The ``rag`` block shared by ``/v1/chat/completions`` and ``/v1/conversation``: retrieve for the
user's words, hand the model the numbered sources in a system message, return them as citations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.api.errors import ApiError
from core.api.rag_search import search_sources
from core.api.sources import citation_json, grounding_prompt
from core.client_json import UnreadableJson, read_client_json
from core.engines.llm import ChatMessage
from core.runtime.generation import Generation


class RagBlock(BaseModel):
    """voxgate extension: ground the reply in retrieved chunks and return them as citations."""

    model_config = ConfigDict(extra="forbid")
    collection: str = "default"
    top_k: int = Field(4, ge=1, le=20)
    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    filters: dict[str, Any] = Field(default_factory=dict)
    #: NaN would compare false with every score and silently return nothing.
    min_score: float | None = Field(None, allow_inf_nan=False)
    #: Retrieval engine, route or alias (default: the rag route).
    model: str | None = None
    #: Also search the web (the search route) and cite its results beside the chunks.
    web_search: bool = Field(False, strict=True)
    #: Web results wanted (default and ceiling: the config's ``web_search`` block).
    web_top_k: int | None = Field(None, ge=1, le=50)


def rag_block_from_form(raw: str | None) -> RagBlock | None:
    """A multipart ``rag`` field: a JSON object, or just a collection name."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        if not text.startswith("{"):
            return RagBlock(collection=text)
        return RagBlock.model_validate(read_client_json(text))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ApiError(400, f"rag.{where}: {first['msg']}", param="rag") from None
    except UnreadableJson:
        raise ApiError(400, "rag must be a JSON object or a collection name", param="rag") from None


@dataclass(frozen=True)
class Grounding:
    #: The system message carrying the numbered sources.
    message: ChatMessage
    #: Citations as returned to the client (``index`` matches the [n] in the reply).
    citations: list[dict[str, Any]]
    #: The retrieval engine that answered.
    engine: str | None
    #: The search engine that found web results (None without web search).
    web_engine: str | None = None


async def ground(generation: Generation, rag: RagBlock, question: str) -> Grounding:
    """Retrieve for ``question`` through the rag route; a clear 400 when there is nothing to
    search for."""
    if not question.strip():
        raise ApiError(400, "rag needs a user message to search for", param="messages")
    sources = await search_sources(generation, question, rag, web_top_k_param="rag.web_top_k")
    return Grounding(
        message=ChatMessage("system", grounding_prompt(sources.items)),
        citations=[citation_json(n, c) for n, c in enumerate(sources.items, 1)],
        engine=sources.headers.get("x-voxgate-engine"),
        web_engine=sources.web_engine,
    )
