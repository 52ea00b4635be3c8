"""Supervision of a real worker: restart with backoff after crashes, hangs and stalls; stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.engines.errors import EngineTimeout, EngineUnavailable
from core.workers.process import WorkerCommand, WorkerDied, WorkerProcess
from core.workers.supervisor import (
    EventSink,
    RestartPolicy,
    Setup,
    WorkerState,
    WorkerSupervisor,
)

HANDLER = f"{Path(__file__).with_name('handlers.py')}:create"
FAST = RestartPolicy(
    initial_backoff=0.05,
    max_backoff=0.2,
    stable_after=3600,
    ping_interval=0.2,
    ping_timeout=1.0,
    stall_timeout=1.0,
    start_timeout=60,
    setup_timeout=60,
)


async def load(process: WorkerProcess) -> Mapping[str, Any]:
    reply = await process.call("load", {"model": "tiny"})
    return dict(reply.header["value"])


def new_supervisor(
    policy: RestartPolicy = FAST, setup: Setup = load, on_event: EventSink | None = None
) -> WorkerSupervisor:
    command = WorkerCommand(name="sup", python=Path(sys.executable), handler=HANDLER)
    return WorkerSupervisor(command, setup, policy, on_event)


@contextlib.asynccontextmanager
async def started(sup: WorkerSupervisor) -> AsyncIterator[WorkerSupervisor]:
    await sup.start()
    try:
        yield sup
    finally:
        await sup.stop()


@pytest.fixture
async def supervisor() -> AsyncIterator[WorkerSupervisor]:
    events: list[str] = []
    sup = new_supervisor(on_event=lambda event, _fields: events.append(event))
    sup.events = events  # type: ignore[attr-defined]
    async with started(sup):
        yield sup


async def wait_for_state(sup: WorkerSupervisor, state: WorkerState, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while sup.state is not state:
            await asyncio.sleep(0.02)


async def wait_for_restarts(sup: WorkerSupervisor, count: int, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while sup.restarts < count or sup.state is not WorkerState.READY:
            await asyncio.sleep(0.02)


async def crash(sup: WorkerSupervisor) -> None:
    with pytest.raises(WorkerDied):
        await sup.call("crash", {"code": 9})


async def test_setup_runs_on_start_and_reports_info(supervisor: WorkerSupervisor) -> None:
    assert supervisor.state is WorkerState.READY
    assert supervisor.info["loaded"] == {"model": "tiny"}
    status = supervisor.status()
    assert status["pid"] == supervisor.info["pid"]
    assert status["restarts"] == 0


async def test_a_crash_restarts_the_worker_and_runs_setup_again(
    supervisor: WorkerSupervisor,
) -> None:
    old_pid = supervisor.status()["pid"]
    await crash(supervisor)
    # Until the new worker is ready, requests fail at once (so the router falls back).
    assert supervisor.state is WorkerState.RESTARTING
    with pytest.raises(EngineUnavailable, match="restarting after it exited with code 9"):
        await supervisor.call("echo", {})
    await wait_for_state(supervisor, WorkerState.READY)
    status = supervisor.status()
    assert status["restarts"] == 1 and status["crashes"] == 1
    assert status["pid"] != old_pid
    assert status["last_exit"] == "exited with code 9"
    assert "about to crash" in (status["last_output"] or "")
    assert supervisor.info["loaded"] == {"model": "tiny"}
    assert (await supervisor.call("echo", {}, b"ab")).payload == b"ba"
    assert supervisor.events == ["worker.crashed", "worker.restarted"]  # type: ignore[attr-defined]


async def test_crashes_in_a_row_double_the_backoff_up_to_the_limit(
    supervisor: WorkerSupervisor,
) -> None:
    for _ in range(4):
        await crash(supervisor)
        await wait_for_state(supervisor, WorkerState.READY)
    assert list(supervisor.backoff_history) == [0.05, 0.1, 0.2, 0.2]


async def test_a_worker_that_stayed_up_restarts_after_the_initial_backoff() -> None:
    async with started(new_supervisor(replace(FAST, stable_after=0.0))) as sup:
        for _ in range(3):
            await crash(sup)
            await wait_for_state(sup, WorkerState.READY)
        assert list(sup.backoff_history) == [0.05, 0.05, 0.05]


async def test_a_frozen_worker_is_killed_as_hung_and_restarted() -> None:
    # Only the pings can notice: the request itself would wait far longer.
    async with started(new_supervisor(replace(FAST, stall_timeout=120.0))) as sup:
        old_pid = sup.status()["pid"]
        with pytest.raises(WorkerDied, match="hung"):
            await sup.call("freeze", {})
        await wait_for_restarts(sup, 1)
        assert sup.status()["pid"] != old_pid
        assert sup.status()["last_exit"] == "ended by the daemon (hung)"


async def test_a_request_that_stalls_times_out_and_the_worker_restarts(
    supervisor: WorkerSupervisor,
) -> None:
    with pytest.raises(EngineTimeout, match="produced nothing"):
        await supervisor.call("sleep", {"seconds": 60})
    await wait_for_restarts(supervisor, 1)
    assert supervisor.status()["last_exit"] == "ended by the daemon (stalled)"


async def test_a_stalled_stream_times_out(supervisor: WorkerSupervisor) -> None:
    with pytest.raises(EngineTimeout):
        async for _ in supervisor.stream("count", {"n": 3, "delay": 30}):
            pass
    await wait_for_restarts(supervisor, 1)


async def test_failing_setup_fails_start_and_leaves_no_process() -> None:
    async def failing(process: WorkerProcess) -> Mapping[str, Any]:
        await process.call("load", {"fail": True})
        return {}

    sup = new_supervisor(setup=failing)
    with pytest.raises(EngineUnavailable, match="model file missing"):
        await sup.start()
    assert sup.state is WorkerState.STOPPED
    assert sup.process is None


async def test_stop_ends_the_worker_and_cancels_a_pending_restart(
    supervisor: WorkerSupervisor,
) -> None:
    pid = supervisor.status()["pid"]
    await supervisor.stop()
    assert supervisor.state is WorkerState.STOPPED
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # A stopped supervisor refuses requests and does not restart anything.
    with pytest.raises(EngineUnavailable, match="stopped"):
        await supervisor.call("echo", {})


async def test_stopping_while_restarting_leaves_nothing_running(
    supervisor: WorkerSupervisor,
) -> None:
    policy_pid = supervisor.status()["pid"]
    os.kill(policy_pid, signal.SIGKILL)
    await wait_for_state(supervisor, WorkerState.RESTARTING)
    await supervisor.stop()
    await asyncio.sleep(0.3)  # longer than the backoff: a restart would have happened
    assert supervisor.state is WorkerState.STOPPED
    assert supervisor.process is None
