"""The ingestion job queue's own logic (the work is a stand-in; the real engines are exercised
in tests/plugins/rag_chroma/test_ingest_jobs.py): readers of a job's progress, cancellation,
the order jobs run in and the queue bound."""

from __future__ import annotations

import asyncio

import pytest

from core.engines.errors import EngineOverloaded
from core.engines.retrieval import DocumentInfo
from core.ingest.jobs import IngestJob, IngestJobs, JobLimits, JobStatus


def job() -> IngestJob:
    return IngestJob("ingest-test", "docs", ["a"], "hash")


@pytest.mark.timeout(20)  # a broken lock hangs the readers rather than raising
async def test_a_reader_cancelled_twice_does_not_break_the_others() -> None:
    # A progress stream whose client left is cancelled twice (the disconnect watch and the
    # response's own task group); the other readers must still see the next change.
    watched = job()
    leaving = asyncio.create_task(watched.changed(watched.version, 30.0))
    await asyncio.sleep(0)  # waiting
    leaving.cancel()
    staying = asyncio.create_task(watched.changed(watched.version, 30.0))
    await asyncio.sleep(0)  # begins to wait while the first is still unwinding
    leaving.cancel()
    done, _ = await asyncio.wait([leaving], timeout=5.0)
    assert done and leaving.cancelled()
    watched.progress(3, 10)
    assert await asyncio.wait_for(staying, 5.0) is True


async def test_changed_answers_at_once_for_an_old_version_and_false_after_the_timeout() -> None:
    watched = job()
    seen = watched.version
    watched.progress(1, 2)
    assert await watched.changed(seen, 5.0) is True
    assert await watched.changed(watched.version, 0.01) is False


async def test_cancelling_a_running_job_ends_it_cancelled_and_lets_the_next_run() -> None:
    jobs = IngestJobs(lambda: JobLimits(max_running=1))
    started = asyncio.Event()

    async def forever(running: IngestJob) -> list[DocumentInfo]:
        started.set()
        await asyncio.Event().wait()
        return []

    async def quick(running: IngestJob) -> list[DocumentInfo]:
        running.progress(1, 1)
        return []

    first, _ = jobs.submit("docs", ["a"], "one", forever)
    second, _ = jobs.submit("docs", ["b"], "two", quick)
    await asyncio.wait_for(started.wait(), 5.0)
    assert second.status is JobStatus.QUEUED  # one at a time
    assert jobs.cancel(first)
    await asyncio.wait_for(jobs.wait(first), 5.0)
    assert first.status is JobStatus.CANCELLED
    await asyncio.wait_for(jobs.wait(second), 5.0)
    assert second.as_json()["status"] == "succeeded" and second.chunks_done == 1
    assert not jobs.cancel(second)  # already finished
    await jobs.close()


async def test_the_same_content_is_one_job_and_a_full_queue_is_busy() -> None:
    jobs = IngestJobs(lambda: JobLimits(max_running=1, max_queued=1))
    hold = asyncio.Event()

    async def held(running: IngestJob) -> list[DocumentInfo]:
        await hold.wait()
        return []

    running, _ = jobs.submit("docs", ["a"], "one", held)
    await asyncio.sleep(0.01)  # it leaves the queue and runs
    queued, _ = jobs.submit("docs", ["b"], "two", held)
    again, existing = jobs.submit("docs", ["b"], "two", held)
    assert existing and again is queued
    with pytest.raises(EngineOverloaded):
        jobs.submit("docs", ["c"], "three", held)
    hold.set()
    await asyncio.wait_for(jobs.wait(queued), 5.0)
    assert running.status is queued.status is JobStatus.SUCCEEDED
    await jobs.close()
