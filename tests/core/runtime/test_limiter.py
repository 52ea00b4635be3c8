"""The resizable concurrency limit: first come first served, new limits apply at once."""

from __future__ import annotations

import asyncio

import pytest

from core.runtime.limiter import Limiter


async def test_waiters_enter_in_order_and_raising_the_limit_lets_them_in() -> None:
    limiter = Limiter(1)
    await limiter.acquire()
    order: list[int] = []

    async def enter(number: int) -> None:
        await limiter.acquire()
        order.append(number)

    waiters = [asyncio.create_task(enter(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    assert order == [] and limiter.waiting == 3
    limiter.set_limit(3)  # two more may run now, in arrival order
    await asyncio.sleep(0.01)
    assert order == [0, 1]
    limiter.release()
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2] and limiter.held == 3


async def test_lowering_the_limit_admits_nobody_until_under_it() -> None:
    limiter = Limiter(3)
    for _ in range(3):
        await limiter.acquire()
    limiter.set_limit(1)
    waiter = asyncio.create_task(limiter.acquire())
    limiter.release()
    limiter.release()
    await asyncio.sleep(0.01)
    assert not waiter.done()  # 1 held, limit 1
    limiter.release()
    await asyncio.wait_for(waiter, 1)
    assert limiter.held == 1


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    limiter = Limiter(1)
    await limiter.acquire()
    first = asyncio.create_task(limiter.acquire())
    second = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    limiter.release()
    await asyncio.wait_for(second, 1)
    assert limiter.held == 1 and limiter.waiting == 0
