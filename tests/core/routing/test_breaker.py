"""Circuit breaker state machine, driven by a controllable clock."""

from __future__ import annotations

from core.config.schema import BreakerPolicy
from core.routing.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(failures: int = 3, cooldown: float = 10, max_cooldown: float = 40):  # type: ignore[no-untyped-def]
    clock = Clock()
    policy = BreakerPolicy(failures=failures, cooldown=cooldown, max_cooldown=max_cooldown)
    return CircuitBreaker(policy, clock), clock


def test_opens_after_consecutive_failures() -> None:
    breaker, _ = make()
    assert not breaker.record_failure()
    assert not breaker.record_failure()
    assert breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.trips == 1


def test_success_resets_the_count() -> None:
    breaker, _ = make()
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    assert not breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_allows_exactly_one_probe_then_closes_on_success() -> None:
    breaker, clock = make(failures=1)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # the probe is in flight
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()


def test_failed_probe_reopens_with_doubled_cooldown_up_to_max() -> None:
    breaker, clock = make(failures=1, cooldown=10, max_cooldown=25)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in == 20
    clock.now += 20
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.retry_in == 25


def test_retry_after_holds_it_open_at_once() -> None:
    breaker, clock = make(failures=5, cooldown=1)
    assert breaker.record_failure(retry_after=30)
    assert breaker.retry_in == 30
    clock.now += 29
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_release_frees_a_probe_without_a_verdict() -> None:
    breaker, clock = make(failures=1)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()
