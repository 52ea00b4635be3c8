"""Ingestion jobs: ``POST /v1/rag/documents`` hands its documents to a job (see core.ingest.jobs).

``GET /v1/rag/jobs`` lists jobs (newest first), ``GET /v1/rag/jobs/{id}`` reads one,
``GET /v1/rag/jobs/{id}/events`` streams its progress as server-sent events (one ``rag.job``
object per change, the last one finished) and ``DELETE /v1/rag/jobs/{id}`` cancels it: the
document it was writing stays as it was before.

A job writes to the first engine of the ``rag`` route (or the engine the request named) and
embeds with that engine's embedder, both called directly: no fallback to another store or model
part-way, no request timeout over the whole document (each embedding batch has the route's
timeout), and nothing counted on the engines' breakers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import AsyncIterator
from typing import cast

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from core.api.context import generation_of, runtime_of
from core.api.errors import ApiError, as_api_error
from core.engines.base import Capability
from core.engines.errors import EngineError, InvalidRequest
from core.engines.retrieval import Document, DocumentInfo, RetrievalEngine
from core.ingest.content import content_hash
from core.ingest.jobs import IngestJob, IngestJobs, JobLimits
from core.runtime.generation import Generation
from core.runtime.runtime import Runtime

#: An idle event stream sends a comment this often, so proxies keep it open.
_KEEPALIVE_SECONDS = 15.0


def job_limits(runtime: Runtime) -> JobLimits:
    config = runtime.config.config.ingest
    return JobLimits(config.max_running, config.max_queued, config.keep_finished)


def jobs_of(request: HTTPConnection) -> IngestJobs:
    return cast(IngestJobs, request.app.state.ingest_jobs)


def upload_hash(documents: list[Document]) -> str:
    """One hash for an upload: its document's content hash, or for several documents a hash
    of their ids and content hashes, in order."""
    if len(documents) == 1:
        only = documents[0]
        return content_hash(only.collection, only.text, only.metadata)
    digest = hashlib.sha256()
    for document in documents:
        digest.update(document.id.encode() + b"\0")
        digest.update(content_hash(document.collection, document.text, document.metadata).encode())
    return digest.hexdigest()


def target_engine(generation: Generation, model: str | None) -> str:
    """The retrieval engine a job writes to: the route's first (writes never fall back)."""
    return generation.router.chain(Capability.RAG, model).slots[0].name


@contextlib.asynccontextmanager
async def retrieval_engine(runtime: Runtime, name: str) -> AsyncIterator[RetrievalEngine]:
    """The named engine, loaded, holding one of its permits and the generation for the job."""
    async with runtime.lease() as generation:
        slot = generation.slots.get(name)
        if slot is None:  # a reload removed it while the job was queued
            slot = generation.slots[target_engine(generation, None)]
        async with slot.use() as engine:
            yield cast(RetrievalEngine, engine)


def submit(request: Request, documents: list[Document], model: str | None) -> IngestJob:
    """A job for ``documents``, or the job already ingesting the same content."""
    runtime = runtime_of(request)
    engine_name = target_engine(generation_of(request), model)  # unknown names fail now

    async def work(job: IngestJob) -> list[DocumentInfo]:
        job.engine = engine_name
        infos: list[DocumentInfo] = []
        async with retrieval_engine(runtime, engine_name) as engine:
            for document in documents:
                engine.check(document)
            for document in documents:
                before_done, before_total = job.chunks_done, job.chunks_total
                existing = await engine.get(document.collection, document.id)
                digest = content_hash(document.collection, document.text, document.metadata)
                if existing is not None and existing.content_sha256 == digest:
                    job.unchanged += 1
                    job.progress(before_done + existing.chunks, before_total + existing.chunks)
                    infos.append(existing)
                    continue

                def progress(
                    done: int, total: int, d: int = before_done, t: int = before_total
                ) -> None:
                    job.progress(d + done, t + total)

                infos.append(await engine.ingest(document, progress))
        return infos

    collection = documents[0].collection
    ids = [d.id for d in documents]
    job, _ = jobs_of(request).submit(collection, ids, upload_hash(documents), work)
    return job


async def answer(request: Request, job: IngestJob, wait: bool) -> Response:
    """202 with the job, or (``wait``) the stored documents once the job is done."""
    location = {"location": f"/v1/rag/jobs/{job.id}", "x-voxgate-job": job.id}
    if not wait:
        return JSONResponse(job.as_json(), status_code=202, headers=location)
    # The job goes on if this client leaves; posting the same content again finds it.
    await jobs_of(request).wait(job)
    if job.failure is not None:
        raise failure_error(job.failure, location)
    if job.status.value == "cancelled":
        raise ApiError(409, f"ingestion job {job.id} was cancelled", code="job_cancelled")
    headers = {**location, "x-voxgate-engine": job.engine or ""}
    data = [info_json(i) for i in job.documents]
    if len(data) == 1:
        return JSONResponse(data[0], status_code=201, headers=headers)
    return JSONResponse({"object": "list", "data": data}, status_code=201, headers=headers)


def failure_error(failure: BaseException, headers: dict[str, str]) -> ApiError:
    """What a client waiting for a failed job is told: its own mistakes as 4xx, an engine that
    failed as 503 (the job is over; posting again starts a new one)."""
    if isinstance(failure, EngineError) and not isinstance(failure, InvalidRequest):
        error = ApiError(503, failure.message, code=failure.kind)
        if failure.retry_after is not None:
            error.headers["Retry-After"] = str(max(1, math.ceil(failure.retry_after)))
    else:
        error = as_api_error(failure)
    error.headers = {**error.headers, **headers}
    return error


def info_json(info: DocumentInfo) -> dict[str, object]:
    return {
        "object": "rag.document",
        "id": info.id,
        "collection": info.collection,
        "chunks": info.chunks,
        "chars": info.chars,
        "metadata": info.metadata,
        "content_sha256": info.content_sha256,
    }


def _job(request: Request) -> IngestJob:
    job_id = request.path_params["job_id"]
    job = jobs_of(request).get(job_id)
    if job is None:
        raise ApiError(404, f"no ingestion job {job_id!r}", param="job_id")
    return job


async def list_jobs(request: Request) -> Response:
    collection = request.query_params.get("collection")
    data = [job.as_json() for job in jobs_of(request).newest_first(collection)]
    return JSONResponse({"object": "list", "data": data})


async def get_job(request: Request) -> Response:
    return JSONResponse(_job(request).as_json())


async def cancel_job(request: Request) -> Response:
    job = _job(request)
    if not jobs_of(request).cancel(job):
        raise ApiError(
            409, f"ingestion job {job.id} has already {job.status.value}", param="job_id"
        )
    await jobs_of(request).wait(job)
    return JSONResponse(job.as_json())


async def job_events(request: Request) -> Response:
    job = _job(request)

    async def events() -> AsyncIterator[str]:
        seen = -1
        while True:
            if job.version != seen:
                seen = job.version
                yield f"event: rag.job\ndata: {json.dumps(job.as_json())}\n\n"
                if job.status.finished:
                    return
            elif not await job.changed(seen, _KEEPALIVE_SECONDS):
                yield ": keep-alive\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


routes = [
    Route("/v1/rag/jobs", list_jobs, methods=["GET"]),
    Route("/v1/rag/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/v1/rag/jobs/{job_id}", cancel_job, methods=["DELETE"]),
    Route("/v1/rag/jobs/{job_id}/events", job_events, methods=["GET"]),
]
