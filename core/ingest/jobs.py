"""Ingestion jobs: documents are chunked, embedded and written in the background, a few at a time.

A job runs outside any request (and so outside the router's request timeout); a client may wait
for it, poll it, follow its progress as server-sent events or cancel it. Jobs run in the order
they were submitted, at most ``max_running`` at once; the rest wait in a bounded queue. A job for
content that is already being ingested is not started twice: the running job is handed back.
Finished jobs are kept (the most recent ``keep_finished``) so their outcome can still be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog

from core.engines.errors import EngineOverloaded
from core.engines.retrieval import DocumentInfo

log = structlog.get_logger(__name__)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass
class IngestJob:
    id: str
    collection: str
    document_ids: list[str]
    #: Content hash of the upload (see core.api.routes.rag_jobs.upload_hash): an upload of the
    #: same documents with the same content while this job is under way is handed this job.
    content: str
    status: JobStatus = JobStatus.QUEUED
    chunks_total: int = 0
    chunks_done: int = 0
    #: Documents whose stored copy already had this content: nothing was written for them.
    unchanged: int = 0
    engine: str | None = None
    documents: list[DocumentInfo] = field(default_factory=list)
    failure: BaseException | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    #: Bumped on every change; event streams wait for it to move.
    version: int = 0
    task: asyncio.Task[None] | None = None
    #: Set (and replaced) on every change. An event rather than a condition: a reader cancelled
    #: twice while waiting could release a condition's lock that another reader then held.
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def changed(self, seen: int, timeout: float) -> bool:
        """Wait until the job changes after version ``seen`` (False after ``timeout``)."""
        if self.version != seen:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version != seen

    def progress(self, done: int, total: int) -> None:
        self.chunks_done, self.chunks_total = done, total
        self.touch()

    def as_json(self) -> dict[str, Any]:
        error = None
        if self.failure is not None:
            error = {
                "message": str(getattr(self.failure, "message", None) or self.failure),
                "type": type(self.failure).__name__,
                "param": getattr(self.failure, "param", None),
            }
        return {
            "object": "rag.job",
            "id": self.id,
            "status": self.status.value,
            "collection": self.collection,
            "document_id": self.document_ids[0] if len(self.document_ids) == 1 else None,
            "document_ids": self.document_ids,
            "chunks_total": self.chunks_total,
            "chunks_done": self.chunks_done,
            "unchanged": self.unchanged,
            "engine": self.engine,
            "content_sha256": self.content,
            "error": error,
            "created_at": round(self.created_at, 3),
            "started_at": None if self.started_at is None else round(self.started_at, 3),
            "finished_at": None if self.finished_at is None else round(self.finished_at, 3),
        }


#: The work of one job: ingest its documents, reporting progress on the job.
Work = Callable[[IngestJob], Awaitable[list[DocumentInfo]]]


@dataclass(frozen=True)
class JobLimits:
    max_running: int = 1
    max_queued: int = 64
    keep_finished: int = 256


class IngestJobs:
    """Every ingestion job of this daemon, running, queued and recently finished."""

    def __init__(self, limits: Callable[[], JobLimits] = JobLimits) -> None:
        self._limits = limits
        self._jobs: OrderedDict[str, IngestJob] = OrderedDict()
        self._running = 0
        self._turns: asyncio.Condition = asyncio.Condition()
        self._queue: list[str] = []

    def get(self, job_id: str) -> IngestJob | None:
        return self._jobs.get(job_id)

    def newest_first(self, collection: str | None = None) -> list[IngestJob]:
        return [j for j in reversed(self._jobs.values()) if collection in (None, j.collection)]

    def active_for(
        self, collection: str, document_ids: list[str], content: str
    ) -> IngestJob | None:
        for job in self._jobs.values():
            if (job.collection, job.document_ids, job.content) == (
                collection,
                document_ids,
                content,
            ) and not job.status.finished:
                return job
        return None

    def submit(
        self, collection: str, document_ids: list[str], content: str, work: Work
    ) -> tuple[IngestJob, bool]:
        """Queue ``work`` as a new job, or hand back the job already ingesting this content
        (second item True). A full queue is :class:`EngineOverloaded` (busy: try later)."""
        existing = self.active_for(collection, document_ids, content)
        if existing is not None:
            return existing, True
        limits = self._limits()
        if len(self._queue) >= limits.max_queued:
            raise EngineOverloaded(
                f"{len(self._queue)} ingestion jobs are already queued; try again later",
                retry_after=5.0,
            )
        job = IngestJob(f"ingest-{uuid.uuid4().hex[:20]}", collection, document_ids, content)
        self._jobs[job.id] = job
        self._queue.append(job.id)
        job.task = asyncio.get_running_loop().create_task(
            self._run(job, work), name=f"ingest:{job.id}"
        )
        self._forget_old(limits.keep_finished)
        log.info("rag.job_queued", job=job.id, collection=collection, documents=len(document_ids))
        return job, False

    def cancel(self, job: IngestJob) -> bool:
        """Stop a queued or running job; False when it had already finished."""
        if job.status.finished or job.task is None:
            return False
        job.task.cancel()
        return True

    async def wait(self, job: IngestJob) -> None:
        """Until the job has finished (whatever happens to the waiter, the job goes on)."""
        while not job.status.finished:
            await job.changed(job.version, 30.0)

    async def close(self) -> None:
        """Cancel every job still queued or running (the daemon is stopping)."""
        tasks = [j.task for j in self._jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _take_turn(self, job: IngestJob) -> None:
        async with self._turns:
            await self._turns.wait_for(
                lambda: self._queue[0] == job.id and self._running < self._limits().max_running
            )
            self._queue.pop(0)
            self._running += 1
            self._turns.notify_all()

    async def _end_turn(self, job: IngestJob, ran: bool) -> None:
        async with self._turns:
            if ran:
                self._running -= 1
            elif job.id in self._queue:
                self._queue.remove(job.id)
            self._turns.notify_all()

    async def _run(self, job: IngestJob, work: Work) -> None:
        ran = False
        try:
            await self._take_turn(job)
            ran = True
            job.status, job.started_at = JobStatus.RUNNING, time.time()
            job.touch()
            log.info("rag.job_started", job=job.id, collection=job.collection)
            job.documents = await work(job)
            job.status = JobStatus.SUCCEEDED
        except asyncio.CancelledError:
            job.status = JobStatus.CANCELLED
        except Exception as exc:  # any failure is the job's outcome, read by its clients
            job.status, job.failure = JobStatus.FAILED, exc
        finally:
            job.finished_at = time.time()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._end_turn(job, ran))
            job.touch()
            log.info(
                "rag.job_finished",
                job=job.id,
                status=job.status.value,
                chunks=job.chunks_done,
                seconds=round(job.finished_at - (job.started_at or job.created_at), 3),
                error=None if job.failure is None else str(job.failure),
            )

    def _forget_old(self, keep: int) -> None:
        finished = [j.id for j in self._jobs.values() if j.status.finished]
        for job_id in finished[: max(len(finished) - keep, 0)]:
            del self._jobs[job_id]
