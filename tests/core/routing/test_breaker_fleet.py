"""The breaker's side of a fleet: its changes are reported once, and news from other daemons
(hold open, close) is applied without being reported back."""

from __future__ import annotations

from core.config.schema import BreakerPolicy
from core.routing.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[CircuitBreaker, Clock, list[float]]:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(failures=2, cooldown=10, max_cooldown=40), clock)
    heard: list[float] = []
    breaker.on_change = heard.append
    return breaker, clock, heard


def test_opening_and_closing_are_reported() -> None:
    breaker, _, heard = make()
    breaker.record_failure()
    assert heard == []
    breaker.record_failure()
    assert heard == [10.0]
    breaker.record_success()  # an in-flight request came back fine
    assert heard == [10.0, 0.0]
    breaker.record_success()  # already closed: nothing new to say
    assert heard == [10.0, 0.0]


def test_a_failed_probe_reports_the_doubled_cooldown() -> None:
    breaker, clock, heard = make()
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert heard == [10.0, 20.0]


def test_fleet_news_opens_and_closes_without_echo() -> None:
    breaker, _, heard = make()
    assert breaker.hold_open(15)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.retry_in == 15
    assert not breaker.hold_open(5)  # already open for longer
    assert breaker.retry_in == 15
    breaker.close_from_fleet()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    assert heard == []


def test_fleet_news_is_capped_by_max_cooldown() -> None:
    breaker, _, _ = make()
    breaker.hold_open(3600)
    assert breaker.retry_in == 40


def test_a_local_probe_after_fleet_news_closes_and_reports() -> None:
    breaker, clock, heard = make()
    breaker.hold_open(10)
    clock.now += 10
    assert breaker.allow()  # this daemon's own probe
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert heard == [0.0]
