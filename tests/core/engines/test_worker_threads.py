"""Reusable threads: an idle thread is reused, a busy (or hung) one never delays a new job, a job
that raises leaves its thread serving, and idle threads end."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
import weakref

from core.engines.threaded import run_blocking
from core.engines.worker_threads import ReusableThreads, shared_threads
from core.observability.metrics import Metrics


def run_and_wait(threads: ReusableThreads, name: str = "job") -> int:
    """Runs one job and returns the native id of the thread that ran it."""
    ran_on: list[int] = []
    done = threading.Event()

    def job() -> None:
        ran_on.append(threading.get_native_id())
        done.set()

    threads.submit(job, name)
    assert done.wait(5)
    return ran_on[0]


class HungCall:
    """A job that stands for a native call that hangs: it says when it started and returns only
    once released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.started.set()
        self.release.wait(10)


def wait_until_idle(threads: ReusableThreads, count: int) -> None:
    deadline = time.monotonic() + 5
    while threads.idle_threads() < count:
        assert time.monotonic() < deadline, "threads never went back to idle"
        time.sleep(0.005)


def test_an_idle_thread_is_reused() -> None:
    threads = ReusableThreads()
    first = run_and_wait(threads)
    wait_until_idle(threads, 1)
    assert run_and_wait(threads) == first
    assert threads.threads_started == 1


def test_a_busy_thread_never_delays_a_new_job() -> None:
    threads = ReusableThreads()
    hung = HungCall()
    threads.submit(hung, "hung")
    try:
        started = time.monotonic()
        run_and_wait(threads)
        assert time.monotonic() - started < 5
        assert threads.threads_started == 2
    finally:
        hung.release.set()
    wait_until_idle(threads, 2)


def test_a_job_that_raises_leaves_its_thread_serving() -> None:
    threads = ReusableThreads()

    def broken() -> None:
        raise RuntimeError("model fell over")

    threads.submit(broken, "broken")
    wait_until_idle(threads, 1)
    run_and_wait(threads)
    assert threads.threads_started == 1


def test_idle_threads_end_and_new_jobs_still_run() -> None:
    threads = ReusableThreads(idle_seconds=0.05)
    first = thread_of(run_and_wait(threads))
    first.join(5)
    assert not first.is_alive(), "an idle thread never ended"
    assert threads.idle_threads() == 0
    run_and_wait(threads)
    assert threads.threads_started == 2


def test_the_thread_carries_the_jobs_name() -> None:
    threads = ReusableThreads()
    names: list[str] = []
    done = threading.Event()

    def job() -> None:
        names.append(threading.current_thread().name)
        done.set()

    threads.submit(job, "embed-minilm")
    assert done.wait(5)
    assert names == ["embed-minilm"]


async def test_run_blocking_reuses_threads_across_calls() -> None:
    pool = shared_threads()
    ids = []
    started = []
    for _ in range(20):
        native = await run_blocking(threading.get_native_id, name="call")
        ids.append(native)
        # The thread goes back to idle just after it hands its result on.
        worker = thread_of(native)
        deadline = time.monotonic() + 5
        while worker.name != "voxgate-idle":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        started.append(pool.threads_started)
    assert len(set(started)) == 1  # no thread started after the first call
    assert len(set(ids)) == 1


def thread_of(native_id: int) -> threading.Thread:
    return next(t for t in threading.enumerate() if t.native_id == native_id)


def test_an_idle_thread_keeps_nothing_of_its_last_job() -> None:
    class Payload:
        """Stands for a large result a job's closure holds (audio, vectors)."""

    threads = ReusableThreads()
    payload = Payload()
    gone = threading.Event()
    done = threading.Event()
    tracker = weakref.finalize(payload, gone.set)

    def job(held: Payload = payload) -> None:
        done.set()

    threads.submit(job, "job")
    assert done.wait(5)
    wait_until_idle(threads, 1)
    del job, payload
    assert gone.wait(5), "the idle thread still holds the last job"
    assert not tracker.alive


def test_a_context_variable_set_by_a_job_does_not_reach_the_next() -> None:
    threads = ReusableThreads()
    seen: list[str | None] = []
    done = threading.Event()

    def setter() -> None:
        FIELD.set("from the first job")
        done.set()

    def reader() -> None:
        seen.append(FIELD.get())
        done.set()

    threads.submit(setter, "first")
    assert done.wait(5)
    wait_until_idle(threads, 1)
    done.clear()
    threads.submit(reader, "second")
    assert done.wait(5)
    assert threads.threads_started == 1  # the same thread ran both
    assert seen == [None]


FIELD: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_field", default=None)


def test_a_hung_job_counts_as_busy_until_it_ends() -> None:
    threads = ReusableThreads()
    hung = HungCall()
    threads.submit(hung, "hung")
    assert hung.started.wait(5)
    assert (threads.busy_threads(), threads.idle_threads()) == (1, 0)
    hung.release.set()
    wait_until_idle(threads, 1)
    assert threads.busy_threads() == 0


async def test_the_metrics_show_the_process_threads() -> None:
    """``voxgate_engine_threads`` reads the threads every engine shares: a call that hangs shows
    as busy there."""
    metrics = Metrics()
    hung = HungCall()
    call = asyncio.ensure_future(run_blocking(hung, name="hung"))
    try:
        assert await asyncio.to_thread(hung.started.wait, 5)
        busy = metrics.registry.get_sample_value("voxgate_engine_threads", {"state": "busy"})
        idle = metrics.registry.get_sample_value("voxgate_engine_threads", {"state": "idle"})
        assert busy is not None and busy >= 1
        assert idle is not None and idle >= 0
    finally:
        hung.release.set()
        await call


def test_counts_follow_threads_that_end() -> None:
    threads = ReusableThreads(idle_seconds=0.05)
    first = thread_of(run_and_wait(threads))
    first.join(5)
    assert (threads.busy_threads(), threads.idle_threads()) == (0, 0)
