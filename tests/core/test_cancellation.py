"""Stopping a background task: it ends, and neither its cancellation nor its error escapes."""

from __future__ import annotations

import asyncio

from core.cancellation import cancel_and_wait


async def test_a_running_task_is_cancelled_and_awaited() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(forever())
    await started.wait()
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_a_task_that_failed_does_not_raise() -> None:
    async def broken() -> None:
        raise RuntimeError("lost the connection")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.done()


async def test_no_task_is_nothing_to_do() -> None:
    await cancel_and_wait(None)
