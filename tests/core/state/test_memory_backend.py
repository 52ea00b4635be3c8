"""The in-process backend (the default): everything stays in this daemon, bounded."""

from __future__ import annotations

from core.engines.llm import ChatMessage
from core.state.backend import BreakerNews, HistoryLimits
from core.state.memory import MemoryBackend
from core.state.rate import Rate


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_conversations_are_bounded_and_expire() -> None:
    clock = Clock()
    state = MemoryBackend(clock)
    turn = [ChatMessage("user", "hi"), ChatMessage("assistant", "hello")]
    for name in ("c1", "c2", "c3"):
        await state.remember(name, turn, HistoryLimits(3, 2, 60))
    assert await state.history("c1", 60) == []  # the least recently used was forgotten
    assert await state.history("c3", 60) == turn
    await state.remember("c3", turn, HistoryLimits(3, 2, 60))
    assert await state.history("c3", 60) == [turn[1], *turn]  # the newest three
    clock.now += 61
    assert await state.history("c3", 60) == []


async def test_limits_and_the_fleet_calls_stay_local() -> None:
    clock = Clock()
    state = MemoryBackend(clock)
    assert await state.take("k", Rate(1, 10)) == 0
    assert await state.take("k", Rate(1, 10)) == 10
    state.publish_breaker(BreakerNews("chat", "f", 30))  # nobody to tell
    assert state.status() == {"backend": "memory", "state": "local"}
    assert await state.reload_fleet(1.0) == {
        "backend": "memory",
        "reached": 0,
        "daemons": {},
        "pending": 0,
    }


async def test_places_are_counted_per_key_and_given_back() -> None:
    state = MemoryBackend()
    first = await state.take_place("engine:chat", 2)
    second = await state.take_place("engine:chat", 2)
    assert first and second and first != second
    assert await state.take_place("engine:chat", 2) is None  # both places held
    assert await state.take_place("engine:other", 1) is not None  # another key, its own places
    state.give_back("engine:chat", first)
    state.give_back("engine:chat", first)  # twice is harmless
    assert await state.take_place("engine:chat", 2) is not None
    assert await state.take_place("engine:chat", 2) is None
