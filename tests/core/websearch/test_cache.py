"""The answer cache: entries expire, the least recently used go first, a ttl of 0 keeps none."""

from __future__ import annotations

from core.websearch.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(30, 10, clock)
    cache.put("herons", 1)
    clock.now += 29
    assert cache.get("herons") == 1
    clock.now += 1
    assert cache.get("herons") is None and len(cache) == 0


def test_the_least_recently_used_goes_first() -> None:
    cache: TTLCache[str, int] = TTLCache(30, 2, Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # b is now the oldest
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_zero_ttl_keeps_nothing() -> None:
    cache: TTLCache[str, int] = TTLCache(0, 10, Clock())
    cache.put("a", 1)
    assert cache.get("a") is None
