"""ThreadedIterator: items arrive as they are made, closing stops the thread between items, and
a cancelled close still waits until the model is free."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from core.engines import threaded
from core.engines.threaded import ThreadedIterator


class SlowModel:
    """A blocking generator that records whether it is in use (like a llama.cpp context)."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.busy = threading.Event()
        self.produced = 0

    def generate(self) -> Iterator[int]:
        for number in range(1000):
            self.busy.set()
            time.sleep(self.step)  # one token's worth of work
            self.busy.clear()
            self.produced += 1
            yield number


async def test_items_arrive_in_order_and_errors_are_raised() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("model fell over")

    items = ThreadedIterator(lambda: iter([1, 2, 3]), name="t")
    assert [item async for item in items] == [1, 2, 3]
    failing = ThreadedIterator(broken, name="t")
    assert await anext(failing) == 1
    with pytest.raises(ValueError, match="fell over"):
        await anext(failing)


async def test_close_stops_the_thread_between_items() -> None:
    model = SlowModel(0.02)
    items = ThreadedIterator(model.generate, name="t")
    assert await anext(items) == 0
    await items.aclose()
    assert not model.busy.is_set()
    produced = model.produced
    await asyncio.sleep(0.1)
    assert model.produced == produced  # nothing more was generated
    with pytest.raises(StopAsyncIteration):
        await anext(items)


async def test_a_cancelled_close_still_waits_for_the_model() -> None:
    model = SlowModel(0.3)
    items = ThreadedIterator(model.generate, name="t")
    assert await anext(items) == 0
    while not model.busy.is_set():  # the thread is inside the next step
        await asyncio.sleep(0.005)

    closing = asyncio.create_task(items.aclose())
    await asyncio.sleep(0.01)
    closing.cancel()  # the client hung up while the engine was winding down
    with pytest.raises(asyncio.CancelledError):
        await closing
    # Only now may the engine's slot be given to the next request: the model is free.
    assert not model.busy.is_set()


def timed_items(started: list[float]) -> Iterator[int]:
    """Three items; records when the work for each one starts."""
    for number in range(3):
        started.append(time.perf_counter())
        yield number


async def all_started(started: list[float]) -> bool:
    """Whether the producer gets to its last item within a few seconds, nobody asking."""
    for _ in range(500):
        if len(started) == 3:
            return True
        await asyncio.sleep(0.01)
    return False


def producer(started: list[float], *, first_item_waits: bool) -> ThreadedIterator[int]:
    return ThreadedIterator(
        lambda: timed_items(started), name="t", first_item_waits=first_item_waits
    )


@pytest.fixture
async def patient(monkeypatch: pytest.MonkeyPatch) -> tuple[ThreadedIterator[int], list[float]]:
    """A first_item_waits producer whose wait outlasts any test (30 s instead of 50 ms)."""
    monkeypatch.setattr(threaded, "_FIRST_ITEM_WAIT_SECONDS", 30.0)
    started: list[float] = []
    return producer(started, first_item_waits=True), started


async def test_first_item_waits_holds_the_producer_until_the_consumer_is_done(
    patient: tuple[ThreadedIterator[int], list[float]],
) -> None:
    items, started = patient
    assert await anext(items) == 0
    await asyncio.sleep(0.1)  # sending the first item on
    assert len(started) == 1, "the producer should wait for the consumer"
    assert [item async for item in items] == [1, 2]


async def test_without_first_item_waits_the_producer_runs_ahead() -> None:
    started: list[float] = []
    items = producer(started, first_item_waits=False)
    assert await anext(items) == 0
    assert await all_started(started)
    assert [item async for item in items] == [1, 2]


async def test_first_item_waits_is_bounded() -> None:
    started: list[float] = []
    items = producer(started, first_item_waits=True)
    assert await anext(items) == 0
    assert await all_started(started), "after its bounded wait the producer goes on alone"
    await items.aclose()


async def test_closing_releases_a_producer_waiting_after_the_first_item(
    patient: tuple[ThreadedIterator[int], list[float]],
) -> None:
    items, started = patient
    assert await anext(items) == 0
    await asyncio.wait_for(items.aclose(), 10)  # would sit out the 30 s wait otherwise
    assert len(started) == 1
