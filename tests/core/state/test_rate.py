"""Rate settings and the GCRA arithmetic both state backends use, on a controlled clock."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.config.schema import EnginePolicy
from core.state.memory import RateBuckets
from core.state.rate import Rate, gcra, parse_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [
        ("10/s", 10, 1),
        ("600/min", 600, 60),
        ("5/10s", 5, 10),
        ("1000 / h", 1000, 3600),
        ("2/minutes", 2, 60),
        ("3/h", 3, 3600),
        ("0.5/s", 0.5, 1),
        ("20000/day", 20000, 86400),
    ],
)
def test_rates_parse(text: str, count: float, period: float) -> None:
    assert parse_rate(text) == Rate(count, period)


@pytest.mark.parametrize("text", ["10", "ten/s", "10/fortnight", "0/s", "-1/s", "10/0s", ""])
def test_bad_rates_are_config_errors(text: str) -> None:
    with pytest.raises(ValidationError, match="rate"):
        EnginePolicy(rate_limit=text)


def test_a_rate_round_trips_through_its_text() -> None:
    policy = EnginePolicy(rate_limit="5/10s")
    assert policy.model_dump(mode="json")["rate_limit"] == "5/10s"
    assert EnginePolicy(rate_limit=str(policy.rate_limit)).rate_limit == policy.rate_limit
    assert [str(parse_rate(t)) for t in ("10/s", "600/min", "3/h", "2/day")] == [
        "10/s",
        "600/min",
        "3/h",
        "2/day",
    ]


def test_gcra_admits_a_burst_then_one_per_interval() -> None:
    rate = Rate(4, 1)  # burst 4, then one every 0.25 s
    tat, now = 0.0, 10.0
    for _ in range(4):
        tat, wait = gcra(tat, now, rate)
        assert wait == 0
    tat, wait = gcra(tat, now, rate)
    assert wait == pytest.approx(0.25)
    tat, wait = gcra(tat, now + 0.25, rate)
    assert wait == 0
    tat, wait = gcra(tat, now + 0.25, rate)
    assert wait == pytest.approx(0.25)


def test_buckets_are_per_key_and_refill() -> None:
    clock = Clock()
    buckets = RateBuckets(clock)
    rate = Rate(2, 1)
    assert buckets.take("a", rate) == 0
    assert buckets.take("a", rate) == 0
    assert buckets.take("a", rate) == pytest.approx(0.5)
    assert buckets.take("b", rate) == 0  # another key has its own bucket
    clock.now += 1.0
    assert buckets.take("a", rate) == 0
    assert buckets.take("a", rate) == 0
    assert buckets.take("a", rate) > 0


def test_full_buckets_are_swept_so_many_keys_cannot_grow_memory() -> None:
    clock = Clock()
    buckets = RateBuckets(clock)
    rate = Rate(10, 1)
    for index in range(10_000):
        buckets.take(f"k{index}", rate)
    clock.now += 5  # every bucket has refilled
    buckets.take("one-more", rate)
    assert len(buckets) == 1
