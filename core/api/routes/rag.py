"""Retrieval endpoints: ingest documents, list/get/delete them, query with citations.

``POST /v1/rag/documents`` takes JSON ``{"id", "text", "metadata", "collection"}`` or a multipart
``file`` (txt, md, html, pdf, JSON records) with optional ``id``, ``metadata`` (JSON) and
``collection``; the documents are stored by an ingestion job (see ``rag_jobs``), answered 201
once stored or 202 with the job. ``POST /v1/rag/query`` retrieves; with ``generate: true`` the
llm route answers from the retrieved chunks, citing them as [1], [2], ... A citation's
``score`` (and so ``min_score``) is on the mode's own scale: cosine similarity for ``dense``,
BM25 for ``keyword``, 0-1 for ``hybrid`` with the default weighted fusion (about 0.03 at most
with RRF).
``web_search: true`` adds web results from the search route (see ``core.api.sources``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.bodies import read_form, read_json
from core.api.context import generation_of, limits_of
from core.api.errors import ApiError
from core.api.params import ascii_int
from core.api.rag_search import search_sources
from core.api.routes.rag_jobs import answer, info_json, submit
from core.api.routes.rag_jobs import routes as job_routes
from core.api.routing_headers import engine_headers
from core.api.sources import citation_json, grounding_prompt
from core.client_json import UnreadableJson, read_client_json
from core.engines.base import Capability
from core.engines.llm import ChatMessage, ChatRequest, LLMEngine
from core.engines.retrieval import (
    Document,
    DocumentInfo,
    RetrievalEngine,
    check_metadata,
)
from core.ingest.content import content_hash, content_id
from core.ingest.extract import DocumentTooLarge, UnreadableDocument, extract_documents
from core.runtime.generation import Generation

T = TypeVar("T")


class DocumentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, min_length=1, max_length=256)
    text: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    collection: str = "default"
    model: str | None = None


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=4000)
    collection: str = "default"
    top_k: int = Field(5, ge=1, le=100)
    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    filters: dict[str, Any] = Field(default_factory=dict)
    #: NaN would compare false with every score and silently return nothing.
    min_score: float | None = Field(None, allow_inf_nan=False)
    generate: bool = False
    model: str | None = None
    llm_model: str | None = None
    max_tokens: int | None = Field(None, ge=1, le=4096)
    #: Also search the web (the search route) and cite its results beside the chunks.
    web_search: bool = Field(False, strict=True)
    #: Web results wanted (default and ceiling: the config's ``web_search`` block).
    web_top_k: int | None = Field(None, ge=1, le=50)


async def _on_rag(
    generation: Generation, model: str | None, fn: Callable[[RetrievalEngine], Awaitable[T]]
) -> tuple[T, dict[str, str]]:
    routed = await generation.router.call(Capability.RAG, model, fn)
    return routed.value, engine_headers(routed.engine, routed.attempts)


async def _documents_from_upload(request: Request) -> tuple[list[Document], str | None]:
    limits = limits_of(request)
    form = await read_form(request, limits.max_upload_bytes)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "missing required file field 'file'", param="file")
        data = await upload.read()
        fields = {k: str(v) for k, v in form.items() if not isinstance(v, UploadFile)}
    finally:
        await form.close()
    try:
        metadata = read_client_json(fields.get("metadata") or "{}")
    except UnreadableJson:
        raise ApiError(400, "metadata must be a JSON object", param="metadata") from None
    if not isinstance(metadata, dict):
        raise ApiError(400, "metadata must be a JSON object", param="metadata")
    try:
        extracted = await asyncio.to_thread(extract_documents, data, upload.filename)
    except DocumentTooLarge as exc:
        raise ApiError(413, str(exc), param="file", code="document_too_large") from None
    except UnreadableDocument as exc:
        raise ApiError(415, str(exc), param="file", code="unreadable_document") from None
    collection = fields.get("collection") or "default"
    given_id = fields.get("id")
    if given_id and len(extracted) > 1:
        raise ApiError(400, "id can only be given for a single document", param="id")
    documents = []
    numbers: dict[str, int] = {}
    for number, item in enumerate(extracted):
        merged = {"source": upload.filename, **item.metadata, **metadata}
        if item.title and "title" not in merged:
            merged["title"] = item.title
        # A file's records without ids are told apart by their position in it.
        default_id = upload.filename or uuid.uuid4().hex
        if len(extracted) > 1:
            default_id = f"{default_id}:{number}"
        check_metadata(merged)
        doc_id = given_id or item.id or default_id
        # A later record with the same id would silently replace the earlier one.
        if (first := numbers.setdefault(doc_id, number)) != number:
            raise ApiError(
                400, f"JSON records {first} and {number} have the same id {doc_id!r}", param="file"
            )
        documents.append(Document(doc_id, item.text, collection, merged))
    return documents, fields.get("model")


async def add_documents(request: Request) -> Response:
    """Store documents through an ingestion job: answered 201 once they are stored, or at once
    with 202 and the job (``?async=true``, or a document of ``ingest.sync_max_chars`` or more)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        documents, model = await _documents_from_upload(request)
    else:
        body = await read_json(request, DocumentBody, limits_of(request).max_request_bytes)
        if not body.text.strip():
            raise ApiError(400, "text must not be blank", param="text")
        metadata = check_metadata(body.metadata)
        # Without an id, the same content always gets the same one: posting it again (a retry
        # after a timeout) finds the stored copy instead of adding a second.
        doc_id = body.id or content_id(content_hash(body.collection, body.text, metadata))
        documents = [Document(doc_id, body.text, body.collection, metadata)]
        model = body.model
    asked = _flag(request, "async")
    ingest = generation_of(request).config.config.ingest
    wait = not asked and max(len(d.text) for d in documents) < ingest.sync_max_chars
    return await answer(request, submit(request, documents, model), wait)


def _flag(request: Request, name: str) -> bool:
    raw = (request.query_params.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, f"{name} must be true or false", param=name)
    return raw in ("true", "1")


def _collection(request: Request) -> str:
    return request.query_params.get("collection") or "default"


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = ascii_int(raw)
    if value is None or value > high:
        raise ApiError(400, f"{name} must be an integer from 0 to {high}", param=name)
    return value


async def list_documents(request: Request) -> Response:
    collection = _collection(request)
    limit = _int_param(request, "limit", 100, 1000)
    offset = _int_param(request, "offset", 0, 10**9)

    async def run(engine: RetrievalEngine) -> list[DocumentInfo]:
        return await engine.list_documents(collection, limit=limit, offset=offset)

    infos, headers = await _on_rag(generation_of(request), request.query_params.get("model"), run)
    return JSONResponse({"object": "list", "data": [info_json(i) for i in infos]}, headers=headers)


async def get_document(request: Request) -> Response:
    doc_id = request.path_params["document_id"]
    collection = _collection(request)

    async def run(engine: RetrievalEngine) -> DocumentInfo | None:
        return await engine.get(collection, doc_id)

    info, headers = await _on_rag(generation_of(request), request.query_params.get("model"), run)
    if info is None:
        raise ApiError(404, f"no document {doc_id!r} in collection {collection!r}", param="id")
    return JSONResponse(info_json(info), headers=headers)


async def delete_document(request: Request) -> Response:
    doc_id = request.path_params["document_id"]
    collection = _collection(request)

    async def run(engine: RetrievalEngine) -> bool:
        return await engine.delete(collection, doc_id)

    removed, headers = await _on_rag(generation_of(request), request.query_params.get("model"), run)
    if not removed:
        raise ApiError(404, f"no document {doc_id!r} in collection {collection!r}", param="id")
    return JSONResponse(
        {"object": "rag.document.deleted", "id": doc_id, "deleted": True}, headers=headers
    )


async def query_documents(request: Request) -> Response:
    body = await read_json(request, QueryBody, limits_of(request).max_request_bytes)
    generation = generation_of(request)
    sources = await search_sources(generation, body.question, body, web_top_k_param="web_top_k")
    result: dict[str, Any] = {
        "object": "rag.query",
        "question": body.question,
        "mode": body.mode,
        "data": [citation_json(n, c) for n, c in enumerate(sources.items, 1)],
    }
    if sources.web_engine is not None:
        result["web_engine"] = sources.web_engine
    if body.generate:
        request_ = ChatRequest(
            messages=(
                ChatMessage("system", grounding_prompt(sources.items)),
                ChatMessage("user", body.question),
            ),
            max_tokens=body.max_tokens,
        )

        async def chat(engine: LLMEngine) -> str:
            return "".join([d.text async for d in engine.chat(request_)])

        answer = await generation.router.call(Capability.LLM, body.llm_model, chat)
        result["answer"] = answer.value.strip()
        result["llm_engine"] = answer.engine
    return JSONResponse(result, headers=sources.headers)


async def rag_stats(request: Request) -> Response:
    collection = request.query_params.get("collection")

    async def run(engine: RetrievalEngine) -> dict[str, Any]:
        return await engine.stats(collection)

    stats, headers = await _on_rag(generation_of(request), request.query_params.get("model"), run)
    return JSONResponse({"object": "rag.stats", **stats}, headers=headers)


routes = [
    Route("/v1/rag/documents", add_documents, methods=["POST"]),
    Route("/v1/rag/documents", list_documents, methods=["GET"]),
    Route("/v1/rag/documents/{document_id:path}", get_document, methods=["GET"]),
    Route("/v1/rag/documents/{document_id:path}", delete_document, methods=["DELETE"]),
    Route("/v1/rag/query", query_documents, methods=["POST"]),
    Route("/v1/rag/stats", rag_stats, methods=["GET"]),
    *job_routes,
]
