"""Threads for blocking engine calls, kept for reuse instead of started per call.

Starting a thread is cheap on an idle machine, but on a loaded one the new thread waits for the
scheduler before it can run, and the caller waits for it to signal that it started; a request
that makes several blocking calls pays that several times (the README's ingestion figures show
it). A thread that waits on a queue wakes at once.

Unlike a fixed pool, a call never waits for a free thread: when every kept thread is busy (a
native call that hangs keeps its thread), a new one is started. Threads idle for
``IDLE_SECONDS`` end, so a burst leaves nothing behind.
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

#: How long a thread waits for more work before it ends.
IDLE_SECONDS = 60.0

_Job = tuple[Callable[[], None], str]


class ReusableThreads:
    """Runs each submitted job at once, on an idle kept thread or on a new one."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        #: Inboxes of the threads waiting for work, the most recently idle last (reused first,
        #: so the others reach their idle limit and end).
        self._idle: list[queue.SimpleQueue[_Job]] = []
        self._started = 0
        self._alive = 0

    @property
    def threads_started(self) -> int:
        return self._started

    def idle_threads(self) -> int:
        with self._lock:
            return len(self._idle)

    def busy_threads(self) -> int:
        """Threads running a job now; one whose native call hung stays busy."""
        with self._lock:
            return self._alive - len(self._idle)

    def submit(self, job: Callable[[], None], name: str) -> None:
        """Run ``job`` in a thread named ``name`` (shown by debuggers and profilers). A job
        should hand its own errors on; one that escapes is logged and the thread serves on."""
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                self._started += 1
                self._alive += 1
        if inbox is not None:
            inbox.put((job, name))
            return
        own: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        own.put((job, name))
        try:
            threading.Thread(target=self._serve, args=(own,), name=name, daemon=True).start()
        except BaseException:  # out of threads: the caller sees the error, as before
            with self._lock:
                self._alive -= 1
            raise

    def _serve(self, inbox: queue.SimpleQueue[_Job]) -> None:
        me = threading.current_thread()
        while True:
            try:
                job, name = inbox.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:
                        self._idle.remove(inbox)
                        self._alive -= 1
                        return
                # Taken by a caller just as the wait ended: its job is on the way.
                job, name = inbox.get()
            me.name = name
            try:
                # In a context of its own, as in a new thread: a context variable a job sets
                # (a log field, say) must not reach the next job on this thread.
                contextvars.Context().run(job)
            except BaseException:  # a thread that died here would leave its inbox in use
                log.exception("threads.job_failed", thread=name)
            # An idle thread must not keep the last job's closure (audio, vectors) alive.
            del job
            me.name = "voxgate-idle"
            with self._lock:
                self._idle.append(inbox)


_shared: ReusableThreads | None = None
_shared_lock = threading.Lock()
_fork_hook = False


def shared_threads() -> ReusableThreads:
    """The process's reusable threads, made on first use (a forked child starts afresh: its
    parent's threads do not exist there)."""
    global _shared, _fork_hook
    with _shared_lock:
        if _shared is None:
            _shared = ReusableThreads()
            if not _fork_hook:
                os.register_at_fork(after_in_child=_forget_shared)
                _fork_hook = True
        return _shared


def _forget_shared() -> None:
    global _shared, _shared_lock
    _shared = None
    _shared_lock = threading.Lock()
