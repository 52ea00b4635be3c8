"""Keeping an engine's worker process alive: restart with backoff, hang and stall detection.

The engine talks to its worker only through the supervisor. While the worker is down, requests
fail at once with ``EngineUnavailable`` (the router moves on to the next engine) instead of
waiting for a restart. A crash restarts the worker after a delay that doubles with each crash in
a row (up to ``max_backoff``) and starts again from ``initial_backoff`` once a worker has stayed
up for ``stable_after`` seconds.

Two kinds of stuck worker are told apart: one whose process no longer answers pings (frozen,
deadlocked: ``hung``) and one that answers but produces nothing for a request (``stalled``).
Both are killed and restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from core.engines.errors import EngineTimeout, EngineUnavailable
from core.workers.process import WorkerCommand, WorkerProcess
from core.workers.protocol import Message

log = structlog.get_logger(__name__)

#: Prepares a fresh worker (loads the model) and returns facts about it for status pages.
Setup = Callable[[WorkerProcess], Awaitable[Mapping[str, Any]]]
EventSink = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class RestartPolicy:
    #: Delay before the first restart after a crash.
    initial_backoff: float = 1.0
    #: Longest delay between restarts.
    max_backoff: float = 60.0
    #: A worker up this long counts as healthy: the next crash restarts after initial_backoff.
    stable_after: float = 60.0
    #: How often the worker is pinged.
    ping_interval: float = 5.0
    #: A worker that does not answer a ping within this is hung and is killed.
    ping_timeout: float = 20.0
    #: Longest wait for a request's next result from a live worker; None waits forever.
    stall_timeout: float | None = 300.0
    #: Time for the interpreter to start and greet (imports happen here).
    start_timeout: float = 120.0
    #: Time for ``setup`` (model loading) on each start.
    setup_timeout: float = 900.0
    #: How long a stopping worker may take to exit before it is killed.
    stop_grace: float = 5.0


class WorkerState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"


class WorkerSupervisor:
    def __init__(
        self,
        command: WorkerCommand,
        setup: Setup,
        policy: RestartPolicy | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        self.command = command
        self.policy = policy or RestartPolicy()
        self.state = WorkerState.STOPPED
        #: What ``setup`` reported about the running worker (device, model, ...).
        self.info: dict[str, Any] = {}
        self.restarts = 0
        self.crashes = 0
        self.last_exit: str | None = None
        self.last_output: str | None = None
        self.last_error: str | None = None
        #: The restart delays chosen so far, newest last.
        self.backoff_history: deque[float] = deque(maxlen=10)
        self._setup = setup
        self._on_event = on_event or (lambda _event, _fields: None)
        self._process: WorkerProcess | None = None
        self._ready_at: float | None = None
        self._delay: float | None = None
        self._next_attempt_at: float | None = None
        self._restart_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    @property
    def process(self) -> WorkerProcess | None:
        return self._process

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker and run setup; failures raise (no automatic retry on first start)."""
        if self.state is not WorkerState.STOPPED:
            return
        self.state = WorkerState.STARTING
        try:
            await self._spawn()
        except BaseException:
            self.state = WorkerState.STOPPED
            raise
        self.state = WorkerState.READY

    async def stop(self) -> None:
        """End the worker (and with it every byte of memory it held, GPU memory included)."""
        self.state = WorkerState.STOPPED
        for task in (self._restart_task, self._watch_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._restart_task = self._watch_task = None
        process, self._process = self._process, None
        if process is not None:
            await process.stop(self.policy.stop_grace)

    async def _spawn(self) -> None:
        process = WorkerProcess(self.command, on_exit=self._exited)
        await process.start(self.policy.start_timeout)
        try:
            info = await asyncio.wait_for(self._setup(process), self.policy.setup_timeout)
        except BaseException as exc:
            process.kill("setup failed")
            await process.stop(0)
            if isinstance(exc, TimeoutError):
                raise EngineUnavailable(
                    f"worker {self.command.name!r} setup took over {self.policy.setup_timeout}s"
                ) from exc
            raise
        self.info = dict(info)
        self._process = process
        self._ready_at = time.monotonic()
        self._watch_task = asyncio.create_task(
            self._watch(process), name=f"worker-watch:{self.command.name}"
        )

    def _exited(self, process: WorkerProcess) -> None:
        if process is not self._process or self.state is WorkerState.STOPPED:
            return
        self._process = None
        if self._watch_task is not None and self._watch_task is not asyncio.current_task():
            self._watch_task.cancel()
        self._watch_task = None
        self.crashes += 1
        self.last_exit = process.describe_exit()
        self.last_output = process.last_output() or None
        up_for = time.monotonic() - (self._ready_at or time.monotonic())
        if self._delay is None or up_for >= self.policy.stable_after:
            delay = self.policy.initial_backoff
        else:
            delay = min(self._delay * 2, self.policy.max_backoff)
        self._schedule_restart(delay)
        fields = {
            "worker": self.command.name,
            "pid": process.pid,
            "exit": self.last_exit,
            "restart_in": delay,
        }
        log.warning("worker.crashed", **fields, output=self.last_output)
        self._on_event("worker.crashed", fields)

    def _schedule_restart(self, delay: float) -> None:
        self._delay = delay
        self.backoff_history.append(delay)
        self.state = WorkerState.RESTARTING
        self._next_attempt_at = time.monotonic() + delay
        self._restart_task = asyncio.create_task(
            self._restart_after(delay), name=f"worker-restart:{self.command.name}"
        )

    async def _restart_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self.state is not WorkerState.RESTARTING:
            return
        try:
            await self._spawn()
        except Exception as exc:
            self.last_error = str(exc)
            log.warning("worker.restart_failed", worker=self.command.name, error=self.last_error)
            if self.state is WorkerState.RESTARTING:
                self._schedule_restart(min(delay * 2, self.policy.max_backoff))
            return
        if self.state is not WorkerState.RESTARTING:  # stopped while starting
            process, self._process = self._process, None
            if process is not None:
                await process.stop(0)
            return
        self.restarts += 1
        self.last_error = None
        self._next_attempt_at = None
        self.state = WorkerState.READY
        log.info("worker.restarted", worker=self.command.name, restarts=self.restarts)
        self._on_event("worker.restarted", {"worker": self.command.name, "restarts": self.restarts})

    async def _watch(self, process: WorkerProcess) -> None:
        """Ping the worker; one that cannot answer within ping_timeout is killed as hung."""
        while process.alive:
            await asyncio.sleep(self.policy.ping_interval)
            if not process.alive:
                return
            try:
                await process.ping(self.policy.ping_timeout)
            except TimeoutError:
                log.warning(
                    "worker.hung",
                    worker=self.command.name,
                    pid=process.pid,
                    ping_timeout=self.policy.ping_timeout,
                )
                process.kill("hung")
                return
            except EngineUnavailable:
                return

    # -- requests ----------------------------------------------------------------------------

    def _ready_process(self) -> WorkerProcess:
        process = self._process
        if self.state is WorkerState.READY and process is not None and process.alive:
            return process
        if self.state is WorkerState.RESTARTING:
            wait = max((self._next_attempt_at or time.monotonic()) - time.monotonic(), 0.0)
            raise EngineUnavailable(
                f"worker {self.command.name!r} is restarting after it {self.last_exit}"
                f" (next attempt in {wait:.1f}s)"
            )
        raise EngineUnavailable(f"worker {self.command.name!r} is {self.state.value}")

    def _stalled(self, process: WorkerProcess) -> EngineTimeout:
        seconds = self.policy.stall_timeout
        log.warning("worker.stalled", worker=self.command.name, pid=process.pid, seconds=seconds)
        process.kill("stalled")
        return EngineTimeout(
            f"worker {self.command.name!r} produced nothing for {seconds}s; it is being restarted"
        )

    async def call(self, method: str, params: Mapping[str, Any], payload: bytes = b"") -> Message:
        process = self._ready_process()
        try:
            return await asyncio.wait_for(
                process.call(method, params, payload), self.policy.stall_timeout
            )
        except TimeoutError:
            raise self._stalled(process) from None

    async def stream(
        self, method: str, params: Mapping[str, Any], payload: bytes = b""
    ) -> AsyncIterator[Message]:
        process = self._ready_process()
        messages = process.stream(method, params, payload, item_timeout=self.policy.stall_timeout)
        try:
            async for message in messages:
                yield message
        except TimeoutError:
            raise self._stalled(process) from None
        finally:
            await messages.aclose()

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        process = self._process
        now = time.monotonic()
        next_in = (
            round(max(self._next_attempt_at - now, 0.0), 3)
            if self.state is WorkerState.RESTARTING and self._next_attempt_at is not None
            else None
        )
        return {
            "state": self.state.value,
            "pid": process.pid if process is not None else None,
            "python": str(self.command.python),
            "uptime_seconds": round(now - self._ready_at, 1)
            if process is not None and self._ready_at is not None
            else None,
            "restarts": self.restarts,
            "crashes": self.crashes,
            "last_exit": self.last_exit,
            "last_output": self.last_output,
            "last_error": self.last_error,
            "next_restart_in": next_in,
            "backoff_history": list(self.backoff_history),
        }
